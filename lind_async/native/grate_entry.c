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
 *   the Python entry registered by lind_threei_init through vectorcall, as syscall_entry.c does
 *   for lind.syscall: entry(nr, target, (a1, ..., a6), (a1cage, ..., a6cage)). The entry never raises: a trap it must report is
 *   left in lind_threei_trap (a wasm_trap_t* wasmtime made) and handed to wasmtime here.
 * - "start" (a builtin made by lind_grate_function(0)) starts a prepared call
 *   (wasmtime_func_call_async over buffers that never move, their addresses in one struct the
 *   Python side owns), polls it once and deletes it if it finished: one call from Python
 *   instead of three through ctypes. It returns 0 when the call finished (1 if with a trap or
 *   an error), else the future's address (the Python driver polls and deletes it). The GIL is
 *   released around the wasmtime calls, as ctypes does (the poll runs guest code, whose imports
 *   take the GIL back on this same thread, and the epoch ticker needs it meanwhile).
 *   "call_pairs" (lind_grate_function(2)) first writes a grate entry's fourteen arguments.
 * - "step" (lind_grate_function(1)) steps a coroutine once with PyIter_Send: a handler that
 *   returns an int gives it back as is, without the StopIteration a Python-level send raises
 *   and catches (the costliest part of an async def Python grate hop); anything else comes
 *   back as (1, yielded) or (0, returned) for the general path. An exception propagates.
 *
 * - Forward.__await__ (lind_grate_await): see below.
 *
 * - The C hop (c_hop, wired by lind_grate_hop_init): a C grate's forward to the next C grate
 *   served here, without entering Python, once Python's entry has checked the same forward in
 *   full and linked it to the caller's prepared call; every assumption of the link is checked
 *   again on every call (see "the C hop" below). Measured: a C grate hop 2.6 -> 1.5 us.
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
static void Py_XIncRef(PyObject *op) { if (op != NULL) Py_IncRef(op); }
static void Py_XDecRef(PyObject *op) { if (op != NULL) Py_DecRef(op); }
extern PyObject *PyCFunction_NewEx(PyMethodDef *, PyObject *, PyObject *);
extern int PyIter_Send(PyObject *, PyObject *, PyObject **);
extern PyObject *Py_BuildValue(const char *, ...);
extern PyObject _Py_NoneStruct;
extern PyObject PyLong_Type;
extern PyObject *PyExc_StopIteration;
extern PyObject PyTuple_Type;
extern Py_ssize_t PyTuple_Size(PyObject *);
extern PyObject *PyTuple_GetItem(PyObject *, Py_ssize_t);
extern PyObject *PyTuple_New(Py_ssize_t);
extern int PyTuple_SetItem(PyObject *, Py_ssize_t, PyObject *);
extern void PyErr_SetObject(PyObject *, PyObject *);
extern PyObject *PyObject_GetAttr(PyObject *, PyObject *);
extern PyObject *PyUnicode_InternFromString(const char *);
extern PyObject *PyDescr_NewMethod(PyObject *, PyMethodDef *);
extern PyObject *PyType_GenericAlloc(PyObject *, Py_ssize_t);
extern void PyObject_Free(void *);

typedef struct {
	int slot;
	void *pfunc;
} PyType_Slot;
typedef struct {
	const char *name;
	int basicsize;
	int itemsize;
	unsigned int flags;
	PyType_Slot *slots;
} PyType_Spec;
extern PyObject *PyType_FromSpec(PyType_Spec *);
#define METH_NOARGS 0x0004
#define TPFLAGS_DEFAULT (1UL << 18)
#define SLOT_TP_DEALLOC 52
#define SLOT_TP_ITER 62
#define SLOT_TP_ITERNEXT 63
#define SLOT_AM_SEND 81

/* The type of an object: its second word (every release build's PyObject header). */
static PyObject *type_of(PyObject *op) { return *(PyObject **)((char *)op + sizeof(Py_ssize_t)); }

/* The prepared call whose first poll runs on this thread now (innermost: set by run_raw), and
 * the store whose lind.threei_call the trampoline serves now: the C hop (below) acts only for a
 * call from the store of ``cur``, and Python links a hop only to that call. */
struct prepared;
static __thread struct prepared *cur;
static __thread void *entry_ctx;
static int c_hop(void *ctx, const unsigned char *vals, int32_t nr, int64_t target, int64_t *res);
typedef void *(*caller_ctx_fn)(void *);
static caller_ctx_fn caller_context; /* wasmtime_caller_context, once the hop is wired */

/* ---- lind.threei_call ---------------------------------------------------------------------- */
typedef void *(*trap_new_fn)(const char *, size_t);

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
	(void)n;
	PyGILState_STATE gil = PyGILState_Ensure();
	int32_t number;
	int64_t slot;
	memcpy(&number, vals, sizeof number);
	memcpy(&slot, vals + 16, sizeof slot);
	void *ctx = caller_context != NULL ? caller_context(caller) : NULL;
	int64_t hopped = 0;
	if (ctx != NULL && c_hop(ctx, vals, number, slot, &hopped)) {
		memcpy(vals, &hopped, sizeof hopped);
		void *kept = lind_threei_trap;
		lind_threei_trap = NULL;
		PyGILState_Release(gil);
		return kept;
	}
	/* entry(nr, target, (a1, ..., a6), (a1cage, ..., a6cage)) */
	PyObject *args[4];
	args[0] = PyLong_FromLongLong(number);
	args[1] = PyLong_FromLongLong(slot);
	args[2] = PyTuple_New(6);
	args[3] = PyTuple_New(6);
	int made = args[0] != NULL && args[1] != NULL && args[2] != NULL && args[3] != NULL;
	for (int i = 0; made && i < 12; i++) {
		memcpy(&slot, vals + 16 * (2 + i), sizeof slot);
		PyObject *value = PyLong_FromLongLong(slot);
		if (value == NULL) {
			made = 0;
			break;
		}
		PyTuple_SetItem(args[2 + (i & 1)], i >> 1, value); /* (steals the reference) */
	}
	PyObject *result = NULL;
	void *outer_ctx = entry_ctx;
	entry_ctx = ctx;
	if (made) result = PyObject_Vectorcall(threei_entry, args, 4, NULL);
	entry_ctx = outer_ctx;
	for (int i = 0; i < 4; i++)
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
	/* The rest serves the C hop (below); the Python side sets owner and kind once. */
	PyObject *owner;  /* the PreparedCall this belongs to (borrowed: it owns this struct) */
	int64_t kind;     /* the result's kind (0 i32, 1 i64, -1 none) */
	PyObject *link;   /* borrowed: the PreparedCall's _link slot holds it; NULL: none */
	int64_t link_nr, link_target, link_gen, link_handler;
};

void lind_grate_init(void *call_async_addr, void *poll_addr, void *delete_addr,
                     void *deadline_addr) {
	call_async = (call_async_fn)call_async_addr;
	future_poll = (poll_fn)poll_addr;
	future_delete = (delete_fn)delete_addr;
	set_deadline = (deadline_fn)deadline_addr;
}

/* Start the call, poll it once and delete it if it finished: 0 (finished), 1 (finished with a
 * trap or an error in the out-slots), else the pending future. Called with the GIL held. */
static uintptr_t run_raw(struct prepared *p, long fresh) {
	struct prepared *outer = cur;
	void *saved = PyEval_SaveThread();
	if (fresh) set_deadline(p->ctx, 1);
	void *fut = call_async(p->ctx, p->func, p->argv, p->nparams, p->resv, p->nresults, p->trap,
	                       p->err);
	cur = p;
	uintptr_t status = 0;
	if (future_poll(fut)) {
		future_delete(fut);
		fut = NULL;
		status = *(void **)p->trap != NULL || *(void **)p->err != NULL;
	}
	cur = outer;
	PyEval_RestoreThread(saved);
	return fut != NULL ? (uintptr_t)fut : status;
}

static PyObject *run(struct prepared *p, long fresh) {
	uintptr_t out = run_raw(p, fresh);
	return out > 1 ? PyLong_FromVoidPtr((void *)out) : PyLong_FromLongLong((long long)out);
}

static struct prepared *prepared_arg(PyObject *addr, PyObject *flag, long *fresh) {
	struct prepared *p = (struct prepared *)PyLong_AsVoidPtr(addr);
	*fresh = PyLong_AsLong(flag);
	if (PyErr_Occurred() != NULL) return NULL;
	if (p == NULL) PyErr_SetString(PyExc_TypeError, "a null prepared call");
	return p;
}

/* start(prepared address, give a fresh epoch slice) -> run()'s result */
static PyObject *start(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	(void)self;
	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "start(prepared, fresh_slice)");
		return NULL;
	}
	long fresh;
	struct prepared *p = prepared_arg(args[0], args[1], &fresh);
	return p == NULL ? NULL : run(p, fresh);
}

/* call_pairs(prepared, fresh, first, second, values, tags): the arguments of a 14-parameter
 * entry (first, second, values[0], tags[0], ...) written into its wasmtime_val_t array (the value
 * is each 32-byte slot's second word; every int wrapped to 64 bits, as ctypes stores it), then
 * run()'s result; -2 before anything ran when the arguments have another shape. */
static PyObject *call_pairs(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	(void)self;
	if (nargs != 6) {
		PyErr_SetString(PyExc_TypeError, "call_pairs(prepared, fresh, first, second, values, tags)");
		return NULL;
	}
	long fresh;
	struct prepared *p = prepared_arg(args[0], args[1], &fresh);
	if (p == NULL) return NULL;
	PyObject *values = args[4], *tags = args[5];
	if (p->nparams != 14 || type_of(values) != &PyTuple_Type || type_of(tags) != &PyTuple_Type ||
	    PyTuple_Size(values) != 6 || PyTuple_Size(tags) != 6)
		return PyLong_FromLongLong(-2);
	int64_t *words = (int64_t *)p->argv;
	words[1] = (int64_t)PyLong_AsUnsignedLongLongMask(args[2]);
	words[5] = (int64_t)PyLong_AsUnsignedLongLongMask(args[3]);
	for (int i = 0; i < 6; i++) {
		words[9 + 8 * i] = (int64_t)PyLong_AsUnsignedLongLongMask(PyTuple_GetItem(values, i));
		words[13 + 8 * i] = (int64_t)PyLong_AsUnsignedLongLongMask(PyTuple_GetItem(tags, i));
	}
	if (PyErr_Occurred() != NULL) { /* not ints: the Python path decides (and reports) */
		PyErr_Clear();
		return PyLong_FromLongLong(-2);
	}
	return run(p, fresh);
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
		if (type_of(out) == &PyLong_Type) return out;
	} else if (status != PYGEN_NEXT) {
		return NULL; /* the exception it raised propagates */
	}
	PyObject *pair = Py_BuildValue("(iO)", status == PYGEN_NEXT, out);
	Py_DecRef(out);
	return pair;
}

/* ---- awaiting a forward that already has its result ------------------------------------- */
/* Forward.__await__ as a method descriptor: a result already there (an exact int in _value)
 * comes back through a small iterator whose am_send returns it at once (no generator frame, no
 * StopIteration); anything else is the Python generator's (the original __await__). One such
 * iterator is kept and reused whenever its only reference is that one (an await consumes it at
 * once: the SEND right after GET_AWAITABLE), so the common await allocates nothing. */
typedef struct {
	Py_ssize_t ob_refcnt;
	PyObject *ob_type;
	PyObject *value;
} Ready;

static PyObject *ready_type;
static PyObject *forward_type;
static PyObject *value_name;
static PyObject *slow_await;

static int ready_send(PyObject *self, PyObject *arg, PyObject **result) {
	(void)arg;
	PyObject *value = ((Ready *)self)->value;
	Py_IncRef(value);
	*result = value;
	return PYGEN_RETURN;
}

static PyObject *ready_next(PyObject *self) {
	PyErr_SetObject(PyExc_StopIteration, ((Ready *)self)->value);
	return NULL;
}

static PyObject *ready_iter(PyObject *self) {
	Py_IncRef(self);
	return self;
}

static void ready_dealloc(PyObject *self) {
	PyObject *type = type_of(self);
	Py_DecRef(((Ready *)self)->value);
	PyObject_Free(self);
	Py_DecRef(type); /* a heap type's instances hold a reference to it */
}

static PyType_Slot ready_slots[] = {
	{SLOT_AM_SEND, (void *)ready_send},
	{SLOT_TP_ITERNEXT, (void *)ready_next},
	{SLOT_TP_ITER, (void *)ready_iter},
	{SLOT_TP_DEALLOC, (void *)ready_dealloc},
	{0, NULL},
};

static PyType_Spec ready_spec = {"lind_async.ready", sizeof(Ready), 0, TPFLAGS_DEFAULT, ready_slots};

static Py_ssize_t value_offset; /* _value's slot in a Forward, 0: read it by name */
static Ready *spare; /* one Ready kept for reuse once nobody else holds it (refcount 1) */

static PyObject *forward_await(PyObject *self, PyObject *unused) {
	(void)unused;
	PyObject *value;
	if (value_offset > 0 && type_of(self) == forward_type) {
		value = *(PyObject **)((char *)self + value_offset);
		if (value == NULL) return PyObject_Vectorcall(slow_await, &self, 1, NULL);
		Py_IncRef(value);
	} else {
		value = PyObject_GetAttr(self, value_name);
		if (value == NULL) return NULL;
	}
	if (type_of(value) == &PyLong_Type) {
		Ready *ready = spare;
		if (ready != NULL && ready->ob_refcnt == 1) { /* only this reference: not in use */
			Py_IncRef((PyObject *)ready);
			PyObject *old = ready->value;
			ready->value = value;
			Py_DecRef(old);
			return (PyObject *)ready;
		}
		ready = (Ready *)PyType_GenericAlloc(ready_type, 0);
		if (ready == NULL) {
			Py_DecRef(value);
			return NULL;
		}
		ready->value = value;
		if (spare == NULL) { /* kept for the next await (its value replaced then) */
			Py_IncRef((PyObject *)ready);
			spare = ready;
		}
		return (PyObject *)ready;
	}
	Py_DecRef(value);
	return PyObject_Vectorcall(slow_await, &self, 1, NULL);
}

static PyMethodDef await_def = {"__await__", (void *)forward_await, METH_NOARGS,
                                "the forwarded call's result (awaitable)"};

/* The offset of slot ``name`` in instances of ``type`` (a class with __slots__), read from its
 * member descriptor (CPython's PyMemberDescrObject: the header, d_type, d_name, d_qualname, then
 * the PyMemberDef, whose name and offset are its first and third fields); 0 when it is not a
 * member descriptor or not what that layout says (its member's name differs): the slot is then
 * read by name. */
extern PyObject *PyObject_GetAttrString(PyObject *, const char *);
extern PyObject PyMemberDescr_Type;
extern const char *PyUnicode_AsUTF8(PyObject *);
static Py_ssize_t slot_offset(PyObject *type, const char *name) {
	PyObject *descr = PyObject_GetAttrString(type, name);
	if (descr == NULL) {
		PyErr_Clear();
		return 0;
	}
	Py_ssize_t offset = 0;
	if (type_of(descr) != &PyMemberDescr_Type) {
		Py_DecRef(descr);
		return 0;
	}
	struct member {
		const char *name;
		int type;
		Py_ssize_t offset;
	} *def = *(struct member **)((char *)descr + 2 * sizeof(void *) + 3 * sizeof(void *));
	if (def != NULL && def->name != NULL && strcmp(def->name, name) == 0 &&
	    def->offset >= (Py_ssize_t)(2 * sizeof(void *)))
		offset = def->offset;
	Py_DecRef(descr);
	return offset;
}

/* A new reference to the __await__ descriptor for class ``forward`` (whose ``_value`` holds the
 * result or an awaitable), falling back to ``slow(self)``; NULL on failure. */
PyObject *lind_grate_await(PyObject *forward, PyObject *slow) {
	if (ready_type == NULL) {
		value_name = PyUnicode_InternFromString("_value");
		if (value_name == NULL) return NULL;
		ready_type = PyType_FromSpec(&ready_spec);
		if (ready_type == NULL) return NULL;
	}
	Py_IncRef(slow);
	slow_await = slow;
	Py_IncRef(forward);
	forward_type = forward;
	value_offset = slot_offset(forward, "_value");
	return PyDescr_NewMethod(forward, &await_def);
}

/* ---- objects with __slots__ made in one call ------------------------------------------------ */
/* make(v0, v1, ...): a new instance of a class with __slots__ (allocated as object.__new__ does)
 * with slot i set to v_i, each slot found by its offset (slot_offset). The hop makes a Call and
 * a forward a Forward this way: one builtin call instead of object.__new__ and a store per
 * slot. */
#define MAX_SLOTS 8
struct maker {
	PyObject *type;
	Py_ssize_t n;
	Py_ssize_t offsets[MAX_SLOTS];
};
static struct maker makers[4];
static int makers_used;

static PyObject *make(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	struct maker *m = (struct maker *)PyLong_AsVoidPtr(self);
	if (m == NULL) return NULL;
	if (nargs != m->n) {
		PyErr_SetString(PyExc_TypeError, "make: one value per slot");
		return NULL;
	}
	PyObject *obj = PyType_GenericAlloc(m->type, 0); /* zeroed: every slot unset */
	if (obj == NULL) return NULL;
	for (Py_ssize_t i = 0; i < nargs; i++) {
		Py_IncRef(args[i]);
		*(PyObject **)((char *)obj + m->offsets[i]) = args[i];
	}
	return obj;
}

static PyMethodDef make_def = {"make", (void *)make, METH_FASTCALL, "an instance, its slots set"};

/* A new reference to a maker for ``type`` whose arguments fill the slots ``names`` (a tuple of
 * str), or NULL (no exception set) when a name is not a slot this code can find. */
PyObject *lind_grate_maker(PyObject *type, PyObject *names) {
	if (makers_used >= (int)(sizeof makers / sizeof makers[0])) return NULL;
	Py_ssize_t n = PyTuple_Size(names);
	if (n < 0) {
		PyErr_Clear();
		return NULL;
	}
	if (n > MAX_SLOTS) return NULL;
	struct maker *m = &makers[makers_used];
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *name = PyUnicode_AsUTF8(PyTuple_GetItem(names, i));
		if (name == NULL) {
			PyErr_Clear();
			return NULL;
		}
		m->offsets[i] = slot_offset(type, name);
		if (m->offsets[i] <= 0) return NULL;
	}
	PyObject *key = PyLong_FromVoidPtr(m);
	if (key == NULL) {
		PyErr_Clear();
		return NULL;
	}
	PyObject *fn = PyCFunction_NewEx(&make_def, key, NULL);
	Py_DecRef(key);
	if (fn == NULL) {
		PyErr_Clear();
		return NULL;
	}
	Py_IncRef(type);
	m->type = type;
	m->n = n;
	makers_used++;
	return fn;
}

/* ---- the C hop ------------------------------------------------------------------------------ */
/* A C grate forwarding a call to the next C grate, in the steady state, without Python's frames:
 * threei/guest_import.py's fast path, once it has checked a forward in full, *links* it to the
 * caller's prepared call (the worker whose handler made it): a tuple of the objects it found
 * (see LINK_* below) and, in the struct, the call number, target, handler and the 3i tables'
 * generation. A later lind.threei_call from the store of that same prepared call (``cur``, its
 * context compared with the wasm caller's) with the same number and target, every owner word
 * equal to the target, runs here when everything the link assumed still holds:
 *
 *   - no route changed anywhere (ThreeI's generation: every table edit counts it);
 *   - the caller, the originating cage and the grate are not exited (their lifecycles' status),
 *     neither the caller nor the grate is dying (kill_status), the grate has not exec'd (its
 *     instance is still the one its pool was made from), and the pool has an idle worker;
 *   - authority.acts_for(counts, caller, target) says yes: it is asked on every call, never
 *     cached (a call of the target in flight through the caller, or the caller itself).
 *
 * The hop then does what the Python path does: counts the call in flight through the grate,
 * pops a worker, writes the entry's fourteen argument words straight from the guest's slots,
 * registers the worker's call as live and current, starts and polls it (run_raw), and, if it
 * finished with a result, releases the worker and the count. Anything else after the start (a
 * trap, an error, a handler that waits, a caller killed meanwhile) goes to Python's tail
 * (guest_import._c_hop_tail / _c_hop_killed), which finishes it as the Python path would.
 * Whatever does not hold before the start leaves everything untouched and returns 0: the
 * Python entry serves the call (and checks it in full).
 *
 * A forward with no route (RawPOSIX's) is linked the same way, with no grate (LINK_GRATE None):
 * after the same checks of the caller, the originating cage, the routes' generation and the
 * authority, guest_import._c_rawposix(caller, origin, nr, args) runs it, without the Python
 * entry's frame and lookups. */
enum {
	LINK_THREEI, LINK_COUNTS, LINK_KEY, LINK_ACTS_FOR, LINK_CALLER_ID, LINK_TARGET,
	LINK_CALLER_LIFE, LINK_ORIGIN_LIFE, LINK_GRATE_LIFE, LINK_GRATE, LINK_MAIN, LINK_POOL,
	LINK_IDLE, LINK_ORIGIN, LINK_RAWPOSIX, LINK_SIZE
};

extern Py_ssize_t PyList_Size(PyObject *);
extern PyObject *PyList_GetItem(PyObject *, Py_ssize_t);
extern int PyList_SetSlice(PyObject *, Py_ssize_t, Py_ssize_t, PyObject *);
extern int PyList_Append(PyObject *, PyObject *);
extern PyObject *PyDict_GetItem(PyObject *, PyObject *);
extern int PyDict_SetItem(PyObject *, PyObject *, PyObject *);
extern int PyDict_DelItem(PyObject *, PyObject *);
extern int PyObject_SetAttr(PyObject *, PyObject *, PyObject *);
extern int PyObject_IsTrue(PyObject *);
extern long long PyLong_AsLongLong(PyObject *);
extern PyObject _Py_TrueStruct, _Py_FalseStruct;
extern PyObject PyList_Type, PyDict_Type;

static int hop_ready;
uint64_t lind_c_hops; /* hops served here (read by tests through threei/native.py) */
static PyObject *live_calls;   /* fiber._live_calls */
static PyObject *fiber_dict;   /* fiber's module dict (its _current) */
static PyObject *hop_tail;     /* guest_import._c_hop_tail(link, worker, out) */
static PyObject *hop_killed;   /* guest_import._c_hop_killed(result) */
static PyObject *hop_wake;     /* wasm_grates' pool wake-up: wake(pool) */
static PyObject *t_life, *t_worker, *t_prepared, *t_call, *t_threei; /* the slots' classes */
static PyObject *n_current, *n_live, *n_closed, *n_ticks, *n_instance, *n_waiting;
static Py_ssize_t off_status, off_kill, off_entry, off_ref, off_call, off_inst, off_ticker,
	off_ticks_at, off_key, off_exc, off_gen;

static PyObject *slot_of(PyObject *obj, Py_ssize_t off) { return *(PyObject **)((char *)obj + off); }
static PyObject *link_item(PyObject *link, int i) {
	return ((PyObject **)((char *)link + 3 * sizeof(void *)))[i]; /* a tuple's ob_item */
}
static int is_none(PyObject *obj) { return obj == &_Py_NoneStruct; }

/* 1 if attribute ``name`` of ``obj`` is the object ``want``, 0 if not (or on failure). */
static int attr_is(PyObject *obj, PyObject *name, PyObject *want) {
	PyObject *got = PyObject_GetAttr(obj, name);
	if (got == NULL) {
		PyErr_Clear();
		return 0;
	}
	Py_DecRef(got);
	return got == want;
}

/* counts[key] += delta (deleted at 0); -1 on failure (an exception set). */
static int count(PyObject *counts, PyObject *key, long long delta) {
	PyObject *now = PyDict_GetItem(counts, key);
	long long n = now != NULL ? PyLong_AsLongLong(now) : 0;
	if (n == -1 && PyErr_Occurred() != NULL) return -1;
	n += delta;
	if (n <= 0) return now != NULL ? PyDict_DelItem(counts, key) : 0;
	PyObject *value = PyLong_FromLongLong(n);
	if (value == NULL) return -1;
	int rc = PyDict_SetItem(counts, key, value);
	Py_DecRef(value);
	return rc;
}

/* authority.acts_for(counts, caller, target), asked (1: yes). */
static int acts_for(PyObject *link) {
	PyObject *ask[3] = {link_item(link, LINK_COUNTS), link_item(link, LINK_CALLER_ID),
	                    link_item(link, LINK_TARGET)};
	PyObject *yes = PyObject_Vectorcall(link_item(link, LINK_ACTS_FOR), ask, 3, NULL);
	if (yes == NULL) PyErr_Clear();
	else Py_DecRef(yes);
	return yes == &_Py_TrueStruct;
}

/* What a Python finisher returned (a new reference, or NULL with an exception set), as the
 * import's result: its int, else a trap (unless the finisher kept one already). */
static void settle(PyObject *result, int64_t *res) {
	int64_t value = 0;
	if (result != NULL) value = (int64_t)PyLong_AsUnsignedLongLongMask(result);
	if (result == NULL || PyErr_Occurred() != NULL) {
		PyErr_Clear();
		if (lind_threei_trap == NULL)
			lind_threei_trap = trap_new(threei_failed, sizeof threei_failed - 1);
	}
	Py_XDecRef(result);
	*res = value;
}

/* A linked forward to RawPOSIX (the link names no grate), its checks above passed:
 * guest_import._c_rawposix(caller, origin, nr, (a1, ..., a6)) runs it. */
static int c_rawposix(PyObject *link, const unsigned char *vals, int32_t nr, int64_t *res) {
	if (!acts_for(link)) return 0;
	PyObject *args = PyTuple_New(6);
	PyObject *number = PyLong_FromLongLong(nr);
	int made = args != NULL && number != NULL;
	for (int i = 0; made && i < 6; i++) {
		int64_t word;
		memcpy(&word, vals + 16 * (2 + 2 * i), sizeof word);
		PyObject *value = PyLong_FromLongLong(word);
		if (value == NULL) made = 0;
		else PyTuple_SetItem(args, i, value); /* (steals the reference) */
	}
	if (!made) { /* (no memory): nothing ran; the Python entry gets the call */
		PyErr_Clear();
		Py_XDecRef(args);
		Py_XDecRef(number);
		return 0;
	}
	lind_c_hops++;
	Py_IncRef(link);
	PyObject *call[4] = {link_item(link, LINK_CALLER_ID), link_item(link, LINK_ORIGIN), number,
	                     args};
	PyObject *result = PyObject_Vectorcall(link_item(link, LINK_RAWPOSIX), call, 4, NULL);
	Py_DecRef(number);
	Py_DecRef(args);
	settle(result, res);
	Py_DecRef(link);
	return 1;
}

