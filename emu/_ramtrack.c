/*
 * Dirty-page tracking for guest RAM (incremental checkpointing), in C.
 *
 * Why this exists: snapshots must cost what changed, not the size of RAM (a
 * 1 GiB guest that touched 1 MiB must snapshot and restore in milliseconds),
 * and this kernel has no working soft-dirty bits (/proc/self/pagemap bit 55
 * stays 0).  So, after a checkpoint, RAM is made read-only with mprotect; the
 * first host store to a page (Unicorn's translated code, a numpy DMA, a
 * memcpy in uc_mem_write: all of them are plain host stores) faults, and this
 * SIGSEGV handler marks the page in the region's dirty map, makes the page
 * writable and returns: the store is executed again and succeeds.  Later
 * stores to that page cost nothing.  Faults outside every tracked region go to
 * the handler that was installed before ours (faulthandler, the default).
 *
 * The handler only touches async-signal-safe state: fixed slots of
 * {base, size, dirty map} and mprotect(2).  Python owns the memory (an mmap)
 * and the dirty map (a numpy array), and unregisters a region before freeing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_REGIONS 256
/* Each run of writable pages among read-only ones is a kernel mapping (VMA) of its own, and a
 * process has at most vm.max_map_count (65530) of them: past this many runs, stop tracking
 * (the region becomes writable, one mapping again) and let Python copy every page in use. */
#define MAX_RUNS 8192

struct region {
    volatile sig_atomic_t active;
    char *base;
    size_t size;
    uint8_t *dirty; /* one byte per page: 1 = written since the last protect(); one more byte
                       after them: 1 = overflow, the whole region was made writable */
    long runs;      /* runs of writable pages since the last protect() */
};

static struct region regions[MAX_REGIONS];
static struct sigaction previous;
static size_t page_size = 4096;
static int installed;

static void on_segv(int sig, siginfo_t *info, void *context)
{
    char *addr = (char *)info->si_addr;
    for (int i = 0; i < MAX_REGIONS; i++) {
        struct region *r = &regions[i];
        if (r->active && addr >= r->base && addr < r->base + r->size) {
            size_t page = (size_t)(addr - r->base) / page_size, pages = r->size / page_size;
            int left = page > 0 && r->dirty[page - 1], right = page + 1 < pages && r->dirty[page + 1];
            long runs = r->runs + (left && right ? -1 : !left && !right ? 1 : 0);
            if (runs <= MAX_RUNS &&
                mprotect(r->base + page * page_size, page_size, PROT_READ | PROT_WRITE) == 0) {
                r->dirty[page] = 1;
                r->runs = runs;
                return;
            }
            /* Too many mappings (or mprotect failed with ENOMEM): give up tracking until the next
             * protect(): the whole region writable again (one mapping), and say so. */
            if (mprotect(r->base, r->size, PROT_READ | PROT_WRITE) == 0) {
                r->dirty[r->size / page_size] = 1;
                return;
            }
            break;
        }
    }
    /* Not ours: hand over to whoever was there before. */
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        signal(sig, SIG_DFL); /* the faulting instruction runs again and the process dies as usual */
    }
}

/* Install the handler, or re-install it if someone replaced it since (chaining to them). */
static int ensure_handler(void)
{
    struct sigaction current;
    if (sigaction(SIGSEGV, NULL, &current) != 0)
        return -1;
    if (installed && (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_segv)
        return 0;
    struct sigaction mine;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = on_segv;
    mine.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&mine.sa_mask);
    if (sigaction(SIGSEGV, &mine, &previous) != 0)
        return -1;
    installed = 1;
    return 0;
}

static PyObject *track(PyObject *self, PyObject *args)
{
    unsigned long long base, size, dirty;
    if (!PyArg_ParseTuple(args, "KKK", &base, &size, &dirty))
        return NULL;
    if (base % page_size || size % page_size) {
        PyErr_SetString(PyExc_ValueError, "region must be page aligned");
        return NULL;
    }
    if (ensure_handler() != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    for (int i = 0; i < MAX_REGIONS; i++) {
        if (!regions[i].active) {
            regions[i].base = (char *)(uintptr_t)base;
            regions[i].size = (size_t)size;
            regions[i].dirty = (uint8_t *)(uintptr_t)dirty;
            regions[i].runs = 0;
            regions[i].active = 1;
            return PyLong_FromLong(i);
        }
    }
    PyErr_SetString(PyExc_RuntimeError, "too many tracked RAM regions");
    return NULL;
}

static PyObject *untrack(PyObject *self, PyObject *args)
{
    int slot;
    if (!PyArg_ParseTuple(args, "i", &slot))
        return NULL;
    if (slot < 0 || slot >= MAX_REGIONS || !regions[slot].active) {
        PyErr_SetString(PyExc_ValueError, "no such region");
        return NULL;
    }
    struct region *r = &regions[slot];
    if (mprotect(r->base, r->size, PROT_READ | PROT_WRITE) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    r->active = 0;
    Py_RETURN_NONE;
}

/* Make the whole region read-only (the caller cleared the dirty map); re-checks the handler. */
static PyObject *protect(PyObject *self, PyObject *args)
{
    int slot, writable;
    if (!PyArg_ParseTuple(args, "ip", &slot, &writable))
        return NULL;
    if (slot < 0 || slot >= MAX_REGIONS || !regions[slot].active) {
        PyErr_SetString(PyExc_ValueError, "no such region");
        return NULL;
    }
    if (!writable && ensure_handler() != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    struct region *r = &regions[slot];
    if (mprotect(r->base, r->size, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    r->runs = 0;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"track", track, METH_VARARGS, "track(base, size, dirty_map_address) -> slot"},
    {"untrack", untrack, METH_VARARGS, "untrack(slot): writable again, no longer tracked"},
    {"protect", protect, METH_VARARGS, "protect(slot, writable): whole region read-only or writable"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ramtrack", "Dirty-page tracking of guest RAM with mprotect and SIGSEGV.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__ramtrack(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (size_t)ps;
    return PyModule_Create(&module);
}
