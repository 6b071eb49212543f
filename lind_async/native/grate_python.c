/* The Python grate hop's steady state: part of grate_entry.c (included there, one translation
 * unit: it uses that file's declarations, the Call maker and Forward's _value offset; the
 * library's build key covers this file too).
 *
 * run(counts, key, handler, grate, mv, origin, number, args, owners) is the part of every
 * Python grate hop between threei/route.py's decisions (which grate, the in-flight key) and
 * its slow paths, in one builtin call instead of ~40 bytecodes:
 *
 *   1. counts[key] += 1 (the call in flight through the grate: its authority over the caller);
 *      the key's hash is computed once for this and step 5;
 *   2. the hop's Call, made by the Call maker (every slot set; effect None, _key the key);
 *   3. handler(call); a coroutine is stepped once (PyIter_Send: no StopIteration), a Forward
 *      already holding an int gives that int;
 *   4. if that is an int, the handler set no effect (call.effect is None) and nothing is deferred
 *      for the originating cage (origin.deferred is None):
 *   5. call._key = None, counts[key] -= 1 (the entry removed at 0), and the int is returned.
 *
 * Any other outcome returns (call, handler's result, stepped, None), or (call, None, None,
 * exception) when the handler raised, with the count still held: route.resume finishes it as
 * the Python path does (waits, effects, errors, a bad result). Nothing is decided here. */

extern PyObject PyCoro_Type;
extern PyObject *PyCFunction_GetSelf(PyObject *);
extern PyObject *PyObject_GetItem(PyObject *, PyObject *);
extern Py_ssize_t PyObject_Hash(PyObject *);
extern PyObject *PyDict_GetItemWithError(PyObject *, PyObject *);
extern PyObject *PyLong_FromLong(long);
extern PyObject *PyTuple_Pack(Py_ssize_t, ...);
extern void PyErr_Fetch(PyObject **, PyObject **, PyObject **);
extern void PyErr_Restore(PyObject *, PyObject *, PyObject *);
extern void PyErr_NormalizeException(PyObject **, PyObject **, PyObject **);
extern int PyException_SetTraceback(PyObject *, PyObject *);
/* CPython's known-hash dict calls (exported, not in the stable ABI): the public ones serve if
 * the running interpreter lacks them. */
extern PyObject *_PyDict_GetItem_KnownHash(PyObject *, PyObject *, Py_ssize_t)
	__attribute__((weak));
extern int _PyDict_SetItem_KnownHash(PyObject *, PyObject *, PyObject *, Py_ssize_t)
	__attribute__((weak));
extern int _PyDict_DelItem_KnownHash(PyObject *, PyObject *, Py_ssize_t) __attribute__((weak));

static PyObject *n_deferred;
static bool known_hash;

/* counts[key] += delta, the entry gone at 0 or below (route._leave's rule); -1 on error. */
static int count_add(PyObject *counts, PyObject *key, Py_ssize_t hash, long delta) {
	PyObject *old = known_hash ? _PyDict_GetItem_KnownHash(counts, key, hash)
	                           : PyDict_GetItemWithError(counts, key); /* borrowed */
	if (old == NULL && PyErr_Occurred() != NULL) return -1;
	long n = 0;
	if (old != NULL) {
		n = PyLong_AsLong(old);
		if (n == -1 && PyErr_Occurred() != NULL) return -1;
	}
	n += delta;
	if (n <= 0) {
		if (old == NULL) return 0;
		return known_hash ? _PyDict_DelItem_KnownHash(counts, key, hash)
		                  : PyDict_DelItem(counts, key);
	}
	PyObject *value = PyLong_FromLong(n);
	if (value == NULL) return -1;
	int done = known_hash ? _PyDict_SetItem_KnownHash(counts, key, value, hash)
	                      : PyDict_SetItem(counts, key, value);
	Py_DecRef(value);
	return done;
}

