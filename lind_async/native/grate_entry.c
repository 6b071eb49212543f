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
 *   "call_pairs" (lind_grate_function(1)) first writes a grate entry's fourteen arguments.
 * - A Python grate's hop (grate_python.c's "run", made over the Call maker by
 *   lind_grate_python_hop): the in-flight count, the hop's Call, the handler (a coroutine
 *   stepped once with PyIter_Send: a handler that returns an int gives it back without the
 *   StopIteration a Python-level send raises and catches) and, when it simply gave an int, the
 *   count's release, in one builtin call; anything else goes back to route.resume. Call.forward
 *   as a method descriptor there too: its unchanged forward to a Python grate below or to
 *   RawPOSIX without the Python method's frame.
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

#include "entry_result.h" /* the entry's answer as the host function's */

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
	void *trap = entry_result(result, vals, &lind_threei_trap, trap_new, threei_failed,
				  sizeof threei_failed - 1);
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
#define POOL 8
struct maker {
	PyObject *type;
	Py_ssize_t n;
	Py_ssize_t offsets[MAX_SLOTS];
	int pooled;           /* reuse an instance nobody else holds (pool[i] with refcount 1) */
	PyObject *pool[POOL]; /* (a pooled maker's instances hold nothing that keeps anything alive:
	                       * its callers pass ints, None and long-lived objects only) */
};
static struct maker makers[4];
static int makers_used;

static PyObject *make_instance(struct maker *m, PyObject *const *args, Py_ssize_t nargs) {
	PyObject **free_entry = NULL;
	if (m->pooled) {
		for (int k = 0; k < POOL; k++) {
			PyObject *obj = m->pool[k];
			if (obj == NULL) {
				if (free_entry == NULL) free_entry = &m->pool[k];
			} else if (*(Py_ssize_t *)obj == 1) { /* only the pool holds it: not in use */
				for (Py_ssize_t i = 0; i < nargs; i++) {
					PyObject **at = (PyObject **)((char *)obj + m->offsets[i]);
					PyObject *old = *at;
					Py_IncRef(args[i]);
					*at = args[i];
					Py_XDecRef(old);
				}
				Py_IncRef(obj);
				return obj;
			}
		}
	}
	PyObject *obj = PyType_GenericAlloc(m->type, 0); /* zeroed: every slot unset */
	if (obj == NULL) return NULL;
	for (Py_ssize_t i = 0; i < nargs; i++) {
		Py_IncRef(args[i]);
		*(PyObject **)((char *)obj + m->offsets[i]) = args[i];
	}
	if (free_entry != NULL) { /* kept for reuse once its user lets it go */
		Py_IncRef(obj);
		*free_entry = obj;
	}
	return obj;
}

static PyObject *make(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
	struct maker *m = (struct maker *)PyLong_AsVoidPtr(self);
	if (m == NULL) return NULL;
	if (nargs != m->n) {
		PyErr_SetString(PyExc_TypeError, "make: one value per slot");
		return NULL;
	}
	return make_instance(m, args, nargs);
}

static PyMethodDef make_def = {"make", (void *)make, METH_FASTCALL, "an instance, its slots set"};

/* A new reference to a maker for ``type`` whose arguments fill the slots ``names`` (a tuple of
 * str), or NULL (no exception set) when a name is not a slot this code can find. A ``pooled``
 * maker keeps up to POOL of its instances and hands one out again once nothing else holds it
 * (its refcount is the pool's alone), its slots replaced: no allocation and no deallocation. */
PyObject *lind_grate_maker(PyObject *type, PyObject *names, int pooled) {
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
	m->pooled = pooled;
	makers_used++;
	return fn;
}

#include "grate_hop.c"  /* the C hop (see its header) */
#include "grate_python.c"  /* the Python grate hop's steady state (see its header) */
