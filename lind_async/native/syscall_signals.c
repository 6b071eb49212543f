/* rt_sigprocmask without Python: a part of native/syscall_entry.c (included by it, one
 * translation unit), using its names, refs and checks.
 *
 * Theory of operation
 * -------------------
 * musl changes the blocked mask around much of what it does (six rt_sigprocmask calls per
 * fork: fork's and _Fork's block-all and restore, in parent and child), and each cost a whole
 * Python round trip for a few bit operations. The mask stays Python's: the calling thread's
 * SignalState.blocked (core/signals.py), the only copy there is. This code reads and writes
 * that very attribute, so there is nothing to keep in sync; it answers only when Python's
 * path (rawposix/signal.py's sys_rt_sigprocmask, then _call's delivery check) would do
 * exactly the same and nothing more:
 *
 *   - the cage is one only RawPOSIX sees now (plain_cage: its 3i table known and empty, so
 *     a grate that interposes rt_sigprocmask sees every call; not stopped; no fault flagged)
 *     and NO signal is pending for it (cage.signals.pending == 0). With nothing pending, no
 *     mask change can make a signal deliverable, so no delivery is skipped by answering here;
 *   - the cage has no secondary thread (cage.threads.by_instance empty): the caller is the
 *     main thread, whose mask is cage.signals.blocked (threads.mask_state's rule), and no
 *     thread-directed signal can be pending elsewhere;
 *   - no deferred delivery mask (signals.delivery_mask is None: a sigsuspend-like call was
 *     interrupted and its delivery is still Python's to run);
 *   - sigsetsize is exactly 8, how is SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK when a set is given,
 *     and both guest ranges (8 bytes each) pass guest_range's check — GuestMemory's — before
 *     anything is changed. The new set is read before the old one is written (they may be
 *     the same address), as Python's path does.
 *
 * The new mask is Python's set_mask rule: bits 0..63, SIGKILL and SIGSTOP never blocked.
 * Anything else — EINVAL, EFAULT, threads, a pending signal, a route — goes to Python, which
 * does the whole call from the start (nothing was changed). */

enum { SYS_RT_SIGPROCMASK = 14 };
enum { HOW_BLOCK = 0, HOW_UNBLOCK = 1, HOW_SETMASK = 2 };
#define UNBLOCKABLE ((1ULL << (9 - 1)) | (1ULL << (19 - 1)))  /* SIGKILL, SIGSTOP */

extern PyObject *PyLong_FromUnsignedLongLong(unsigned long long);

enum { M_THREADS, M_BY_INSTANCE, M_BLOCKED, M_DELIVERY_MASK, M_NAMES };
static const char *const mask_name_text[M_NAMES] = {
    "threads", "by_instance", "blocked", "delivery_mask"};
static PyObject *mask_names[M_NAMES];
static int mask_names_ready;  /* 1: interned; -1: could not be (never served here) */
uint64_t lind_fastmask_served;  /* calls answered here (read by tests) */
int lind_fastmask_on = 1;       /* 0: every rt_sigprocmask goes to Python (for measuring) */

static int intern_mask_names(void) {
    if (mask_names_ready == 0) {
        mask_names_ready = 1;
        for (int i = 0; i < M_NAMES; i++) {
            mask_names[i] = PyUnicode_InternFromString(mask_name_text[i]);
            if (mask_names[i] == NULL) mask_names_ready = -1;
        }
    }
    return mask_names_ready == 1;
}

static PyObject *mask_get(struct refs *r, PyObject *obj, int name) {
    return hold(r, PyObject_GetAttr(obj, mask_names[name]));
}

/* 1 with *result set when served here, 0 for Python's path. GIL held. */
static int mask_call(const int64_t *a, int64_t *result) {
    if ((uint64_t)a[3] != 8 || !intern_mask_names()) return 0;  /* sigsetsize: EINVAL */
    struct refs r;
    r.n = 0;
    int served = 0;
    PyObject *cage = plain_cage(&r);
    if (cage == NULL) goto out;
    PyObject *threads = mask_get(&r, cage, M_THREADS);
    if (threads == NULL) goto out;
    PyObject *others = mask_get(&r, threads, M_BY_INSTANCE);
    if (others == NULL || PyObject_Size(others) != 0) goto out;
    PyObject *signals = get(&r, cage, N_SIGNALS);
    if (signals == NULL) goto out;
    PyObject *deferred = mask_get(&r, signals, M_DELIVERY_MASK);
    if (deferred != &_Py_NoneStruct) goto out;
    PyObject *blocked = mask_get(&r, signals, M_BLOCKED);
    if (blocked == NULL) goto out;
    uint64_t old = PyLong_AsUnsignedLongLongMask(blocked);
    if (PyErr_Occurred() != NULL) goto out;
    uint64_t length;
    unsigned char *set = NULL, *out_set = NULL;
    if (a[1] != 0) {  /* (a NULL pointer: no set; any other bad one fails guest_range) */
        int32_t how = (int32_t)(uint32_t)a[0];
        if (how != HOW_BLOCK && how != HOW_UNBLOCK && how != HOW_SETMASK) goto out;
        set = guest_range(&r, cage, a[1], 8, &length);
        if (set == NULL || length != 8) goto out;
    }
    if (a[2] != 0) {
        out_set = guest_range(&r, cage, a[2], 8, &length);
        if (out_set == NULL || length != 8) goto out;
    }
    if (set != NULL) {
        uint64_t value;
        memcpy(&value, set, sizeof value);
        int32_t how = (int32_t)(uint32_t)a[0];
        uint64_t mask = how == HOW_BLOCK ? old | value : how == HOW_UNBLOCK ? old & ~value : value;
        mask &= ~UNBLOCKABLE;
        if (mask != old) {
            PyObject *now = PyLong_FromUnsignedLongLong(mask);
            if (now == NULL) goto out;
            int failed = PyObject_SetAttr(signals, mask_names[M_BLOCKED], now);
            Py_DecRef(now);
            if (failed != 0) goto out;  /* (never expected; nothing else was changed) */
        }
    }
    if (out_set != NULL) memcpy(out_set, &old, sizeof old);
    *result = 0;
    served = 1;
out:
    if (served) lind_fastmask_served++;
    else if (PyErr_Occurred() != NULL) PyErr_Clear();
    for (int i = 0; i < r.n; i++) Py_DecRef(r.held[i]);
    return served;
}
