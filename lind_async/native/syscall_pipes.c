/* read, write, writev and a tty ioctl on an in-process pipe without Python's handler: a part of
 * native/syscall_entry.c (included by it, one translation unit), using its names, refs and
 * checks (plain_cage, guest_range).
 *
 * Theory of operation
 * -------------------
 * A program run per request with its stdio on in-process pipes (embed/capture.py) spends most
 * of its system calls on them: musl's stdio reads stdin and writes stdout with read and
 * writev, and asks TIOCGWINSZ of stdout once. Python's handlers (rawposix/io.py, then
 * rawposix/pipe.py's PipeEnd) cost several microseconds each for a memcpy. The pipe stays
 * Python's: its bytes are PipeBuffer.data, a bytearray, and its counts and wait queues the
 * Python objects; this code reads and changes those very objects, with the GIL held, on the
 * loop's thread, between Python's steps. It answers only when Python's path would do exactly
 * the same:
 *
 *   - the cage is one only RawPOSIX sees now (plain_cage: its 3i table known and empty, no
 *     signal pending, not stopped, no fault flagged), and its descriptor (a C int in the low
 *     32 bits of its slot, found in the fd table's own dict) is a description of exactly
 *     rawposix/pipe.py's PipeEnd, its access mode allowing the call (FileOps.readable and
 *     writable's rule);
 *   - the guest ranges (the buffer; for writev the iovec array, then every buffer) pass
 *     guest_range's check (GuestMemory's, on cage.mem read once) before anything is changed;
 *   - read: bytes are buffered (up to count move, as PipeBuffer.read_into), or none and no
 *     writer is left (end-of-file: 0), or count is 0 (0). An empty pipe with a writer would
 *     wait: Python's;
 *   - write and writev: a reader is left and all the bytes fit in the room the pipe has now
 *     (then each write, and each of writev's buffers in turn, goes in whole, as Python's path
 *     would have put it), writev with at most 16 buffers. No reader (EPIPE and SIGPIPE), or
 *     not room for all: Python's.
 *   - ioctl TIOCGWINSZ or TCGETS: a pipe is no terminal, ENOTTY, before any memory is touched
 *     (FileOps.winsize and is_tty, which PipeEnd does not override).
 *
 * Waking. Python's path wakes the other side's queue (WaitQueue.wake_all: its waiting cages
 * and its watchers, such as a poll, an epoll or Microvisor.run's capture) after each transfer
 * that moved bytes. When that queue has neither waiters nor watchers nothing is done, and no
 * Python code runs at all; nor when its only watchers are RoomWake watches (the capture's)
 * that the pipe's state after the call leaves with nothing to do (a writer left, at least their
 * `below` bytes of room: rawposix/readiness.py). Otherwise the bytes are moved here and the Python entry's helper
 * (runtime/syscall_entry.py's _pipe_woken) wakes the queue as many times as Python's path
 * would have (writev: once per buffer that was not empty) and then finishes the call as _call
 * does: the delivery check (a watcher may have posted a signal, SIGIO) and a handler's failure
 * as a trap. Its answer is taken as the entry's (entry_result).
 *
 * Anything else goes to Python, which does the whole call from the start: nothing was
 * changed by then (a read copies into guest memory before it takes the bytes out of the
 * buffer; if the buffer cannot be changed, Python's path copies the same bytes again).
 */

enum { SYS_WRITEV = 20, SYS_IOCTL = 16 };
#define TCGETS 0x5401
#define TIOCGWINSZ 0x5413
#define IOV_FAST 16  /* writev with more buffers (up to IOV_MAX) is Python's */

extern PyObject PyByteArray_Type;
extern char *PyByteArray_AsString(PyObject *);
extern ptrdiff_t PyByteArray_Size(PyObject *);
extern int PyByteArray_Resize(PyObject *, ptrdiff_t);
extern int PySequence_DelSlice(PyObject *, ptrdiff_t, ptrdiff_t);

enum { P_PIPE, P_BUFFER, P_DATA, P_READERS, P_WRITERS, P_CAPACITY, P_CAN_READ, P_CAN_WRITE,
       P_WAITERS, P_WATCHERS, P_CALLBACKS, P_STATUS_FLAGS, P_BELOW, P_NAMES };
static const char *const pipe_name_text[P_NAMES] = {
    "pipe", "buffer", "data", "readers", "writers", "capacity", "can_read", "can_write",
    "_waiters", "watchers", "_callbacks", "status_flags", "below"};
