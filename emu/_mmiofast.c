/*
 * Native MMIO fast paths for the two registers firmware hammers: the UART's LSR/THR and the
 * CLINT's mtime.
 *
 * Why this exists: every device access used to be one Python callback (~1 us each), so a
 * console byte (an LSR poll and a THR write) cost ~2.4 us against QEMU's ~0.23 us, and an mtime
 * poll ~1.2 us against ~0.06 us.  These callbacks are mapped with Unicorn's C uc_mmio_map
 * (emu/bus.py) and serve the hot registers from a ctypes structure owned by the Python device;
 * any other access, or a hot one whose effect is more than the fast path models, goes to the
 * device's Python code through the `fallback` callbacks (Unicorn's own callback signatures), so
 * the device stays the single owner of its state.  The Python side decides when a fast path is
 * allowed (the `*_fast` flags) and keeps them up to date.
 *
 * The module only exports function addresses, like emu/_icount.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

typedef uint64_t (*mmio_read_fn)(void *uc, uint64_t offset, unsigned size, void *user);
typedef void (*mmio_write_fn)(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user);
typedef void (*flush_fn)(void);

/* Every fast device structure starts with this header (emu/bus.py: NativeHeader). */
struct fallback {
    mmio_read_fn read;    /* Python: the device's read through the bus (trace, errors) */
    mmio_write_fn write;  /* Python: the device's write */
    uint64_t size;        /* the device's window; beyond it (up to the mapped page) reads 0 */
};

#define UART_BUFFER 4096
#define UART_THR 0
#define UART_LSR 5

/* Mirrors emu/devices/uart.py (UartNative): keep the two in the same order. */
struct uart_fast {
    struct fallback fb;
    uint32_t lsr;       /* the Line Status Register itself (Uart.lsr is a view of it) */
    uint32_t lsr_fast;  /* LSR reads may be served here (nobody traces MMIO) */
    uint32_t tx_fast;   /* THR writes may be buffered here (DLAB=0, no THRE interrupt, no loopback,
                           no trace, the console is line-buffered) */
    uint32_t len;       /* bytes waiting in buf */
    flush_fn flush;     /* Python: hand buf[0:len] to the device's output path, len = 0 */
    uint64_t transmitted; /* bytes ever buffered here (statistics, tests) */
    uint8_t buf[UART_BUFFER];
};

static uint64_t uart_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    struct uart_fast *u = (struct uart_fast *)user;
    if (u->lsr_fast && offset < u->fb.size && (offset & 7) == UART_LSR) {
        uint32_t value = u->lsr;
        u->lsr &= ~0x02u;  /* reading clears OE */
        return value;
    }
    return u->fb.read(uc, offset, size, user);
}

static void uart_write(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    struct uart_fast *u = (struct uart_fast *)user;
    if (u->tx_fast && offset < u->fb.size && (offset & 7) == UART_THR) {
        uint8_t byte = (uint8_t)value;
        u->buf[u->len++] = byte;
        u->transmitted++;
        if (byte == '\n' || u->len == UART_BUFFER)
            u->flush();
        return;
    }
    u->fb.write(uc, offset, size, value, user);
}

/* Mirrors emu/clock.py (TimeState) and struct time_state in emu/_icount.c: same order. */
struct time_state {
    const uint64_t *count;
    int64_t skipped_ns;
    int64_t host_start_ns;
    int64_t paused_at_ns;
    uint64_t ns_per_insn;
    uint32_t deterministic;
};

#define CLINT_MTIME 0xBFF8u
#define NS_PER_MTIME_TICK 100

/* Mirrors emu/devices/clint.py (ClintNative). */
struct clint_fast {
    struct fallback fb;
    const struct time_state *time;
    uint32_t mtime_fast;  /* mtime reads may be served here (nobody traces MMIO) */
};

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* VirtualClock.mtime(): now_ns() // 100, with Python's floor division. */
static int64_t mtime_now(const struct time_state *t)
{
    int64_t now;
    if (t->deterministic) {
        now = (int64_t)(*t->count * t->ns_per_insn) + t->skipped_ns;
    } else {
        int64_t host = t->paused_at_ns >= 0 ? t->paused_at_ns : monotonic_ns();
        now = host - t->host_start_ns + t->skipped_ns;
    }
    int64_t q = now / NS_PER_MTIME_TICK;
    if (now % NS_PER_MTIME_TICK < 0)
        q -= 1;
    return q;
}

static uint64_t clint_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    struct clint_fast *c = (struct clint_fast *)user;
    if (c->mtime_fast && offset >= CLINT_MTIME && offset < CLINT_MTIME + 8 &&
        (c->time->count != NULL || !c->time->deterministic)) {
        uint64_t value = (uint64_t)mtime_now(c->time) >> (8 * (offset - CLINT_MTIME));
        return size >= 8 ? value : value & ((1ull << (8 * size)) - 1);
    }
    return c->fb.read(uc, offset, size, user);
}

static PyObject *address_of(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    if (strcmp(name, "uart_read") == 0)
        return PyLong_FromVoidPtr((void *)&uart_read);
    if (strcmp(name, "uart_write") == 0)
        return PyLong_FromVoidPtr((void *)&uart_write);
    if (strcmp(name, "clint_read") == 0)
        return PyLong_FromVoidPtr((void *)&clint_read);
    PyErr_Format(PyExc_KeyError, "no native MMIO callback %s", name);
    return NULL;
}

static PyObject *uart_buffer_size(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(UART_BUFFER);
}

static PyMethodDef methods[] = {
    {"address", address_of, METH_O, "Address of a native MMIO callback: uart_read, uart_write, clint_read."},
    {"uart_buffer_size", uart_buffer_size, METH_NOARGS, "Bytes of console output buffered natively."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_mmiofast", "Native MMIO fast paths (UART LSR/THR, CLINT mtime) for Unicorn.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__mmiofast(void) { return PyModule_Create(&module); }