/* (call, None, None, the exception being raised, its traceback attached) */
static PyObject *raised_tuple(PyObject *call) {
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (value == NULL) { /* (cannot happen after a failed call: keep the contract anyway) */
		Py_XDecRef(type);
		Py_XDecRef(tb);
		PyErr_SetString(PyExc_TypeError, "a grate handler failed without an exception");
		return NULL;
	}
	if (tb != NULL) PyException_SetTraceback(value, tb);
	Py_XDecRef(type);
	Py_XDecRef(tb);
	PyObject *got = PyTuple_Pack(4, call, &_Py_NoneStruct, &_Py_NoneStruct, value);
	Py_DecRef(value);
	return got;
}

static PyObject *run_hop(struct maker *m, PyObject *const *a) {
	PyObject *counts = a[0], *key = a[1], *handler = a[2], *origin = a[5];
	Py_ssize_t hash = PyObject_Hash(key);
	if (hash == -1 || count_add(counts, key, hash, 1) < 0) return NULL;
	PyObject *values[8] = {a[3], a[4], a[5], a[6], a[7], a[8], &_Py_NoneStruct, key};
	PyObject *call = make_instance(m, values, 8);
	if (call == NULL) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		if (count_add(counts, key, hash, -1) < 0) PyErr_Clear();
		PyErr_Restore(type, value, tb);
		return NULL;
	}
	PyObject *result = PyObject_Vectorcall(handler, &call, 1, NULL);
	if (result == NULL) {
		PyObject *got = raised_tuple(call);
		Py_DecRef(call);
		return got;
	}
	PyObject *stepped; /* a new reference */
	if (type_of(result) == &PyCoro_Type) { /* stepped once, eagerly: most finish at once */
		PyObject *out = NULL;
		int status = PyIter_Send(result, &_Py_NoneStruct, &out);
		if (status == PYGEN_RETURN && type_of(out) == &PyLong_Type) {
			stepped = out;
		} else if (status == PYGEN_RETURN || status == PYGEN_NEXT) {
			stepped = Py_BuildValue("(iO)", status == PYGEN_NEXT, out);
			Py_DecRef(out);
		} else {
			stepped = NULL;
		}
		if (stepped == NULL) {
			PyObject *got = raised_tuple(call);
			Py_DecRef(result);
			Py_DecRef(call);
			return got;
		}
	} else {
		stepped = result;
		if (type_of(result) == forward_type && value_offset > 0) {
			PyObject *value = *(PyObject **)((char *)result + value_offset);
			if (value != NULL && type_of(value) == &PyLong_Type) stepped = value;
		}
		Py_IncRef(stepped);
	}
	PyObject **effect = (PyObject **)((char *)call + m->offsets[6]);
	if (type_of(stepped) == &PyLong_Type && *effect == &_Py_NoneStruct) {
		PyObject *deferred = PyObject_GetAttr(origin, n_deferred);
		if (deferred == NULL) PyErr_Clear(); /* (the slow path reads it again) */
		Py_XDecRef(deferred);
		if (deferred == &_Py_NoneStruct) { /* the common case: done */
			PyObject **at = (PyObject **)((char *)call + m->offsets[7]);
			PyObject *old = *at;
			Py_IncRef(&_Py_NoneStruct);
			*at = &_Py_NoneStruct; /* no longer in flight: a later forward is checked */
			Py_XDecRef(old);
			Py_DecRef(call);
			Py_DecRef(result);
			if (count_add(counts, key, hash, -1) < 0) {
				Py_DecRef(stepped);
				return NULL;
			}
			return stepped;
		}
	}
	PyObject *got = PyTuple_Pack(4, call, result, stepped, &_Py_NoneStruct);
	Py_DecRef(call);
	Py_DecRef(result);
	Py_DecRef(stepped);
	if (got == NULL) { /* (out of memory) the count is not left held */
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		if (count_add(counts, key, hash, -1) < 0) PyErr_Clear();
		PyErr_Restore(type, value, tb);
	}
	return got;
}

static PyObject *python_hop(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
	struct maker *m = (struct maker *)PyLong_AsVoidPtr(self);
	if (m == NULL) return NULL;
	if (nargs != 9 || type_of(a[0]) != &PyDict_Type) {
		PyErr_SetString(PyExc_TypeError, "run(counts, key, handler, *call's first six slots)");
		return NULL;
	}
	return run_hop(m, a);
}

