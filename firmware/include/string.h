/* The string and memory functions of the SDK (hal/string.c). GCC may also emit calls to memcpy,
 * memmove, memset and memcmp by itself, so they exist even in freestanding code. */
#ifndef NPUEMU_STRING_H
#define NPUEMU_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif
