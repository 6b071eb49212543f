/* set_tid_address without Python: a part of native/syscall_entry.c (included by it, one
 * translation unit), using its names, refs and checks, and syscall_signals.c's mask names.
 *
 * Theory of operation
 * -------------------
 * musl's start-up makes it once per process (every cage a server starts per request pays a
 * Python round trip for storing one word). Python's handler (rawposix/threads.py) stores the
 * decoded pointer as the calling thread's clear_child_tid and answers its id; for the main
 * thread that is cage.clear_child_tid and cage.cage_id. This code does exactly that, only when
 * the cage is one only RawPOSIX sees now (plain_cage) and has no secondary thread
 * (cage.threads.by_instance empty: the caller is the main thread, ThreadGroup.calling's rule).
 * The pointer is decoded as memory/pointers.py's pointer() does (a sign-extended 32-bit value
 * is taken as its low half; any other stays as it is, to fail every later check). Anything
 * else is Python's, which does the whole call (nothing was changed). */

enum { SYS_SET_TID_ADDRESS = 218 };

static PyObject *tid_names[2];  /* "clear_child_tid", "cage_id" */
uint64_t lind_fasttid_served;   /* calls answered here (read by tests) */

static int tid_call(const int64_t *a, int64_t *result) {
    if (!fast_on || !intern_mask_names()) return 0;
    if (tid_names[0] == NULL) {
        tid_names[0] = PyUnicode_InternFromString("clear_child_tid");
        tid_names[1] = PyUnicode_InternFromString("cage_id");
        if (tid_names[0] == NULL || tid_names[1] == NULL) {
            tid_names[0] = NULL;
            PyErr_Clear();
            return 0;
        }
    }
    struct refs r;
    r.n = 0;
    int served = 0;
    PyObject *cage = plain_cage(&r);
    PyObject *threads = cage == NULL ? NULL : mask_get(&r, cage, M_THREADS);
    PyObject *members = threads == NULL ? NULL : mask_get(&r, threads, M_BY_INSTANCE);
    if (members == NULL || PyObject_Size(members) != 0) goto out;
    PyObject *id = hold(&r, PyObject_GetAttr(cage, tid_names[1]));
    if (id == NULL) goto out;
    int64_t cage_id = PyLong_AsLongLong(id);
    if (cage_id == -1 && PyErr_Occurred() != NULL) goto out;
    uint64_t ptr = (uint64_t)a[0];
    if (ptr >= 0xFFFFFFFF80000000ULL) ptr &= 0xFFFFFFFFULL;  /* pointer()'s decoding */
    PyObject *value = PyLong_FromUnsignedLongLong(ptr);
    if (value == NULL) goto out;
    int failed = PyObject_SetAttr(cage, tid_names[0], value);
    Py_DecRef(value);
    if (failed) goto out;  /* (nothing was set) */
    *result = cage_id;
    served = 1;
    lind_fasttid_served++;
out:
    if (!served && PyErr_Occurred() != NULL) PyErr_Clear();
    for (int i = 0; i < r.n; i++) Py_DecRef(r.held[i]);
    return served;
}
