/* The C hop: part of grate_entry.c (included there, one translation unit: it uses that file's
 * declarations and statics; the library's build key covers this file too). */

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
	{"call_pairs", (void *)call_pairs, METH_FASTCALL, "write a grate entry's arguments, start"},
	{"current_entry", (void *)current_entry, METH_FASTCALL, "the prepared call a hop links to"},
};

/* A new reference to builtin ``which`` (0: start, 1: call_pairs, 2: current_entry), or NULL. */
PyObject *lind_grate_function(int which) {
	if (which < 0 || which > 2) return NULL;
	return PyCFunction_NewEx(&functions[which], NULL, NULL);
}
