/* Slotted attributes read in place: a part of native/syscall_entry.c (included by it after its
 * names and helpers; the build key covers it).
 *
 * Theory of operation
 * -------------------
 * The fast paths read ~10 attributes a call (~30 with an open and its close) of objects whose
 * classes use __slots__: the live call, the fd table, the guest memory, the description. Each
 * PyObject_GetAttr of a slot is a type lookup, a descriptor check and the member read (~30 ns
 * here); the slot itself is one word at a fixed offset in the object. (The confined root's
 * HostRoot too, for its fd.) rawposix/fastio.py's
 * slot_offsets finds those offsets at start-up (a sentinel stored through the attribute and
 * found in the object's bytes: nothing is assumed about the class layout) and lind_fast_slots
 * hands them here, per class and per name of names[] (0: not a slot of that class).
 *
 * field() reads in place only when the object's type is exactly the class the offsets were
 * found for (its type pointer, the word after the reference count, compared), so a subclass,
 * a replaced class or any other object takes PyObject_GetAttr as before; an unset slot (NULL)
 * does too (which raises AttributeError: the caller declines). It returns a new reference held
 * in r, as get() does: the callers are unchanged. set_field() writes a slot of a description
 * the trampoline owns the only reference to, or that it changes as Python's code would (refs,
 * the offset, the record); the old value (an int, None, bytes: no finalizer) is released.
 */

struct _object { intptr_t refcnt; struct _object *type; };  /* CPython's object header */
_Static_assert(sizeof(ptrdiff_t) == 8 && sizeof(void *) == 8, "a 64-bit host (offsets, ints)");
enum { T_CALL, T_TABLE, T_MEMORY, T_FILE, T_ROOT, T_COUNT };  /* the classes, in this order */
static PyObject *slot_types[T_COUNT];
static int64_t slot_offsets[T_COUNT][N_NAMES];

/* The field names, comma-separated in names[] order, for rawposix/fastio.py's slot_offsets. */
const char *lind_field_names(void) {
    static char text[512];
    if (text[0] == 0) {
        size_t n = 0;
        for (int i = 0; i < N_NAMES; i++) {
            size_t len = strlen(name_text[i]);
            if (n + len + 2 > sizeof text) return "";
            if (i) text[n++] = ',';
            memcpy(text + n, name_text[i], len);
            n += len;
        }
        text[n] = 0;
    }
    return text;
}

/* Take the classes (a tuple of T_COUNT, in the enum's order) and their offsets (T_COUNT rows of
 * N_NAMES); 0 on success. Through ctypes' PyDLL (the GIL held), after lind_fastio_init. */
int lind_fast_slots(PyObject *types, const int64_t *offsets) {
    if (PyObject_Size(types) != T_COUNT) {
        PyErr_Clear();
        return -1;
    }
    for (int t = 0; t < T_COUNT; t++) {
        PyObject *type = PySequence_GetItem(types, t);
        if (type == NULL) {
            PyErr_Clear();
            return -1;
        }
        for (int i = 0; i < N_NAMES; i++) {
            int64_t at = offsets[t * N_NAMES + i];
            slot_offsets[t][i] = at >= 16 && at % 8 == 0 ? at : 0;
        }
        slot_types[t] = type;  /* (kept: the reference from PyObject_GetItem) */
    }
    return 0;
}

static PyObject **slot_at(PyObject *obj, int t, int name) {
    int64_t at = slot_offsets[t][name];
    if (at == 0 || obj->type != slot_types[t]) return NULL;
    return (PyObject **)((char *)obj + at);
}

/* obj.name (a new reference held in r), in place when obj is exactly class t. */
static PyObject *field(struct refs *r, PyObject *obj, int t, int name) {
    PyObject **at = slot_at(obj, t, name);
    if (at == NULL || *at == NULL) return get(r, obj, name);
    Py_IncRef(*at);
    return hold(r, *at);
}

static int64_t field_int(struct refs *r, PyObject *obj, int t, int name, int *bad) {
    PyObject *value = field(r, obj, t, name);
    if (value == NULL) {
        *bad = 1;
        return 0;
    }
    ptrdiff_t v = PyLong_AsSsize_t(value);  /* (as integer()) */
    if (v == -1 && PyErr_Occurred() != NULL) *bad = 1;
    return v;
}

/* obj.name = value (a new reference, taken; NULL: nothing is done), in place when obj is
 * exactly class t; -1 when it could not be set. */
static int set_field(PyObject *obj, int t, int name, PyObject *value) {
    if (value == NULL) return -1;
    PyObject **at = slot_at(obj, t, name);
    if (at == NULL) {
        int failed = PyObject_SetAttr(obj, names[name], value);
        Py_DecRef(value);
        return failed;
    }
    PyObject *old = *at;
    *at = value;
    if (old != NULL) Py_DecRef(old);
    return 0;
}