static int c_hop(void *ctx, const unsigned char *vals, int32_t nr, int64_t target, int64_t *res) {
	struct prepared *p = cur;
	if (!hop_ready || p == NULL || p->link == NULL || p->ctx != ctx || p->link_nr != nr ||
	    p->link_target != target)
		return 0;
	for (int i = 0; i < 6; i++) { /* every argument the target's own (owners == own_owners) */
		int64_t owner;
		memcpy(&owner, vals + 16 * (3 + 2 * i), sizeof owner);
		if (owner != target) return 0;
	}
	PyObject *link = p->link;
	if (type_of(link) != &PyTuple_Type || PyTuple_Size(link) != LINK_SIZE) return 0;
	PyObject *caller_life = link_item(link, LINK_CALLER_LIFE);
	PyObject *origin_life = link_item(link, LINK_ORIGIN_LIFE);
	PyObject *threei = link_item(link, LINK_THREEI);
	if (type_of(caller_life) != t_life || type_of(origin_life) != t_life ||
	    type_of(threei) != t_threei)
		return 0; /* (every slot below is read at its class's offset: checked first) */
	PyObject *gen = slot_of(threei, off_gen);
	if (gen == NULL || type_of(gen) != &PyLong_Type || PyLong_AsLongLong(gen) != p->link_gen)
		return 0;
	if (!is_none(slot_of(caller_life, off_status)) || !is_none(slot_of(caller_life, off_kill)) ||
	    !is_none(slot_of(origin_life, off_status)))
		return 0;
	if (is_none(link_item(link, LINK_GRATE))) return c_rawposix(link, vals, nr, res);
	PyObject *grate_life = link_item(link, LINK_GRATE_LIFE);
	if (type_of(grate_life) != t_life || !is_none(slot_of(grate_life, off_status)) ||
	    !is_none(slot_of(grate_life, off_kill)))
		return 0;
	PyObject *idle = link_item(link, LINK_IDLE);
	if (type_of(idle) != &PyList_Type) return 0;
	Py_ssize_t n = PyList_Size(idle);
	if (n <= 0 || !attr_is(link_item(link, LINK_GRATE), n_instance, link_item(link, LINK_MAIN)))
		return 0;
	PyObject *worker = PyList_GetItem(idle, n - 1);
	if (worker == NULL || type_of(worker) != t_worker) {
		PyErr_Clear();
		return 0;
	}
	PyObject *entry = slot_of(worker, off_entry);
	if (entry == NULL || type_of(entry) != t_prepared) return 0;
	PyObject *inst = slot_of(entry, off_inst), *call = slot_of(entry, off_call);
	PyObject *ref = slot_of(entry, off_ref), *ticker = slot_of(entry, off_ticker);
	PyObject *at = slot_of(entry, off_ticks_at);
	if (inst == NULL || call == NULL || ref == NULL || ticker == NULL || at == NULL ||
	    type_of(call) != t_call || type_of(at) != &PyLong_Type || type_of(ref) != &PyLong_Type ||
	    !attr_is(inst, n_live, &_Py_FalseStruct) || !attr_is(inst, n_closed, &_Py_FalseStruct))
		return 0;
	struct prepared *q = (struct prepared *)PyLong_AsVoidPtr(ref);
	PyObject *key = slot_of(call, off_key);
	PyObject *ticks = PyObject_GetAttr(ticker, n_ticks);
	if (q == NULL || q->nparams != 14 || key == NULL || ticks == NULL) {
		PyErr_Clear();
		Py_XDecRef(ticks);
		return 0;
	}
	if (!acts_for(link)) {
		Py_DecRef(ticks);
		return 0;
	}
	PyObject *counts = link_item(link, LINK_COUNTS);
	/* Everything holds: the hop. From here on the call is this code's to finish. */
	PyObject *in_flight = link_item(link, LINK_KEY);
	Py_IncRef(link);
	Py_IncRef(worker);
	long fresh = PyLong_AsLongLong(ticks) != PyLong_AsLongLong(at);
	int counted = count(counts, in_flight, 1) == 0;
	if (!counted || PyList_SetSlice(idle, n - 1, n, NULL) < 0) {
		/* (no memory): nothing ran; the Python entry gets the call */
		PyErr_Clear();
		if (counted) count(counts, in_flight, -1);
		PyErr_Clear();
		Py_DecRef(worker);
		Py_DecRef(link);
		Py_DecRef(ticks);
		return 0;
	}
	lind_c_hops++;
	if (fresh) {
		PyObject **slotp = (PyObject **)((char *)entry + off_ticks_at);
		PyObject *old = *slotp;
		*slotp = ticks; /* (the reference taken by GetAttr) */
		Py_DecRef(old);
	} else {
		Py_DecRef(ticks);
	}
	int64_t *words = (int64_t *)q->argv;
	words[1] = p->link_handler;
	words[5] = target;
	for (int i = 0; i < 6; i++) {
		memcpy(&words[9 + 8 * i], vals + 16 * (2 + 2 * i), sizeof(int64_t));
		words[13 + 8 * i] = target;
	}
	PyObject_SetAttr(inst, n_live, &_Py_TrueStruct);
	PyDict_SetItem(live_calls, key, call);
	PyObject *prev = PyDict_GetItem(fiber_dict, n_current);
	Py_XIncRef(prev);
	PyDict_SetItem(fiber_dict, n_current, call);
	uintptr_t out = run_raw(q, fresh);
	PyDict_SetItem(fiber_dict, n_current, prev != NULL ? prev : &_Py_NoneStruct);
	Py_XDecRef(prev);
	PyErr_Clear();
	PyObject *result = NULL;
	if (out == 0 && is_none(slot_of(call, off_exc))) { /* finished with its result */
		PyDict_DelItem(live_calls, key);
		PyObject_SetAttr(inst, n_live, &_Py_FalseStruct);
		int64_t value = 0;
		if (q->kind == 0) value = (int32_t)((int64_t *)q->resv)[1];
		else if (q->kind > 0) value = ((int64_t *)q->resv)[1];
		PyList_Append(idle, worker);
		PyObject *waiting = PyObject_GetAttr(link_item(link, LINK_POOL), n_waiting);
		if (waiting != NULL && PyObject_IsTrue(waiting) > 0) {
			PyObject *pool = link_item(link, LINK_POOL);
			PyObject *r = PyObject_Vectorcall(hop_wake, &pool, 1, NULL);
			Py_XDecRef(r);
		}
		Py_XDecRef(waiting);
		count(counts, in_flight, -1);
		PyErr_Clear();
		if (is_none(slot_of(caller_life, off_kill))) {
			*res = value;
		} else { /* the caller was killed meanwhile: it waits (Python parks it) */
			PyObject *v = PyLong_FromLongLong(value);
			result = v != NULL ? PyObject_Vectorcall(hop_killed, &v, 1, NULL) : NULL;
			Py_XDecRef(v);
		}
	} else { /* a trap, an error, or a handler that waits: Python's tail finishes it */
		PyObject *o = PyLong_FromVoidPtr((void *)out);
		PyObject *tail_args[3] = {link, worker, o};
		result = o != NULL ? PyObject_Vectorcall(hop_tail, tail_args, 3, NULL) : NULL;
		Py_XDecRef(o);
	}
	if (result != NULL || PyErr_Occurred() != NULL) settle(result, res);
	Py_DecRef(worker);
	Py_DecRef(link);
	return 1;
}

