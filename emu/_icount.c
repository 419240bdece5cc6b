/*
 * Exact instruction counting for Unicorn, in C.
 *
 * Why this exists: Unicorn 2.1.4 cannot tell how many instructions ran when
 * emu_start() returns early (wfi, a trap, a stop request), and a Python
 * UC_HOOK_CODE costs ~1.5 us per instruction.  This hook runs in C before every
 * instruction: it counts, and stops the CPU cleanly *before* the instruction
 * that would exceed `limit`.  Deterministic virtual time, --max-insns,
 * single-stepping and precise watchpoints are built on it.
 *
 * The module only exports the hook's address; the state lives in a ctypes
 * structure owned by each Machine (see emu/icount.py), so several machines can
 * share one process.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef int (*stop_fn)(void *uc);
typedef void (*site_fn)(void *uc, uint64_t address, uint32_t size, void *user);

struct icount_state {
    uint64_t count;         /* instructions started so far */
    uint64_t limit;         /* stop before the instruction that would make count exceed this */
    stop_fn stop;           /* uc_emu_stop from libunicorn */
    const uint64_t *sites;  /* sorted addresses that need a Python callback (CSR sites) */
    uint64_t nsites;
    site_fn site;           /* called for those addresses, after counting */
};

/*
 * Every extra UC_HOOK_CODE in Unicorn's list is checked on every instruction once a
 * full-range hook exists, so the machine's per-address CSR hooks move in here when
 * the counter is on: one binary search instead of one list walk per hook.
 */
static int is_site(const struct icount_state *s, uint64_t address)
{
    uint64_t lo = 0, hi = s->nsites;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s->sites[mid] < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsites && s->sites[lo] == address;
}

static void icount_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct icount_state *s = (struct icount_state *)user;
    if (s->count >= s->limit) {
        s->stop(uc);
        return;
    }
    s->count++;
    if (s->nsites && is_site(s, address))
        s->site(uc, address, size, NULL);
}

static PyObject *hook_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&icount_hook);
}

static PyMethodDef methods[] = {
    {"hook_address", hook_address, METH_NOARGS, "Address of the C UC_HOOK_CODE callback."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_icount", "Native instruction counter hook for Unicorn.", -1, methods,
};

PyMODINIT_FUNC PyInit__icount(void) { return PyModule_Create(&module); }
