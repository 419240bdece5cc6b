/* A small printf: %d %i %u %x %X %o %c %s %p %%, flags '-' and '0', width or '*', length l ll z. */
#include <stdint.h>

#include "uart.h"

struct out {
    char *buf;      /* NULL: write to the UART */
    size_t size;
    size_t len;     /* characters produced so far (may exceed size) */
};

static void out_char(struct out *o, char c)
{
    if (!o->buf)
        uart_putc(c);
    else if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void out_padded(struct out *o, const char *s, size_t n, int width, int left, char pad,
                       const char *prefix)
{
    size_t plen = 0;
    while (prefix[plen])
        plen++;
    int fill = width - (int)(n + plen);
    if (pad == '0') {                         /* sign / 0x before the zeros */
        for (size_t i = 0; i < plen; i++)
            out_char(o, prefix[i]);
        plen = 0;
    }
    if (!left)
        for (; fill > 0; fill--)
            out_char(o, pad);
    for (size_t i = 0; i < plen; i++)
        out_char(o, prefix[i]);
    for (size_t i = 0; i < n; i++)
        out_char(o, s[i]);
    for (; fill > 0; fill--)
        out_char(o, ' ');
}

static size_t utoa(unsigned long long v, unsigned base, int upper, char *end)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return (size_t)(end - p);
}

static int format(struct out *o, const char *fmt, va_list ap)
{
    char tmp[24];  /* 64-bit octal needs 22 digits */
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_char(o, *fmt);
            continue;
        }
        fmt++;
        int left = 0;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (left)
            pad = ' ';
        int lng = 0;  /* 0 int, 1 long, 2 long long, 3 size_t */
        if (*fmt == 'l') {
            lng = 1;
            if (*++fmt == 'l') {
                lng = 2;
                fmt++;
            }
        } else if (*fmt == 'z') {
            lng = 3;
            fmt++;
        }
        char *end = tmp + sizeof tmp;
        switch (*fmt) {
        case 'd':
        case 'i': {
            long long v = lng == 2 ? va_arg(ap, long long)
                        : lng == 1 ? va_arg(ap, long)
                        : lng == 3 ? (long long)va_arg(ap, size_t)
                                   : va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            size_t n = utoa(mag, 10, 0, end);
            out_padded(o, end - n, n, width, left, pad, v < 0 ? "-" : "");
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned long long v = lng == 2 ? va_arg(ap, unsigned long long)
                                 : lng == 1 ? va_arg(ap, unsigned long)
                                 : lng == 3 ? va_arg(ap, size_t)
                                            : va_arg(ap, unsigned int);
            unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
            size_t n = utoa(v, base, *fmt == 'X', end);
            out_padded(o, end - n, n, width, left, pad, "");
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            size_t n = utoa(v, 16, 0, end);
            while (n < sizeof(uintptr_t) * 2)   /* full XLEN width */
                end[-(int)++n] = '0';
            out_padded(o, end - n, n, width, left, ' ', "0x");
            break;
        }
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            out_padded(o, tmp, 1, width, left, ' ', "");
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = 0;
            while (s[n])
                n++;
            out_padded(o, s, n, width, left, ' ', "");
            break;
        }
        case '%':
            out_char(o, '%');
            break;
        case '\0':
            return (int)o->len;
        default:  /* unknown conversion: print it as is */
            out_char(o, '%');
            out_char(o, *fmt);
            break;
        }
    }
    return (int)o->len;
}

int vprintf(const char *fmt, va_list ap)
{
    struct out o = {0};
    return format(&o, fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {.buf = buf, .size = size};
    int n = format(&o, fmt, ap);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