static PyObject *pipe_names[P_NAMES];
static PyObject *pipe_end_type;  /* rawposix/pipe.py's PipeEnd; NULL: every call is Python's */
static PyObject *pipe_woken;     /* runtime/syscall_entry.py's _pipe_woken */
static PyObject *room_wake_type; /* rawposix/readiness.py's RoomWake */
uint64_t lind_fastpipe_served;   /* calls answered here (read by tests) */
uint64_t lind_fastpipe_woken;    /* of which ended by _pipe_woken (read by tests) */

extern int PyDict_Next(PyObject *, ptrdiff_t *, PyObject **, PyObject **);

/* Enable pipes here (after lind_fastio_init); 0 on success. Through ctypes' PyDLL. */
int lind_fastpipe_init(PyObject *end_type, PyObject *woken, PyObject *room_wake) {
    if (!fast_on) return -1;
    for (int i = 0; i < P_NAMES; i++) {
        pipe_names[i] = PyUnicode_InternFromString(pipe_name_text[i]);
        if (pipe_names[i] == NULL) {
            PyErr_Clear();
            return -1;
        }
    }
    Py_IncRef(room_wake);
    room_wake_type = room_wake;
    Py_IncRef(woken);
    pipe_woken = woken;
    Py_IncRef(end_type);
    pipe_end_type = end_type;  /* (last: it is the switch) */
    return 0;
}

static PyObject *pget(struct refs *r, PyObject *obj, int name) {
    return hold(r, PyObject_GetAttr(obj, pipe_names[name]));
}

static int64_t pint(struct refs *r, PyObject *obj, int name, int *bad) {
    PyObject *value = pget(r, obj, name);
    if (value == NULL) {
        *bad = 1;
        return 0;
    }
    ptrdiff_t v = PyLong_AsSsize_t(value);
    if (v == -1 && PyErr_Occurred() != NULL) *bad = 1;
    return v;
}

/* The description at descriptor slot a0 of the calling cage when it is a PipeEnd and only
 * RawPOSIX would see the call (held in r), the cage in *cage; NULL for Python's path. (The
 * description is looked at first: a socket's read or write is declined before the cage's
 * routes and signals are.) */
static PyObject *pipe_end(struct refs *r, int64_t a0, PyObject **cage) {
    uint64_t fd = (uint64_t)a0 & 0xFFFFFFFFULL;
    if (fd >= 0x80000000ULL) return NULL;  /* (no descriptor there: Python's EBADF) */
    PyObject *call = NULL;
    *cage = current_cage(r, &call);
    if (*cage == NULL) return NULL;
    PyObject *fds = get(r, *cage, N_FDS);
    if (fds == NULL) return NULL;
    PyObject *entries = field(r, fds, T_TABLE, N_ENTRIES);
    if (entries == NULL) return NULL;
    PyObject *key = hold(r, PyLong_FromLongLong((long long)fd));
    if (key == NULL) return NULL;
    PyObject *file = PyDict_GetItemWithError(entries, key);  /* borrowed */
    if (file == NULL || file->type != pipe_end_type) return NULL;
    Py_IncRef(file);
    if (hold(r, file) == NULL || !only_rawposix(r, call, *cage)) return NULL;
    return file;
}

/* Does a wake of this queue (WaitQueue) have anything to do, with the pipe left with ``room``
 * bytes of room and ``writers`` writers? 1 yes, 0 no, -1 could not tell. A RoomWake watch does
 * nothing while a writer is left and it has at least its ``below`` bytes of room (its
 * contract, rawposix/readiness.py): it alone needs no wake then. */
static int has_sleepers(struct refs *r, PyObject *queue, int64_t room, int64_t writers) {
    PyObject *waiters = pget(r, queue, P_WAITERS);
    PyObject *watchers = waiters == NULL ? NULL : pget(r, queue, P_WATCHERS);
    PyObject *callbacks = watchers == NULL ? NULL : pget(r, watchers, P_CALLBACKS);
    if (callbacks == NULL) return -1;
    ptrdiff_t n = PyObject_Size(waiters);
    if (n != 0) return n < 0 ? -1 : 1;
    ptrdiff_t at = 0;
    PyObject *key, *watch;
    while (PyDict_Next(callbacks, &at, &key, &watch)) {  /* (borrowed; nothing runs meanwhile) */
        if (watch->type != room_wake_type || writers <= 0) return 1;
        int bad = 0;
        int64_t below = pint(r, watch, P_BELOW, &bad);
        if (bad || room < below) return bad ? -1 : 1;
    }
    return 0;
}

/* The cage's memory as guest_range reads it (cage.mem, exactly a GuestMemory: its base, size
 * and null page), looked up once for every range of a call: 0 if it cannot be. */
