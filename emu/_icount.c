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
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <sys/timerfd.h>
#include <unistd.h>

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

/*
 * The filter's hash: Fibonacci hashing, the top 16 bits of address * 2^64/phi.  An xor of shifted
 * address bits put breakpoints set in one region and code running in a neighbouring one on the
 * same bits (1000 breakpoints 16 MiB above a loop hit the filter on every instruction: 1.5x).
 */
static inline uint32_t filter_bit(uint64_t address)
{
    return (uint32_t)((address * 0x9E3779B97F4A7C15ull) >> 48);
}

static void icount_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct icount_state *s = (struct icount_state *)user;
    (void)size;
    if (s->count >= s->limit) {
        s->stop(uc);
        return;
    }
    uint32_t bit = filter_bit(address);
    if (s->nbreaks && (s->filter[bit >> 3] >> (bit & 7) & 1) && is_break(s, address) &&
        s->on_break(address)) {
        s->stop(uc);
        s->limit = s->count;  /* the instruction is not executed, so it is not counted */
        return;
    }
    s->count++;
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

/*
 * Realtime pacing: one persistent thread per machine ends a CPU slice at a host-clock deadline
 * by calling uc_emu_stop.  With npuemu's patch 0009 a stop only takes effect at the start of a
 * translated block (QEMU's icount_decr check) or before an instruction with a code hook, never
 * inside an instruction: an MMIO access is never cut short and replayed (the original bug: UART
 * bytes written twice by Unicorn's emu_start(timeout=) thread).  With patch 0010 a stop landing
 * while an instruction's code hooks run (icount_hook, --trace insn) lets that instruction run:
 * the hooks never run twice for it, so the count stays exact under any number of stops.  The translated code pays one
 * load and branch per block, which it pays anyway; no UC_HOOK_BLOCK, no thread per slice.
 *
 * The thread sleeps in read() on a timerfd that the emulation thread sets to the slice's
 * deadline (timerfd_settime, absolute CLOCK_MONOTONIC) and cancels when the slice ends: the
 * thread only wakes when a deadline really passes.  (A condition variable woke it for every
 * slice, and a mutex made a device's tightening wait for the thread when the loaded host had
 * preempted it with the lock held: 140 us per 10 kHz timer interrupt.)
 *
 * A stop can be lost if it lands before emu_start has begun (emu_start clears stop requests),
 * so while a slice stays armed past its deadline the thread stops it again every RETRY_NS.
 * `firing` counts stops in progress: disarm waits for them, so once the run loop has disarmed,
 * no stop reaches the engine (which may then be closed).
 */
#define RETRY_NS 1000000LL

/* Bumped in a fork child (pthread_atfork): a pacer made before the fork has no thread there.
   (getpid() on every arm was a system call per slice.) */
static unsigned fork_generation;
static void after_fork_in_child(void) { fork_generation++; }

struct pacer {
    _Atomic int64_t deadline_ns;    /* CLOCK_MONOTONIC */
    _Atomic int armed;
    _Atomic int firing;
    _Atomic int quit;
    _Atomic uint64_t stops;         /* stops made, for the run loop ("did the pacer end the slice?") */
    int timer;                      /* timerfd */
    pthread_t thread;
    unsigned generation;            /* fork_generation when the thread started */
    void *uc;
    stop_fn stop;
};

static void pacer_set_timer(struct pacer *p, int64_t when_ns)
{
    struct itimerspec its = {{0, 0}, {0, 0}};  /* all zero: cancel */
    if (when_ns > 0) {
        its.it_value.tv_sec = (time_t)(when_ns / 1000000000LL);
        its.it_value.tv_nsec = (long)(when_ns % 1000000000LL);
    }
    timerfd_settime(p->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Stop the engine if a slice is armed (from any thread). */
static void pacer_fire(struct pacer *p)
{
    atomic_fetch_add(&p->firing, 1);
    if (atomic_load(&p->armed)) {
        atomic_fetch_add(&p->stops, 1);
        p->stop(p->uc);
    }
    atomic_fetch_sub(&p->firing, 1);
}

static void *pacer_main(void *arg)
{
    struct pacer *p = (struct pacer *)arg;
    uint64_t expirations;
    while (!atomic_load(&p->quit)) {
        if (read(p->timer, &expirations, sizeof(expirations)) < 0 && errno != EINTR && errno != EAGAIN)
            break;
        if (atomic_load(&p->quit))
            break;
        if (!atomic_load(&p->armed))
            continue;  /* an old slice's deadline: the next arm sets the timer again */
        int64_t now = monotonic_ns();
        int64_t deadline = atomic_load(&p->deadline_ns);
        int64_t next = deadline;  /* woken early (see below): wait for the real deadline */
        if (now >= deadline) {
            pacer_fire(p);
            next = now + RETRY_NS;
        }
        /* The emulation thread may have armed or tightened meanwhile and set the timer before
           this thread sets it: set it again until the deadline it was computed from holds. */
        for (;;) {
            pacer_set_timer(p, next);
            int64_t current = atomic_load(&p->deadline_ns);
            if (current == deadline)
                break;
            deadline = next = current;
        }
    }
    return NULL;
}

static int pacer_start(struct pacer *p)
{
    p->generation = fork_generation;
    atomic_store(&p->armed, 0);
    atomic_store(&p->firing, 0);
    atomic_store(&p->quit, 0);
    p->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (p->timer < 0)
        return -1;
    if (pthread_create(&p->thread, NULL, pacer_main, p) != 0) {
        close(p->timer);
        return -1;
    }
    return 0;
}

static struct pacer *pacer_ptr(PyObject *arg)
{
    struct pacer *p = (struct pacer *)PyLong_AsVoidPtr(arg);
    if (p == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "null pacer");
    return p;
}

static PyObject *pacer_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *uc, *stop;
    if (!PyArg_ParseTuple(args, "OO", &uc, &stop))
        return NULL;
    struct pacer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return PyErr_NoMemory();
    p->uc = PyLong_AsVoidPtr(uc);
    p->stop = (stop_fn)PyLong_AsVoidPtr(stop);
    if (PyErr_Occurred() || pacer_start(p) != 0) {
        free(p);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_OSError, "cannot start the pacer thread");
        return NULL;
    }
    return PyLong_FromVoidPtr(p);
}

