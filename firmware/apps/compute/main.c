/* compute: a CPU-bound benchmark (CRC-32 over a buffer, integer matrix multiply, an LCG mix),
 * sized by ROUNDS; prints a checksum that any faithful emulator reproduces. */
#include "sdk.h"

#ifndef ROUNDS
#define ROUNDS 300
#endif
#define BUF_SIZE 16384
#define N 32

static uint8_t buf[BUF_SIZE];
static int32_t a[N][N], b[N][N], c[N][N];

static uint32_t crc32(const uint8_t *p, size_t len, uint32_t crc)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t matmul(void)
{
    uint32_t sum = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < N; k++)
                acc += a[i][k] * b[k][j];
            c[i][j] = acc;
            sum = sum * 31u + (uint32_t)acc;
        }
    return sum;
}

int main(void)
{
    uint32_t seed = 12345;
    for (size_t i = 0; i < BUF_SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (i * 7 + j * 3) % 17 - 8;
            b[i][j] = (i * 5 + j * 11) % 13 - 6;
        }

    printf("compute: rv%d, %d rounds\n", XLEN, ROUNDS);
    uint32_t crc = 0, mm = 0;
    for (int r = 0; r < ROUNDS; r++) {
        crc = crc32(buf, BUF_SIZE, crc);
        mm ^= matmul();
        a[r % N][(r * 7) % N] += 1;
        buf[(r * 4099) % BUF_SIZE] ^= (uint8_t)crc;
    }
    printf("crc32 = 0x%08x\n", (unsigned)crc);
    printf("matmul = 0x%08x\n", (unsigned)mm);
    printf("checksum = 0x%08x\n", (unsigned)(crc ^ mm));
    return 0;
}