struct span { uint64_t base, size, low; };

static int guest_span(struct refs *r, PyObject *cage, struct span *m) {
    PyObject *mem = get(r, cage, N_MEM);
    if (mem == NULL || mem->type != memory_type) return 0;
    int bad = 0;
    int64_t base = field_int(r, mem, T_MEMORY, N_BASE, &bad);
    int64_t size = field_int(r, mem, T_MEMORY, N_SIZE, &bad);
    int64_t low = field_int(r, mem, T_MEMORY, N_LOW, &bad);
    if (bad || base <= 0 || size < 0 || low < 0) return 0;
    m->base = (uint64_t)base;
    m->size = (uint64_t)size;
    m->low = (uint64_t)low;
    return 1;
}

/* guest_range's decoding and check of (buf, count) against m: the host address, or NULL. */
static unsigned char *span_range(const struct span *m, int64_t buf, int64_t count,
                                 uint64_t *length) {
    uint64_t addr = (uint64_t)buf;
    if (addr >= 0xFFFFFFFF80000000ULL) addr &= 0xFFFFFFFFULL;  /* sign-extended 32-bit */
    uint64_t len = (uint64_t)count & 0xFFFFFFFFULL;
    if (len > MAX_RW) len = MAX_RW;
    if (addr < m->low || addr > m->size || len > m->size - addr) return NULL;
    *length = len;
    return (unsigned char *)(uintptr_t)(m->base + addr);
}

/* The access mode allows it (abi/flags.py's reads and writes): bit 1 to read, 2 to write. */
static int mode_allows(struct refs *r, PyObject *file, int bit) {
    int bad = 0;
    int64_t flags = pint(r, file, P_STATUS_FLAGS, &bad);
    return !bad && ((((flags & 3) + 1) & bit) != 0);
}

/* 1: answered, *result set (no Python code ran); 2: bytes moved, *queue (a new reference) must
 * be woken *wakes times by _pipe_woken, which answers; 0: Python's path. GIL held. */
