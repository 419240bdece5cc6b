/*
 * Native helpers for the hart: the exact instruction counter and the counter CSRs.
 *
 * Why this exists: Unicorn cannot tell how many instructions ran when emu_start()
 * returns early (wfi, a trap, a stop request), and a Python UC_HOOK_CODE costs
 * ~1.5 us per instruction.  `icount_hook` runs in C before every instruction: it
 * counts, and stops the CPU cleanly *before* the instruction that would exceed
 * `limit`.  Deterministic virtual time, --max-insns, single-stepping and precise
 * watchpoints are built on it.
 *
 * `counter_csr` serves time/cycle/instret (and their rv32 high halves), writes to
 * mcycle/minstret and mcountinhibit for npuemu's patched Unicorn
 * (uc_npuemu_riscv_set_counter_fn): the guest reads them natively at any address,
 * with no Python call.  Virtual time is computed here exactly as
 * emu/clock.py's VirtualClock computes it, from the same `time_state`.
 *
 * The module only exports function addresses; the state lives in ctypes
 * structures owned by each Machine (emu/icount.py, emu/clock.py), so several
 * machines can share one process.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

typedef int (*stop_fn)(void *uc);
typedef int (*break_fn)(uint64_t address);

struct icount_state {
    uint64_t count;         /* instructions started so far */
    uint64_t limit;         /* stop before the instruction that would make count exceed this */
    stop_fn stop;           /* uc_emu_stop from libunicorn */
    const uint64_t *breaks; /* sorted breakpoint addresses, served here while counting */
    uint64_t nbreaks;
    break_fn on_break;      /* Python: 1 = stop before this instruction, 0 = run it */
    const uint8_t *filter;  /* bit h(addr) set if some breakpoint may be there (see icount.py) */
};

/*
 * Breakpoints live in one sorted table while the counter runs: every extra UC_HOOK_CODE would be
 * checked on every instruction once a full-range hook exists (1000 breakpoints made a
 * deterministic run 686x slower); one binary search costs the same for 1 or 1000.
 */
static int is_break(const struct icount_state *s, uint64_t address)
{
    uint64_t lo = 0, hi = s->nbreaks;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s->breaks[mid] < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nbreaks && s->breaks[lo] == address;
}

static void icount_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct icount_state *s = (struct icount_state *)user;
    (void)size;
    if (s->count >= s->limit) {
        s->stop(uc);
        return;
    }
    uint32_t bit = (uint32_t)((address >> 1) ^ (address >> 17) ^ (address >> 33)) & 0xFFFF;
    if (s->nbreaks && (s->filter[bit >> 3] >> (bit & 7) & 1) && is_break(s, address) &&
        s->on_break(address)) {
        s->stop(uc);
        s->limit = s->count;  /* the instruction is not executed, so it is not counted */
        return;
    }
    s->count++;
}

static int64_t monotonic_ns(void);

/*
 * Realtime pacing without a timer thread: a UC_HOOK_BLOCK that reads the host clock every
 * `period` blocks and stops the CPU once `deadline_ns` has passed.  A block hook runs before the
 * block's first instruction and Unicorn checks the stop request right after it, so the CPU always
 * stops *between* instructions: never inside an MMIO callback, whose access Unicorn would replay
 * (a UART byte written twice).  Other threads (Ctrl-C, gdb) and device callbacks ask for a stop
 * by setting deadline_ns = 0 and countdown = 1.
 */
struct pace_state {
    int64_t deadline_ns;     /* CLOCK_MONOTONIC */
    uint32_t countdown;      /* blocks until the next clock check (>= 1) */
    uint32_t period;
    stop_fn stop;
    uint64_t stops;          /* stops made, for statistics */
};

static void pace_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct pace_state *p = (struct pace_state *)user;
    (void)address;
    (void)size;
    if (--p->countdown > 0)
        return;
    p->countdown = p->period;
    if (monotonic_ns() >= p->deadline_ns) {
        p->stops++;
        p->stop(uc);
    }
}

