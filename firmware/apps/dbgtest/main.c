/* dbgtest: the debugger's DWARF test subject, built at -O0 (this app) and -O2 (dbgtest_o2).
 *
 * One of each thing a source-level debugger must show: base types, a struct, a union, an enum,
 * an array, bitfields, a pointer to a struct, a linked list, typedefs and qualifiers, a static
 * inline function GCC inlines, a recursive function, a void function and a function returning a
 * struct.  tests/debugger/test_dwarf_vs_gdb.py runs the same session here and in gdb-multiarch on
 * QEMU and compares them line by line; the BREAK_* comments mark the lines it stops at.
 */
#include "sdk.h"

enum color { RED, GREEN = 5, BLUE };

struct point {
    int x;
    short y;
    unsigned char tag;
};

union word {
    unsigned int u;
    unsigned char bytes[4];
};

struct flags {
    unsigned int ready : 1;
    unsigned int mode : 3;
    int level : 4;
    unsigned int rest : 24;
};

struct node {
    int val;
    struct node *next;
};

typedef struct shape {
    struct point origin;
    enum color color;
    union word w;
    struct flags f;
    int arr[5];
    char name[8];
    const volatile int *cvp;
} shape_t;

/* FreeRTOS-style task control block: on rv32 every pointer into RAM is above 0x80000000. */
typedef struct tskTaskControlBlock {
    volatile unsigned int *pxTopOfStack;
    unsigned int uxPriority;
    char pcTaskName[12];
    struct tskTaskControlBlock *pxNext;
} TCB_t;

static unsigned int idle_stack[4] = {1, 2, 3, 4};
TCB_t idle_tcb = {&idle_stack[3], 0, "IDLE", 0};
TCB_t main_tcb = {&idle_stack[1], 2, "main", &idle_tcb};
TCB_t *volatile pxCurrentTCB = &main_tcb;

struct node nodes[3];
shape_t global_shape;
const int limits[4] = {-1, 0, 7, 100};
volatile long long big = -5000000000LL;
double ratio = 0.5;

/* The static inline function GCC inlines (at -O0 too, as always_inline asks). */
static inline __attribute__((always_inline)) int square(int v)
{
    int sq = v * v;   /* BREAK_INLINE */
    return sq;
}

__attribute__((noinline)) int fact(int n)
{
    if (n <= 1)
        return 1;   /* BREAK_FACT */
    return n * fact(n - 1);
}

__attribute__((noinline)) void paint(shape_t *s, enum color c)
{
    s->color = c;
    s->f.level = -3;
}

__attribute__((noinline)) struct point make_point(int x, int y)
{
    struct point pt = {x, (short)y, (unsigned char)(x + y)};
    return pt;
}

__attribute__((noinline)) int sum_list(struct node *p)
{
    int total = 0;
    while (p) {
        total += p->val;
        p = p->next;
    }
    return total;
}

__attribute__((noinline)) int check(struct node *p, int k)
{
    shape_t s;
    int arr[5];
    for (int i = 0; i < 5; i++)
        arr[i] = (i + 1) * k;
    s.origin = make_point(k, -k);
    s.w.u = 0x11223344u;
    s.f.ready = 1;
    s.f.mode = 5;
    s.f.rest = 0xabcde;
    for (int i = 0; i < 5; i++)
        s.arr[i] = arr[4 - i];
    for (int i = 0; i < 8; i++)
        s.name[i] = "shape\0\0\0"[i];
    s.cvp = &limits[2];
    paint(&s, BLUE);
    global_shape = s;
    int total = sum_list(p) + square(k);   /* BREAK_CHECK */
    return total + s.arr[3] + arr[3];
}

int main(void)
{
    for (int i = 0; i < 3; i++) {
        nodes[i].val = 10 * (i + 1);
        nodes[i].next = i < 2 ? &nodes[i + 1] : 0;
    }
    int r = check(&nodes[0], 3);
    int f = fact(4);
    big += r;
    printf("dbgtest: check %d fact %d task %s big %d ratio/4 %d\n", r, f, pxCurrentTCB->pcTaskName,
           (int)(big / 1000000), (int)(ratio * 4));
    return 0;
}