/* (pacer, deadline) arguments of pacer_arm and pacer_tighten; NULL with an exception set. */
static struct pacer *pacer_args(PyObject *args, long long *deadline)
{
    PyObject *ptr;
    if (!PyArg_ParseTuple(args, "OL", &ptr, deadline))
        return NULL;
    return pacer_ptr(ptr);
}

static PyObject *pacer_arm(PyObject *self, PyObject *args)
{
    (void)self;
    long long deadline;
    struct pacer *p = pacer_args(args, &deadline);
    if (p == NULL)
        return NULL;
    if (p->generation != fork_generation) {  /* forked: the thread stayed in the parent */
        close(p->timer);
        if (pacer_start(p) != 0) {
            PyErr_SetString(PyExc_OSError, "cannot start the pacer thread");
            return NULL;
        }
    }
    atomic_store(&p->deadline_ns, (int64_t)deadline);
    atomic_store(&p->armed, 1);
    pacer_set_timer(p, deadline > 0 ? deadline : 1);
    Py_RETURN_NONE;
}

/* An earlier deadline for the armed slice; one already due stops the engine from this thread. */
static PyObject *pacer_tighten(PyObject *self, PyObject *args)
{
    (void)self;
    long long deadline;
    struct pacer *p = pacer_args(args, &deadline);
    if (p == NULL)
        return NULL;
    if (!atomic_load(&p->armed) || deadline >= atomic_load(&p->deadline_ns))
        Py_RETURN_NONE;
    atomic_store(&p->deadline_ns, (int64_t)deadline);
    if (deadline <= monotonic_ns())
        pacer_fire(p);  /* now, from this thread; the pacer repeats it if it was lost */
    pacer_set_timer(p, deadline > 0 ? deadline : 1);
    Py_RETURN_NONE;
}

static PyObject *pacer_disarm(PyObject *self, PyObject *arg)
{
    (void)self;
    struct pacer *p = pacer_ptr(arg);
    if (p == NULL)
        return NULL;
    atomic_store(&p->armed, 0);  /* the timer stays set: the next arm moves it (one syscall less) */
    while (atomic_load(&p->firing))  /* a stop in progress finishes before the engine is free */
        sched_yield();
    return PyLong_FromUnsignedLongLong(atomic_load(&p->stops));
}

static PyObject *pacer_free(PyObject *self, PyObject *arg)
{
    (void)self;
    struct pacer *p = pacer_ptr(arg);
    if (p == NULL)
        return NULL;
    if (p->generation == fork_generation) {
        atomic_store(&p->armed, 0);
        atomic_store(&p->quit, 1);
        pacer_set_timer(p, 1);  /* long past: the thread wakes at once and sees quit */
        Py_BEGIN_ALLOW_THREADS
        pthread_join(p->thread, NULL);
        Py_END_ALLOW_THREADS
        close(p->timer);
    }
    free(p);
    Py_RETURN_NONE;
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

static PyObject *filter_bit_py(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long address = PyLong_AsUnsignedLongLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLong(filter_bit(address));
}

static PyObject *counter_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&counter_csr);
}

static PyMethodDef methods[] = {
    {"hook_address", hook_address, METH_NOARGS, "Address of the C UC_HOOK_CODE callback."},
    {"pacer_new", pacer_new, METH_VARARGS, "pacer_new(uc, uc_emu_stop address): start a pacer thread."},
    {"pacer_arm", pacer_arm, METH_VARARGS, "pacer_arm(pacer, deadline_ns): stop the CPU at that monotonic time."},
    {"pacer_tighten", pacer_tighten, METH_VARARGS, "pacer_tighten(pacer, deadline_ns): an earlier deadline."},
    {"pacer_disarm", pacer_disarm, METH_O, "pacer_disarm(pacer) -> stops made so far."},
    {"pacer_free", pacer_free, METH_O, "pacer_free(pacer): end the thread and free the pacer."},
    {"filter_bit", filter_bit_py, METH_O, "The breakpoint filter's bit for an address (as the hook computes it)."},
    {"counter_address", counter_address, METH_NOARGS, "Address of the counter-CSR callback."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_icount", "Native instruction counter and counter CSRs for Unicorn.", -1, methods,
};

PyMODINIT_FUNC PyInit__icount(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
    return PyModule_Create(&module);
}
