/* lind_async's grate hop glue in C: the optional native half of lind_async/threei/native.py
 * (every piece has a pure-Python equivalent that serves when this cannot be built or loaded).
 *
 * Theory of operation
 * -------------------
 * A C grate hop crosses the Python/C boundary four times: the grate's lind.threei_call import
 * comes into Python, and Python starts, polls and deletes the call future of the next grate's
 * handler. Through ctypes each crossing converts its arguments one by one (a callback's four,
 * a foreign call's eight) and releases or takes the GIL; measured, about a microsecond of every
 * hop. Three pieces take that work here:
 *
 * - lind_threei_trampoline serves lind.threei_call (an unchecked import: the i32 call number,
 *   then thirteen i64 slots of 16 bytes each, the i64 result written over the first) and calls
 *   the Python entry registered by lind_threei_init with fourteen ints through vectorcall, as
 *   syscall_entry.c does for lind.syscall. The entry never raises: a trap it must report is
 *   left in lind_threei_trap (a wasm_trap_t* wasmtime made) and handed to wasmtime here.
 * - "start" (a builtin made by lind_grate_function(0)) starts a prepared call
 *   (wasmtime_func_call_async over buffers that never move, their addresses in one struct the
 *   Python side owns), polls it once and deletes it if it finished: one call from Python
 *   instead of three through ctypes. It returns 0 when the call finished, else the future's
 *   address (the Python driver polls and deletes it). The GIL is released around the wasmtime
 *   calls, as ctypes does (the poll runs guest code, whose imports take the GIL back on this
 *   same thread, and the epoch ticker needs it meanwhile).
 * - "step" (lind_grate_function(1)) steps a coroutine once with PyIter_Send: a handler that
 *   returns an int gives it back as is, without the StopIteration a Python-level send raises
 *   and catches (the costliest part of an async def Python grate hop); anything else comes
 *   back as (1, yielded) or (0, returned) for the general path. An exception propagates.
 *
 * Only the few CPython functions used are declared, by hand (stable ABI), so the build needs no
 * Python headers; they are resolved against the running interpreter when the library loads. The
 * wasmtime functions are passed in by address from the runtime's own binding (wasm/capi.py).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

typedef struct _object PyObject;
typedef ssize_t Py_ssize_t;
typedef int PyGILState_STATE;
typedef struct {
	const char *ml_name;
	void *ml_meth;
	int ml_flags;
	const char *ml_doc;
} PyMethodDef;
#define METH_FASTCALL 0x0080
#define PYGEN_RETURN 0
#define PYGEN_NEXT 1

extern PyGILState_STATE PyGILState_Ensure(void);
extern void PyGILState_Release(PyGILState_STATE);
extern void *PyEval_SaveThread(void);
extern void PyEval_RestoreThread(void *);
extern PyObject *PyLong_FromLongLong(long long);
extern PyObject *PyLong_FromVoidPtr(void *);
extern void *PyLong_AsVoidPtr(PyObject *);
extern long PyLong_AsLong(PyObject *);
extern unsigned long long PyLong_AsUnsignedLongLongMask(PyObject *);
extern PyObject *PyObject_Vectorcall(PyObject *, PyObject *const *, size_t, PyObject *);
extern PyObject *PyErr_Occurred(void);
extern void PyErr_Clear(void);
extern void PyErr_SetString(PyObject *, const char *);
extern PyObject *PyExc_TypeError;
extern void Py_IncRef(PyObject *);
extern void Py_DecRef(PyObject *);
extern PyObject *PyCFunction_NewEx(PyMethodDef *, PyObject *, PyObject *);
extern int PyIter_Send(PyObject *, PyObject *, PyObject **);
extern PyObject *Py_BuildValue(const char *, ...);
extern PyObject _Py_NoneStruct;
extern PyObject PyLong_Type;

/* ---- lind.threei_call ---------------------------------------------------------------------- */
typedef void *(*trap_new_fn)(const char *, size_t);

#define THREEI_ARGS 14
static PyObject *threei_entry;
static trap_new_fn trap_new;
void *volatile lind_threei_trap;

static const char threei_failed[] = "lind host function lind.threei_call could not be called";

void lind_threei_init(PyObject *callable, void *make_trap) {
	Py_IncRef(callable);
	threei_entry = callable;
	trap_new = (trap_new_fn)make_trap;
}

void *lind_threei_trampoline(void *env, void *caller, unsigned char *vals, size_t n) {
	(void)env;
	(void)caller;
	(void)n;
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *args[THREEI_ARGS];
	int32_t number;
	memcpy(&number, vals, sizeof number);
	args[0] = PyLong_FromLongLong(number);
	for (int i = 1; i < THREEI_ARGS; i++) {
		int64_t slot;
		memcpy(&slot, vals + 16 * i, sizeof slot);
		args[i] = PyLong_FromLongLong(slot);
	}
	PyObject *result = NULL;
	int made = 1;
	for (int i = 0; i < THREEI_ARGS; i++) made &= args[i] != NULL;
	if (made) result = PyObject_Vectorcall(threei_entry, args, THREEI_ARGS, NULL);
	for (int i = 0; i < THREEI_ARGS; i++)
		if (args[i] != NULL) Py_DecRef(args[i]);
	void *trap = NULL;
	if (result != NULL) {
		uint64_t value = PyLong_AsUnsignedLongLongMask(result);
		Py_DecRef(result);
		if (PyErr_Occurred() != NULL) { /* not an int: the entry's contract was broken */
			PyErr_Clear();
			trap = trap_new(threei_failed, sizeof threei_failed - 1);
		} else {
			memcpy(vals, &value, sizeof value);
			trap = lind_threei_trap;
			lind_threei_trap = NULL;
		}
	} else {
		PyErr_Clear();
		trap = trap_new(threei_failed, sizeof threei_failed - 1);
	}
	PyGILState_Release(gil);
	return trap;
}

/* ---- prepared calls ------------------------------------------------------------------------ */
typedef void *(*call_async_fn)(void *, void *, void *, size_t, void *, size_t, void *, void *);
typedef bool (*poll_fn)(void *);
typedef void (*delete_fn)(void *);
typedef void (*deadline_fn)(void *, uint64_t);

static call_async_fn call_async;
static poll_fn future_poll;
static delete_fn future_delete;
static deadline_fn set_deadline;

/* What wasmtime_func_call_async takes, in its order (the Python side fills it once). */
struct prepared {
	void *ctx;
	void *func;
	void *argv;
	size_t nparams;
	void *resv;
	size_t nresults;
	void *trap;
	void *err;
};

void lind_grate_init(void *call_async_addr, void *poll_addr, void *delete_addr,
                     void *deadline_addr) {
	call_async = (call_async_fn)call_async_addr;
	future_poll = (poll_fn)poll_addr;
	future_delete = (delete_fn)delete_addr;
	set_deadline = (deadline_fn)deadline_addr;
}

/* start(prepared address, give a fresh epoch slice) -> 0 (finished) or the pending future */
static PyObject *start(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	(void)self;
	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "start(prepared, fresh_slice)");
		return NULL;
	}
	struct prepared *p = (struct prepared *)PyLong_AsVoidPtr(args[0]);
	long fresh = PyLong_AsLong(args[1]);
	if (PyErr_Occurred() != NULL) return NULL;
	if (p == NULL) {
		PyErr_SetString(PyExc_TypeError, "start: a null prepared call");
		return NULL;
	}
	void *saved = PyEval_SaveThread();
	if (fresh) set_deadline(p->ctx, 1);
	void *fut = call_async(p->ctx, p->func, p->argv, p->nparams, p->resv, p->nresults, p->trap,
	                       p->err);
	if (future_poll(fut)) {
		future_delete(fut);
		fut = NULL;
	}
	PyEval_RestoreThread(saved);
	return PyLong_FromVoidPtr(fut);
}

/* step(coroutine) -> the int it returned, or (1, yielded) / (0, returned non-int) */
static PyObject *step(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	(void)self;
	if (nargs != 1) {
		PyErr_SetString(PyExc_TypeError, "step(coroutine)");
		return NULL;
	}
	PyObject *out = NULL;
	int status = PyIter_Send(args[0], &_Py_NoneStruct, &out);
	if (status == PYGEN_RETURN) {
		if (*(PyObject **)((char *)out + sizeof(Py_ssize_t)) == &PyLong_Type) return out;
	} else if (status != PYGEN_NEXT) {
		return NULL; /* the exception it raised propagates */
	}
	PyObject *pair = Py_BuildValue("(iO)", status == PYGEN_NEXT, out);
	Py_DecRef(out);
	return pair;
}

static PyMethodDef functions[] = {
	{"start", (void *)start, METH_FASTCALL, "start and poll a prepared call once"},
	{"step", (void *)step, METH_FASTCALL, "step a coroutine once"},
};

/* A new reference to builtin ``which`` (0: start, 1: step), or NULL. */
PyObject *lind_grate_function(int which) {
	if (which < 0 || which > 1) return NULL;
	return PyCFunction_NewEx(&functions[which], NULL, NULL);
}
