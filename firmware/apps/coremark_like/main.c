/* coremark_like: npuemu's own store/branch-heavy kernel mix in the spirit of EEMBC CoreMark
 * (which is in no package registry we can reach), NOT CoreMark and not comparable to its scores.
 *
 * One iteration runs the four kinds of work CoreMark times, on data rebuilt from fixed seeds:
 *   - list:   a linked list of 64 nodes, reversed, searched and merge-sorted (pointer chasing);
 *   - matrix: 16x16 int16 matrices: add a constant, multiply by a constant, by a vector and by
 *             a matrix, with bit extraction of the products (multiply/accumulate, strided stores);
 *   - state:  a byte-wise state machine classifying numbers in a text buffer (branchy);
 *   - crc:    CRC-16 over every kernel's results (shifts and branches).
 * Every iteration must give the same CRC (the data is rebuilt each time); the firmware prints it
 * and fails if an iteration disagrees.  The kernels are plain C: a host build gives the same CRC
 * (tests/platform/test_coremark_like.py checks it against QEMU and the host).
 *
 * `coremark_iterations` is a variable in .data so a benchmark can patch the ELF (bench_hart.py
 * runs it with N and with 0 iterations, so start-up cancels out).
 */
#ifdef HOST_BUILD
#include <stdint.h>
#include <stdio.h>
#define XLEN 64
#else
#include "sdk.h"
#endif

volatile uint32_t coremark_iterations = 200;

/* ---- CRC-16 (CCITT, as CoreMark's crcu16 idea: fold every result in) ---------------------- */
static uint16_t crc16(uint16_t crc, uint32_t value, int bytes)
{
    for (int b = 0; b < bytes; b++) {
        crc ^= (uint16_t)((value >> (8 * b)) & 0xff) << 8;
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* ---- list ------------------------------------------------------------------------------------ */
#define LIST_N 64
struct node {
    struct node *next;
    int16_t key;
    int16_t data;
};
static struct node nodes[LIST_N];

static struct node *list_build(uint32_t seed)
{
    struct node *head = 0;
    for (int i = 0; i < LIST_N; i++) {
        seed = seed * 1103515245u + 12345u;
        nodes[i].key = (int16_t)((seed >> 16) & 0x7fff);
        nodes[i].data = (int16_t)i;
        nodes[i].next = head;
        head = &nodes[i];
    }
    return head;
}

static struct node *list_reverse(struct node *head)
{
    struct node *prev = 0;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}

static struct node *list_merge_sort(struct node *head)
{
    /* bottom-up merge sort on `key`, as CoreMark's core_list_mergesort */
    for (int width = 1;; width *= 2) {
        struct node *p = head, *tail = 0;
        int merges = 0;
        head = 0;
        while (p) {
            merges++;
            struct node *q = p;
            int psize = 0;
            for (int i = 0; i < width && q; i++) {
                psize++;
                q = q->next;
            }
            int qsize = width;
            while (psize > 0 || (qsize > 0 && q)) {
                struct node *e;
                if (psize == 0) {
                    e = q; q = q->next; qsize--;
                } else if (qsize == 0 || !q || p->key <= q->key) {
                    e = p; p = p->next; psize--;
                } else {
                    e = q; q = q->next; qsize--;
                }
                if (tail)
                    tail->next = e;
                else
                    head = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1)
            return head;
    }
}

static uint16_t list_kernel(uint16_t crc)
{
    struct node *head = list_reverse(list_build(0x1234));
    int found = 0;
    for (int k = 0; k < 16; k++) {  /* searches by data, as core_list_find */
        for (struct node *n = head; n; n = n->next)
            if (n->data == (k * 5) % LIST_N) {
                found += n->key & 0xff;
                break;
            }
    }
    head = list_merge_sort(head);
    for (struct node *n = head; n; n = n->next)
        crc = crc16(crc, (uint16_t)n->key, 2);
    return crc16(crc, (uint32_t)found, 4);
}

/* ---- matrix ---------------------------------------------------------------------------------- */
#define MAT_N 16
static int16_t ma[MAT_N][MAT_N], mb[MAT_N][MAT_N];
static int32_t mc[MAT_N][MAT_N];

static uint16_t matrix_kernel(uint16_t crc)
{
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            ma[i][j] = (int16_t)((i * 31 + j * 17) % 255 - 127);
            mb[i][j] = (int16_t)((i * 13 + j * 7) % 127 - 63);
        }
    for (int i = 0; i < MAT_N; i++)  /* add a constant */
        for (int j = 0; j < MAT_N; j++)
            ma[i][j] = (int16_t)(ma[i][j] + 3);
    for (int i = 0; i < MAT_N; i++)  /* times a constant */
        for (int j = 0; j < MAT_N; j++)
            mc[i][j] = ma[i][j] * 7;
    for (int i = 0; i < MAT_N; i++) {  /* times a vector */
        int32_t acc = 0;
        for (int j = 0; j < MAT_N; j++)
            acc += ma[i][j] * mb[0][j];
        mc[i][0] ^= acc;
    }
    for (int i = 0; i < MAT_N; i++)  /* times a matrix, bit extraction of the products */
        for (int j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < MAT_N; k++) {
                int32_t prod = ma[i][k] * mb[k][j];
                acc += (prod >> 2) & 0x0fff;
            }
            mc[i][j] += acc;
        }
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++)
            crc = crc16(crc, (uint32_t)mc[i][j], 2);
    return crc;
}