/* current_entry() -> the PreparedCall whose store's lind.threei_call is being served, if that
 * call runs in a first poll started here (the one a hop can be linked to), else None. */
static PyObject *current_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	(void)self;
	(void)args;
	(void)nargs;
	PyObject *owner = cur != NULL && cur->ctx == entry_ctx && entry_ctx != NULL ? cur->owner : NULL;
	if (owner == NULL) owner = &_Py_NoneStruct;
	Py_IncRef(owner);
	return owner;
}

static PyObject *kept(PyObject *obj) { /* a reference kept for the process */
	Py_IncRef(obj);
	return obj;
}

/* Wire the C hop: 1 when every slot was found (else the hop stays off). ``classes`` is
 * (Lifecycle, _Worker, PreparedCall, _Call, ThreeI). */
int lind_grate_hop_init(PyObject *calls, PyObject *fiber_globals, PyObject *tail, PyObject *killed,
                        PyObject *wake, PyObject *classes, void *caller_ctx) {
	if (PyTuple_Size(classes) != 5) {
		PyErr_Clear();
		return 0;
	}
	PyObject *life = PyTuple_GetItem(classes, 0), *wk = PyTuple_GetItem(classes, 1);
	PyObject *prep = PyTuple_GetItem(classes, 2), *callc = PyTuple_GetItem(classes, 3);
	PyObject *threei = PyTuple_GetItem(classes, 4);
	off_status = slot_offset(life, "status");
	off_kill = slot_offset(life, "kill_status");
	off_entry = slot_offset(wk, "entry");
	off_ref = slot_offset(prep, "_prepared_ref");
	off_call = slot_offset(prep, "_call");
	off_inst = slot_offset(prep, "instance");
	off_ticker = slot_offset(prep, "_ticker");
	off_ticks_at = slot_offset(prep, "_ticks_at_deadline");
	off_key = slot_offset(callc, "key");
	off_exc = slot_offset(callc, "exc");
	off_gen = slot_offset(threei, "generation");
	if (!off_status || !off_kill || !off_entry || !off_ref || !off_call || !off_inst ||
	    !off_ticker || !off_ticks_at || !off_key || !off_exc || !off_gen ||
	    type_of(calls) != &PyDict_Type || type_of(fiber_globals) != &PyDict_Type)
		return 0;
	n_current = PyUnicode_InternFromString("_current");
	n_live = PyUnicode_InternFromString("_live");
	n_closed = PyUnicode_InternFromString("closed");
	n_ticks = PyUnicode_InternFromString("ticks");
	n_instance = PyUnicode_InternFromString("instance");
	n_waiting = PyUnicode_InternFromString("waiting");
	if (!n_current || !n_live || !n_closed || !n_ticks || !n_instance || !n_waiting) {
		PyErr_Clear();
		return 0;
	}
	t_life = kept(life);
	t_worker = kept(wk);
	t_prepared = kept(prep);
	t_call = kept(callc);
	t_threei = kept(threei);
	live_calls = kept(calls);
	fiber_dict = kept(fiber_globals);
	hop_tail = kept(tail);
	hop_killed = kept(killed);
	hop_wake = kept(wake);
	caller_context = (caller_ctx_fn)caller_ctx;
	hop_ready = 1;
	return 1;
}

static PyMethodDef functions[] = {
	{"start", (void *)start, METH_FASTCALL, "start and poll a prepared call once"},
	{"step", (void *)step, METH_FASTCALL, "step a coroutine once"},
	{"call_pairs", (void *)call_pairs, METH_FASTCALL, "write a grate entry's arguments, start"},
	{"current_entry", (void *)current_entry, METH_FASTCALL, "the prepared call a hop links to"},
};

/* A new reference to builtin ``which`` (0: start, 1: step, 2: call_pairs, 3: current_entry), or
 * NULL. */
PyObject *lind_grate_function(int which) {
	if (which < 0 || which > 3) return NULL;
	return PyCFunction_NewEx(&functions[which], NULL, NULL);
}
