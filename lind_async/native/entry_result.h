/* A Python entry's answer, as a wasm host function gives it back: shared by syscall_entry.c
 * (lind.syscall) and grate_entry.c (lind.threei_call), which include it after declaring the
 * CPython functions, memcpy and trap_new_fn it uses (the libraries' build keys cover it).
 *
 * The entry returns an int, written over the first 16-byte slot of vals, and leaves any trap
 * it must report (a wasm_trap_t* wasmtime made) in *pending, taken here. No result, or one
 * that is not an int, breaks the entry's contract: a trap saying the call failed, made with
 * make(failed). No Python exception is ever left behind. */
static void *entry_result(PyObject *result, unsigned char *vals, void *volatile *pending,
                          trap_new_fn make, const char *failed, size_t failed_len) {
    if (result != NULL) {
        uint64_t value = PyLong_AsUnsignedLongLongMask(result);
        Py_DecRef(result);
        if (PyErr_Occurred() == NULL) {
            memcpy(vals, &value, sizeof value);
            void *trap = *pending;
            *pending = NULL;
            return trap;
        }
    }
    PyErr_Clear();
    return make(failed, failed_len);
}