static PyMethodDef python_hop_def = {"run", (void *)python_hop, METH_FASTCALL,
                                     "a Python grate's hop, its steady state"};

/* A new reference to ``run`` over the Call maker ``maker`` (lind_grate_maker's builtin for
 * route.CALL_SLOTS), or NULL (no exception set). */
PyObject *lind_grate_python_hop(PyObject *maker) {
	PyObject *key = PyCFunction_GetSelf(maker);
	struct maker *m = key == NULL ? NULL : (struct maker *)PyLong_AsVoidPtr(key);
	if (m == NULL || m->n != 8 || m->pooled) { /* route.CALL_SLOTS' eight */
		PyErr_Clear();
		return NULL;
	}
	if (n_deferred == NULL) {
		n_deferred = PyUnicode_InternFromString("deferred");
		if (n_deferred == NULL) {
			PyErr_Clear();
			return NULL;
		}
	}
	known_hash = _PyDict_GetItem_KnownHash != NULL && _PyDict_SetItem_KnownHash != NULL &&
	             _PyDict_DelItem_KnownHash != NULL;
	PyObject *fn = PyCFunction_NewEx(&python_hop_def, key, NULL);
	if (fn == NULL) PyErr_Clear();
	return fn;
}

/* ---- Call.forward() unchanged, to a Python grate below ----------------------------------- */
/* Call.forward as a method descriptor. With any argument it is the Python method (kept as
 * ``slow_forward``). Without: the Python method's hot path, read here instead of in ~40
 * bytecodes and a frame, when it leads to a Python grate below: the caller alive (origin.status
 * None), every argument the caller's (owners is origin.own_owners), the call in flight (_key not
 * None: the hop holds its count, which is the grate's authority over the caller), and the
 * grate's own table routing the number to a Python grate. Then run_hop, as Call.forward's Python
 * lines call route._run, and a Forward of the result (an int's from the pooled maker); with no
 * route, RawPOSIX's dispatch on the caller, as the Python method calls it. Anything else (a
 * wasm grate below; a check that fails; an attribute that is not what it should be) calls the
 * Python method before anything has happened, which decides it in full. A hop that did not simply give an int goes to ``forward_rest`` (Python:
 * route.resume, with the method's handling of GuestError and exits); an error of run_hop
 * itself to ``forward_failed``. */
static PyObject *call_type, *slow_forward, *forward_rest, *forward_failed, *dispatch;
static struct maker *hop_maker, *ready_maker;
enum { N_STATUS, N_OWN_OWNERS, N_TABLE, N_HANDLER_CAGE, N_PYTHON_GRATES, N_IN_FLIGHT, N_COUNTS,
       N_CAGE_ID, N_BOUND, N_NAMES };
static const char *const forward_names[N_NAMES] = {
	"status", "own_owners", "_table", "handler_cage", "python_grates", "in_flight", "counts",
	"cage_id", "_bound"};
static PyObject *fnames[N_NAMES];
enum { S_GRATE, S_MV, S_ORIGIN, S_NUMBER, S_ARGS, S_OWNERS, S_EFFECT, S_KEY }; /* CALL_SLOTS */

static PyObject *slot_at(PyObject *obj, int i) {
	return *(PyObject **)((char *)obj + hop_maker->offsets[i]); /* borrowed, may be NULL */
}

/* getattr(obj, fnames[i]) as a new reference, or NULL with no exception set */
static PyObject *attr(PyObject *obj, int i) {
	PyObject *v = PyObject_GetAttr(obj, fnames[i]);
	if (v == NULL) PyErr_Clear();
	return v;
}

static PyObject *call_slow(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
	PyObject *stack[16];
	Py_ssize_t total = nargs + (kwnames == NULL ? 0 : PyTuple_Size(kwnames));
	if (total > 15) {
		PyErr_SetString(PyExc_TypeError, "forward() takes at most five arguments");
		return NULL;
	}
	stack[0] = self;
	for (Py_ssize_t i = 0; i < total; i++) stack[i + 1] = args[i];
	return PyObject_Vectorcall(slow_forward, stack, (size_t)(nargs + 1), kwnames);
}