/* ---- state machine --------------------------------------------------------------------------- */
enum state { START, INT, FLOAT, EXP, SCI, INVALID, NSTATES };
#define TEXT_N 256
static char text[TEXT_N];

static void text_build(uint32_t seed)
{
    static const char *const words[] = {"5012", "1.23", "-874", "+122", "7.5e-3", "1e+9", "T0.3e-1F",
                                        "-.1", "35.54400", "0.0", "-110.700", "+0.64400", "5.500e+3",
                                        "-.123e-2", "-87e+832", "+0.6e-12"};
    int pos = 0;
    while (pos < TEXT_N - 12) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) & 15];
        while (*w)
            text[pos++] = *w++;
        text[pos++] = ',';
    }
    while (pos < TEXT_N)
        text[pos++] = 0;
}

static enum state next_state(enum state s, char c)
{
    int digit = c >= '0' && c <= '9';
    switch (s) {
    case START:
        if (digit) return INT;
        if (c == '+' || c == '-') return INT;
        if (c == '.') return FLOAT;
        return INVALID;
    case INT:
        if (digit) return INT;
        if (c == '.') return FLOAT;
        if (c == 'e' || c == 'E') return EXP;
        return INVALID;
    case FLOAT:
        if (digit) return FLOAT;
        if (c == 'e' || c == 'E') return EXP;
        return INVALID;
    case EXP:
        if (c == '+' || c == '-' || digit) return SCI;
        return INVALID;
    case SCI:
        return digit ? SCI : INVALID;
    default:
        return INVALID;
    }
}

static uint16_t state_kernel(uint16_t crc)
{
    uint32_t finals[NSTATES] = {0}, transitions[NSTATES] = {0};
    text_build(0xbeef);
    enum state s = START;
    for (int i = 0; i < TEXT_N && text[i]; i++) {
        if (text[i] == ',') {
            finals[s]++;
            s = START;
            continue;
        }
        enum state n = next_state(s, text[i]);
        if (n != s)
            transitions[n]++;
        s = n;
    }
    for (int k = 0; k < NSTATES; k++) {
        crc = crc16(crc, finals[k], 4);
        crc = crc16(crc, transitions[k], 4);
    }
    return crc;
}

static uint16_t iteration(void)
{
    uint16_t crc = 0;
    crc = list_kernel(crc);
    crc = matrix_kernel(crc);
    crc = state_kernel(crc);
    return crc;
}

int main(void)
{
    uint32_t n = coremark_iterations;
    uint16_t first = 0;
    printf("coremark_like: rv%d, %u iterations (npuemu's own kernel mix, not EEMBC CoreMark)\n", XLEN,
           (unsigned)n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t crc = iteration();
        if (i == 0)
            first = crc;
        else if (crc != first) {
            printf("coremark_like: iteration %u gave crc 0x%04x, iteration 0 gave 0x%04x\n", (unsigned)i,
                   (unsigned)crc, (unsigned)first);
            return 1;
        }
    }
    printf("coremark_like: crc 0x%04x\n", (unsigned)first);
    return 0;
}
