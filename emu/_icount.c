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

struct icount_state {
    uint64_t count;   /* instructions started so far */
    uint64_t limit;   /* stop before the instruction that would make count exceed this */
    stop_fn stop;     /* uc_emu_stop from libunicorn */
    uint64_t stops;   /* how many times the limit stopped the CPU */
};

static void icount_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    struct icount_state *s = (struct icount_state *)user;
    (void)address;
    (void)size;
    if (s->count >= s->limit) {
        s->stops++;
        s->stop(uc);
        return;
    }
    s->count++;
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