/* The Forward of a forwarded call's ``value`` (a new reference, stolen; NULL: the exception
 * raised, handled as the Python method's ``except``s do, by ``forward_failed``), or NULL. */
static PyObject *forward_value(PyObject *self, PyObject *value) {
	if (value == NULL) {
		PyObject *type, *exc, *tb;
		PyErr_Fetch(&type, &exc, &tb);
		PyErr_NormalizeException(&type, &exc, &tb);
		if (tb != NULL && exc != NULL) PyException_SetTraceback(exc, tb);
		Py_XDecRef(type);
		Py_XDecRef(tb);
		if (exc == NULL) return NULL;
		PyObject *fargs[2] = {self, exc};
		PyObject *made = PyObject_Vectorcall(forward_failed, fargs, 2, NULL);
		Py_DecRef(exc);
		return made;
	}
	PyObject *made;
	if (type_of(value) == &PyLong_Type) {
		PyObject *values[3] = {&_Py_NoneStruct, value, &_Py_NoneStruct};
		made = make_instance(ready_maker, values, 3);
	} else { /* an awaitable: Forward(self, value, None) */
		PyObject *fargs[3] = {self, value, &_Py_NoneStruct};
		made = PyObject_Vectorcall(forward_type, fargs, 3, NULL);
	}
	Py_DecRef(value);
	return made;
}

/* The Forward for a hop's outcome ``got`` (a new reference, stolen), or NULL. */
static PyObject *forward_of(PyObject *self, PyObject *below, PyObject *counts, PyObject *key,
                            PyObject *origin, PyObject *got) {
	if (got == NULL || type_of(got) == &PyLong_Type) return forward_value(self, got);
	PyObject *rargs[6] = {self, below, counts, key, origin, got};
	PyObject *made = PyObject_Vectorcall(forward_rest, rargs, 6, NULL);
	Py_DecRef(got);
	return made;
}

static PyObject *fast_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
	if (nargs != 0 || kwnames != NULL || type_of(self) != call_type)
		return call_slow(self, args, nargs, kwnames);
	PyObject *origin = slot_at(self, S_ORIGIN), *grate = slot_at(self, S_GRATE);
	PyObject *owners = slot_at(self, S_OWNERS), *key_slot = slot_at(self, S_KEY);
	PyObject *number = slot_at(self, S_NUMBER), *mv = slot_at(self, S_MV);
	PyObject *call_args = slot_at(self, S_ARGS);
	if (origin == NULL || grate == NULL || owners == NULL || key_slot == NULL ||
	    key_slot == &_Py_NoneStruct || number == NULL || mv == NULL || call_args == NULL)
		return call_slow(self, args, nargs, kwnames);
	PyObject *got = NULL, *below = NULL, *counts = NULL, *key = NULL;
	PyObject *status = NULL, *own = NULL, *table = NULL, *route = NULL, *cage = NULL;
	PyObject *grates = NULL, *in_flight = NULL, *cage_id = NULL, *bound = NULL, *handler = NULL;
	bool served = false;
	status = attr(origin, N_STATUS);
	if (status != &_Py_NoneStruct) goto done;
	own = attr(origin, N_OWN_OWNERS);
	if (own != owners) goto done;
	table = attr(grate, N_TABLE);
	if (table == NULL || type_of(table) != &PyDict_Type) goto done;
	route = PyDict_GetItemWithError(table, number); /* borrowed */
	if (route == NULL) { /* no route: RawPOSIX on the caller (an error: the Python method) */
		if (PyErr_Occurred() != NULL || type_of(call_args) != &PyTuple_Type ||
		    PyTuple_Size(call_args) != 6) {
			PyErr_Clear();
			goto done;
		}
		PyObject *dargs[8] = {origin, number};
		for (int i = 0; i < 6; i++) dargs[i + 2] = PyTuple_GetItem(call_args, i);
		served = true;
		got = forward_value(self, PyObject_Vectorcall(dispatch, dargs, 8, NULL));
		goto done;
	}
	Py_IncRef(route);
	cage = attr(route, N_HANDLER_CAGE);
	grates = attr(mv, N_PYTHON_GRATES);
	if (cage == NULL || grates == NULL || type_of(grates) != &PyDict_Type) goto done;
	below = PyDict_GetItemWithError(grates, cage); /* borrowed */
	if (below == NULL) { /* a wasm grate below (or an error): the Python method */
		PyErr_Clear();
		goto done;
	}
	Py_IncRef(below);
	in_flight = attr(mv, N_IN_FLIGHT);
	counts = in_flight == NULL ? NULL : attr(in_flight, N_COUNTS);
	cage_id = attr(origin, N_CAGE_ID);
	bound = attr(below, N_BOUND);
	if (counts == NULL || type_of(counts) != &PyDict_Type || cage_id == NULL || bound == NULL)
		goto done;
	handler = PyObject_GetItem(bound, number);
	key = handler == NULL ? NULL : PyTuple_Pack(2, cage, cage_id);
	if (key == NULL) {
		PyErr_Clear();
		goto done;
	}
	/* from here on the call is served here, whatever happens */
	served = true;
	PyObject *hop_args[9] = {counts, key, handler, below, mv, origin, number, call_args, owners};
	got = forward_of(self, below, counts, key, origin, run_hop(hop_maker, hop_args));
