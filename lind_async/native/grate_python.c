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

static PyObject *python_hop(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
	struct maker *m = (struct maker *)PyLong_AsVoidPtr(self);
	if (m == NULL) return NULL;
	if (nargs != 9 || type_of(a[0]) != &PyDict_Type) {
		PyErr_SetString(PyExc_TypeError, "run(counts, key, handler, *call's first six slots)");
		return NULL;
	}
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
	return got;
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