static int pipe_call(int32_t number, const int64_t *a, int64_t *result, PyObject **queue,
                     int *wakes) {
    struct refs r;
    r.n = 0;
    int served = 0;
    PyObject *cage = NULL;
    PyObject *file = pipe_end(&r, a[0], &cage);
    if (file == NULL) goto out;
    if (number == SYS_IOCTL) {
        uint32_t request = (uint32_t)(uint64_t)a[1];
        if (request != TIOCGWINSZ && request != TCGETS) goto out;
        *result = -ENOTTY;
        served = 1;
        goto out;
    }
    int reading = number == SYS_READ;
    if (!mode_allows(&r, file, reading ? 1 : 2)) goto out;  /* (Python's EBADF) */
    struct span mem;
    if (!guest_span(&r, cage, &mem)) goto out;
    PyObject *pipe = pget(&r, file, P_PIPE);
    PyObject *buffer = pipe == NULL ? NULL : pget(&r, pipe, P_BUFFER);
    PyObject *data = buffer == NULL ? NULL : pget(&r, buffer, P_DATA);
    if (data == NULL || data->type != &PyByteArray_Type) goto out;
    ptrdiff_t size = PyByteArray_Size(data);
    int bad = 0;
    if (reading) {
        uint64_t length;
        unsigned char *at = span_range(&mem, a[1], a[2], &length);
        if (at == NULL) goto out;
        if (length == 0) {
            *result = 0;
            served = 1;
            goto out;
        }
        if (size == 0) {
            if (pint(&r, buffer, P_WRITERS, &bad) != 0 || bad) goto out;  /* would wait */
            *result = 0;  /* end-of-file */
            served = 1;
            goto out;
        }
        ptrdiff_t n = (uint64_t)size < length ? size : (ptrdiff_t)length;
        int64_t writers = pint(&r, buffer, P_WRITERS, &bad);
        int64_t capacity = pint(&r, buffer, P_CAPACITY, &bad);
        PyObject *other = bad ? NULL : pget(&r, pipe, P_CAN_WRITE);
        int sleepers = other == NULL ? -1 : has_sleepers(&r, other, capacity - (size - n),
                                                         writers);
        if (sleepers < 0) goto out;
        memcpy(at, PyByteArray_AsString(data), (size_t)n);
        if (PySequence_DelSlice(data, 0, n) != 0) goto out;  /* (the copy is harmless) */
        *result = n;
        if (sleepers) {
            Py_IncRef(other);
            *queue = other;
            *wakes = 1;
            served = 2;
        } else {
            served = 1;
        }
        goto out;
    }
    /* write, writev: the buffers, checked, then all of them in or Python's */
    int64_t readers = pint(&r, buffer, P_READERS, &bad);
    int64_t writers = pint(&r, buffer, P_WRITERS, &bad);
    int64_t capacity = pint(&r, buffer, P_CAPACITY, &bad);
    if (bad || readers <= 0) goto out;  /* (no reader: EPIPE and SIGPIPE, Python's) */
    struct iovec views[IOV_FAST];  /* (on the fiber's stack: kept small) */
    int count = 0;
    uint64_t total = 0;
    if (number == SYS_WRITE) {
        uint64_t length;
        unsigned char *at = span_range(&mem, a[1], a[2], &length);
        if (at == NULL) goto out;
        views[0].iov_base = at;
        views[0].iov_len = length;
        count = 1;
        total = length;
    } else {
        int32_t n = (int32_t)(uint32_t)(uint64_t)a[2];
        if (n < 1 || n > IOV_FAST) goto out;
        uint64_t array_len;
        const unsigned char *array = span_range(&mem, a[1], (int64_t)n * 8, &array_len);
        if (array == NULL || array_len != (uint64_t)n * 8) goto out;
        for (int i = 0; i < n; i++) {
            uint32_t base, len;
            memcpy(&base, array + 8 * i, 4);
            memcpy(&len, array + 8 * i + 4, 4);
            uint64_t length;
            if (len == 0 && base == 0) continue;  /* (musl's {NULL, 0}: GuestMemory's check
                                                   * passes an empty range at 0) */
            unsigned char *at = span_range(&mem, base, len, &length);
            if (at == NULL || length != len) goto out;
            total += len;
            if (len == 0) continue;
            views[count].iov_base = at;
            views[count].iov_len = len;
            count++;
        }
    }
    if (total == 0) {  /* (write_from of nothing: 0, no wake) */
        *result = 0;
        served = 1;
        goto out;
    }
    if (capacity - size < 0 || total > (uint64_t)(capacity - size)) goto out;  /* would wait */
    PyObject *other = pget(&r, pipe, P_CAN_READ);
    int sleepers = other == NULL ? -1 : has_sleepers(&r, other,
                                                     capacity - size - (int64_t)total, writers);
    if (sleepers < 0) goto out;
    if (PyByteArray_Resize(data, size + (ptrdiff_t)total) != 0) goto out;  /* (unchanged) */
    char *to = PyByteArray_AsString(data) + size;
    for (int i = 0; i < count; i++) {
        memcpy(to, views[i].iov_base, views[i].iov_len);
        to += views[i].iov_len;
    }
    *result = (int64_t)total;
    if (sleepers) {
        Py_IncRef(other);
        *queue = other;
        *wakes = count;
        served = 2;
    } else {
        served = 1;
    }
out:
    if (served) lind_fastpipe_served++;
    else if (PyErr_Occurred() != NULL) PyErr_Clear();
    for (int i = 0; i < r.n; i++) Py_DecRef(r.held[i]);
    return served;
}

/* The trampoline's part: 1 with the answer in vals and *trap set when served here (with
 * _pipe_woken's help when a queue needed waking), 0 for the rest of the trampoline. */
static int pipe_trampoline(int32_t number, const int64_t *a, unsigned char *vals, void **trap) {
    int64_t result = 0;
    PyObject *queue = NULL;
    int wakes = 0;
    int got = pipe_call(number, a, &result, &queue, &wakes);
    if (got == 0) return 0;
    if (got == 1) {
        memcpy(vals, &result, sizeof result);
        *trap = NULL;
        return 1;
    }
    /* _pipe_woken(queue, wakes, number, a1..a6, result) */
    lind_fastpipe_woken++;
    PyObject *args[10];
    args[0] = queue;
    args[1] = PyLong_FromLongLong(wakes);
    args[2] = PyLong_FromLongLong(number);
    for (int i = 0; i < 6; i++) args[3 + i] = PyLong_FromLongLong(a[i]);
    args[9] = PyLong_FromLongLong(result);
    int made = 1;
    for (int i = 1; i < 10; i++) made &= args[i] != NULL;
    PyObject *answer = made ? PyObject_Vectorcall(pipe_woken, args, 10, NULL) : NULL;
    for (int i = 0; i < 10; i++)
        if (args[i] != NULL) Py_DecRef(args[i]);
    *trap = entry_result(answer, vals, &lind_entry_trap, trap_new, failed, sizeof failed - 1);
    return 1;
}