done:
	Py_XDecRef(status);
	Py_XDecRef(own);
	Py_XDecRef(table);
	Py_XDecRef(route);
	Py_XDecRef(cage);
	Py_XDecRef(grates);
	Py_XDecRef(in_flight);
	Py_XDecRef(cage_id);
	Py_XDecRef(bound);
	Py_XDecRef(handler);
	Py_XDecRef(below);
	Py_XDecRef(counts);
	Py_XDecRef(key);
	if (!served) return call_slow(self, args, nargs, kwnames);
	return got;
}

#define METH_KEYWORDS 0x0002
static PyMethodDef forward_def = {"forward", (void *)fast_forward, METH_FASTCALL | METH_KEYWORDS,
                                  "pass the call down through this grate's own table (see "
                                  "lind_async.threei.grate_calls.Call.forward)"};

/* A new reference to the forward descriptor for class ``call`` over ``run`` (this file's hop)
 * and ``ready`` (the pooled Forward maker), falling back to ``slow`` (the Python method); the
 * rest through ``rest(self, below, counts, key, origin, got)`` and ``failed(self, exc)``;
 * ``rawposix_dispatch`` is rawposix.table.dispatch.
 * NULL (no exception set) when something is not as expected. */
PyObject *lind_grate_forward(PyObject *call, PyObject *run, PyObject *ready, PyObject *slow,
                             PyObject *rest, PyObject *failed, PyObject *rawposix_dispatch) {
	PyObject *run_key = PyCFunction_GetSelf(run), *ready_key = PyCFunction_GetSelf(ready);
	struct maker *hm = run_key == NULL ? NULL : (struct maker *)PyLong_AsVoidPtr(run_key);
	struct maker *rm = ready_key == NULL ? NULL : (struct maker *)PyLong_AsVoidPtr(ready_key);
	if (hm == NULL || rm == NULL || hm->type != call || hm->n != 8 || rm->type != forward_type ||
	    rm->n != 3 || !rm->pooled) {
		PyErr_Clear();
		return NULL;
	}
	for (int i = 0; i < N_NAMES; i++) {
		if (fnames[i] == NULL) fnames[i] = PyUnicode_InternFromString(forward_names[i]);
		if (fnames[i] == NULL) {
			PyErr_Clear();
			return NULL;
		}
	}
	PyObject *descr = PyDescr_NewMethod(call, &forward_def);
	if (descr == NULL) {
		PyErr_Clear();
		return NULL;
	}
	hop_maker = hm;
	ready_maker = rm;
	Py_IncRef(call);
	call_type = call;
	Py_IncRef(slow);
	slow_forward = slow;
	Py_IncRef(rest);
	forward_rest = rest;
	Py_IncRef(failed);
	forward_failed = failed;
	Py_IncRef(rawposix_dispatch);
	dispatch = rawposix_dispatch;
	return descr;
}
