/* lind_async's lind.syscall trampoline in C: the optional native half of
 * lind_async/runtime/syscall_entry.py (which has a pure-Python trampoline doing the same).
 *
 * Theory of operation
 * -------------------
 * wasmtime calls an unchecked host function with a raw value array: one 16-byte
 * wasmtime_val_raw_t per parameter (the i32 call number in the low 4 bytes of the first, then
 * six i64 slots), the i64 result to be written over the first. A ctypes callback spends most of
 * a round trip converting its four C arguments to Python objects, and the Python side then
 * unpacks the array through a memoryview. Here the array is read in C, and the Python entry,
 * registered once by lind_entry_init, is called with seven ints through the vectorcall
 * protocol (no argument tuple). It returns the call's result, which is written back wrapped to
 * 64 bits as a ctypes store would.
 *
 * Failure. The Python entry never raises: when the call must trap (a handler raised something
 * that kills the cage) it stores the trap (a wasm_trap_t* made by wasmtime) in lind_entry_trap
 * and returns; that word is handed to wasmtime and cleared. If the entry itself could not be
 * called (no memory for an int), the exception is cleared and a trap made here through
 * wasmtime_trap_new, whose address the runtime passed in: no Python exception is ever left
 * pending under wasmtime's C frames.
 *
 * The GIL: wasm runs with the GIL released (the poll is a ctypes CDLL call), so the trampoline
 * takes it for the call, on the same OS thread, as a ctypes callback does.
 *
 * Only the few CPython functions used are declared, by hand (their ABI is stable across
 * CPython 3.x), so the build needs no Python headers; they are resolved against the running
 * interpreter when the runtime loads this library.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct _object PyObject;
typedef int PyGILState_STATE;
extern PyGILState_STATE PyGILState_Ensure(void);
extern void PyGILState_Release(PyGILState_STATE);
extern PyObject *PyLong_FromLongLong(long long);
extern unsigned long long PyLong_AsUnsignedLongLongMask(PyObject *);
extern PyObject *PyObject_Vectorcall(PyObject *, PyObject *const *, size_t, PyObject *);
extern PyObject *PyErr_Occurred(void);
extern void PyErr_Clear(void);
extern void Py_IncRef(PyObject *);
extern void Py_DecRef(PyObject *);

typedef void *(*trap_new_fn)(const char *, size_t);

static PyObject *entry;
static trap_new_fn trap_new;
void *volatile lind_entry_trap;

static const char failed[] = "lind host function lind.syscall could not be called";

/* Register the Python entry (kept alive here) and wasmtime_trap_new. */
void lind_entry_init(PyObject *callable, void *make_trap) {
    Py_IncRef(callable);
    entry = callable;
    trap_new = (trap_new_fn)make_trap;
}

void *lind_syscall_trampoline(void *env, void *caller, unsigned char *vals, size_t n) {
    (void)env;
    (void)caller;
    (void)n;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args[7];
    int32_t number;
    memcpy(&number, vals, sizeof number);
    args[0] = PyLong_FromLongLong(number);
    for (int i = 1; i < 7; i++) {
        int64_t slot;
        memcpy(&slot, vals + 16 * i, sizeof slot);
        args[i] = PyLong_FromLongLong(slot);
    }
    PyObject *result = NULL;
    int made = 1;
    for (int i = 0; i < 7; i++) made &= args[i] != NULL;
    if (made) result = PyObject_Vectorcall(entry, args, 7, NULL);
    for (int i = 0; i < 7; i++)
        if (args[i] != NULL) Py_DecRef(args[i]);
    void *trap = NULL;
    if (result != NULL) {
        uint64_t value = PyLong_AsUnsignedLongLongMask(result);
        Py_DecRef(result);
        if (PyErr_Occurred() != NULL) { /* not an int: the entry's contract was broken */
            PyErr_Clear();
            trap = trap_new(failed, sizeof failed - 1);
        } else {
            memcpy(vals, &value, sizeof value);
            trap = lind_entry_trap;
            lind_entry_trap = NULL;
        }
    } else {
        PyErr_Clear();
        trap = trap_new(failed, sizeof failed - 1);
    }
    PyGILState_Release(gil);
    return trap;
}