/* Mirrors emu/clock.py (TimeState): keep the two in the same order. */
struct time_state {
    const uint64_t *count;   /* the instruction counter (icount_state.count) */
    int64_t skipped_ns;      /* time skipped in wfi, set by the guest through mtime... */
    int64_t host_start_ns;   /* CLOCK_MONOTONIC (Python's perf_counter_ns) at virtual 0 */
    int64_t paused_at_ns;    /* < 0 while time runs */
    uint64_t ns_per_insn;
    uint32_t deterministic;  /* time = count * ns_per_insn + skipped_ns */
    uint32_t counting;       /* the counter hook is installed: cycle/instret are exact */
    uint32_t xlen;
    uint32_t inhibit;        /* mcountinhibit (bit 0 CY, bit 2 IR) */
    int64_t offset[2];       /* cycle, instret = base + offset */
    uint64_t frozen[2];      /* their values while inhibited */
};

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t now_ns(const struct time_state *t)
{
    if (t->deterministic)
        return (int64_t)(*t->count * t->ns_per_insn) + t->skipped_ns;
    int64_t host = t->paused_at_ns >= 0 ? t->paused_at_ns : monotonic_ns();
    return host - t->host_start_ns + t->skipped_ns;
}

static uint64_t base_count(const struct time_state *t)
{
    if (t->counting)
        return *t->count;
    int64_t now = now_ns(t);
    return now > 0 ? (uint64_t)now / t->ns_per_insn : 0;
}

static uint64_t read_counter(const struct time_state *t, int which)
{
    if (t->inhibit & (which ? 4u : 1u))
        return t->frozen[which];
    return base_count(t) + (uint64_t)t->offset[which];
}

static void set_counter(struct time_state *t, int which, uint64_t value)
{
    if (t->inhibit & (which ? 4u : 1u))
        t->frozen[which] = value;
    else
        t->offset[which] = (int64_t)(value - base_count(t));
}

static void set_inhibit(struct time_state *t, uint32_t value)
{
    for (int which = 0; which < 2; which++) {
        uint32_t bit = which ? 4u : 1u;
        if ((value & bit) && !(t->inhibit & bit))
            t->frozen[which] = read_counter(t, which);
        else if (!(value & bit) && (t->inhibit & bit))
            t->offset[which] = (int64_t)(t->frozen[which] - base_count(t));
    }
    t->inhibit = value & ~2u;  /* bit 1 (TM) is read-only zero */
}

static uint64_t counter_csr(void *opaque, int csrno, int write, uint64_t value)
{
    struct time_state *t = (struct time_state *)opaque;
    int high = (csrno & 0x80) && t->xlen == 32;
    int base = csrno & ~0x80;
    if (base == 0x320) {
        if (write)
            set_inhibit(t, (uint32_t)value);
        return t->inhibit;
    }
    if (base == 0xC01) {
        uint64_t mtime = (uint64_t)now_ns(t) / 100;
        return high ? mtime >> 32 : mtime;
    }
    int which = (base == 0xC02 || base == 0xB02) ? 1 : 0;
    uint64_t cur = read_counter(t, which);
    if (write) {
        if (t->xlen == 32)
            value = high ? (cur & 0xFFFFFFFFull) | (value << 32) : (cur & ~0xFFFFFFFFull) | (uint32_t)value;
        set_counter(t, which, value);
        cur = value;
    }
    return high ? cur >> 32 : cur;
}

static PyObject *hook_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&icount_hook);
}

static PyObject *counter_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&counter_csr);
}

static PyObject *pace_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&pace_hook);
}

static PyMethodDef methods[] = {
    {"hook_address", hook_address, METH_NOARGS, "Address of the C UC_HOOK_CODE callback."},
    {"pace_address", pace_address, METH_NOARGS, "Address of the C UC_HOOK_BLOCK pacing callback."},
    {"counter_address", counter_address, METH_NOARGS, "Address of the counter-CSR callback."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_icount", "Native instruction counter and counter CSRs for Unicorn.", -1, methods,
};

PyMODINIT_FUNC PyInit__icount(void) { return PyModule_Create(&module); }
