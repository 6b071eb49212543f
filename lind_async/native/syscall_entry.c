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
 *
 * Small file I/O without Python (lind_fastio_init enables it)
 * -----------------------------------------------------------
 * read, write, pread64, pwrite64 and lseek on a regular file inside the root or on /dev/null
 * are answered here when Python's path would do nothing else: the host call itself is most of
 * what such a call costs natively, and entering Python costs more than that. Everything this
 * code relies on is written by Python only (rawposix/fastio.py has the whole contract):
 *
 *   - the cage is found as the Python entry finds it (wasm/fiber.py's _current.instance.data),
 *     and its 3i table (cage._routes) must be known and empty: any route, even one registered
 *     a moment ago, sends the call to Python, so grates see every call they asked for;
 *   - no signal pending (cage.signals.pending), not stopped, no fault flagged: else Python
 *     runs the call and the delivery after it. Nothing here touches guest memory from user
 *     space (the kernel copies), and no Python code runs meanwhile, so none of these can change
 *     during the call;
 *   - the descriptor, a C int in the low 32 bits of its slot, must have a non-zero entry in the
 *     cage's fast table (cage.fds.fast: record indices, kept by core/fdtable.py), and that
 *     record must allow the call (ops, kept by the description's owner). Checked first, and
 *     before any Python object is looked at, whether any fd table of the process has an entry
 *     at that number (core/fdtable.py's counts): a call on a pipe or socket numbered where no
 *     table has a record pays one load here;
 *   - the guest range (buf, count) passes GuestMemory.buffer's check against cage.mem's
 *     current size, the null page included (count cut to MAX_RW first, as Python does).
 *
 * Anything else goes to Python, which does the whole call from the start: a check that fails
 * (Python answers EFAULT, EBADF, EINVAL...), a host error, a short or would-block read
 * (RWF_NOWAIT: the page cache only; the end-of-file test and off-loop reads are Python's),
 * an lseek other than SEEK_SET/SEEK_CUR or out of range. Nothing was consumed by then: reads
 * are positional, a failed write wrote nothing, and the offset moves only on success.
 *
 * open and close without Python (lind_fastfile_init enables them; syscall_files.c)
 * ----------------------------------------------------------------------------------
 * Under the same conditions on the cage (found as above, no routes, no signal, no stop, no
 * fault): open and openat(AT_FDCWD) of a regular file with plain flags by a normal path
 * outside /proc, /dev and /tmp, and close of a descriptor of such a file while no cage holds
 * a record lock (nor, for its last descriptor, any flock or OFD lock). These change the fd table:
 * syscall_files.c does FdTable.install's and FdTable.remove's steps, and HostFile.release's, on
 * the very Python objects (its header says why that is safe and what it declines).
 *
 * Pipes (lind_fastpipe_init enables them; syscall_pipes.c): read, write, writev and the tty
 * ioctls on an in-process pipe, under the same conditions on the cage, on the pipe's own
 * Python objects; its header says when, and how the other side is woken. And set_tid_address
 * of a cage's main thread (syscall_tid.c).
 *
 * open_stat: a confined open and its fstat in one builtin call
 * -------------------------------------------------------------
 * lind_open_stat_function returns a Python builtin, open_stat(root_fd, path, host_flags, mode),
 * that rawposix/confine.py uses instead of ctypes' openat2 and os.fstat: the same openat2 with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (the kernel confines the path to the root) and
 * O_CLOEXEC, then fstat; it answers (fd, st_mode, (st_dev, st_ino)), or (-errno, 0, None). Its
 * arguments come from RawPOSIX (a path already read from guest memory), never from the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

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
extern PyObject *PyObject_GetAttr(PyObject *, PyObject *);
extern PyObject *PyDict_GetItemWithError(PyObject *, PyObject *);
extern ptrdiff_t PyObject_Size(PyObject *);
extern int PyObject_IsTrue(PyObject *);
extern long long PyLong_AsLongLong(PyObject *);
extern ptrdiff_t PyLong_AsSsize_t(PyObject *);
extern PyObject *PyUnicode_InternFromString(const char *);
extern PyObject *PyObject_Type(PyObject *);
extern PyObject _Py_NoneStruct;
extern char *PyBytes_AsString(PyObject *);
extern ptrdiff_t PyBytes_Size(PyObject *);
extern PyObject *Py_BuildValue(const char *, ...);
typedef struct {
    const char *name;
    void *method;
    int flags;
    const char *doc;
} MethodDef;
extern PyObject *PyCFunction_NewEx(MethodDef *, PyObject *, PyObject *);
extern int PyObject_SetAttr(PyObject *, PyObject *, PyObject *);
extern int PyDict_DelItem(PyObject *, PyObject *);
extern int PySet_Discard(PyObject *, PyObject *);
extern int PyList_Append(PyObject *, PyObject *);
extern int PySet_Add(PyObject *, PyObject *);
extern int PyDict_SetItem(PyObject *, PyObject *, PyObject *);
extern int PyDict_Contains(PyObject *, PyObject *);
extern PyObject *PyBytes_FromStringAndSize(const char *, ptrdiff_t);
extern PyObject *PySequence_GetItem(PyObject *, ptrdiff_t);
extern PyObject *PyType_GenericAlloc(PyObject *, ptrdiff_t);
extern PyObject *PyList_GetItem(PyObject *, ptrdiff_t);
extern int PyList_SetSlice(PyObject *, ptrdiff_t, ptrdiff_t, PyObject *);
extern PyObject *PyBool_FromLong(long);

typedef void *(*trap_new_fn)(const char *, size_t);

static PyObject *entry;
static trap_new_fn trap_new;
void *volatile lind_entry_trap;

static const char failed[] = "lind host function lind.syscall could not be called";

#include "entry_result.h"  /* the entry's answer as the host function's */

/* Register the Python entry (kept alive here) and wasmtime_trap_new. */
void lind_entry_init(PyObject *callable, void *make_trap) {
    Py_IncRef(callable);
    entry = callable;
    trap_new = (trap_new_fn)make_trap;
}

/* openat2 as open_stat and the fast open call it */
struct open_how { uint64_t flags, mode, resolve; };
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#define SYS_OPENAT2 437
#define CREATING (0100 | 020200000)  /* O_CREAT | O_TMPFILE, as confine.py's _open_how */

/* -- the fast path (see the header) ---------------------------------------------------- */
enum { SYS_READ = 0, SYS_WRITE = 1, SYS_OPEN = 2, SYS_CLOSE = 3, SYS_LSEEK = 8,
       SYS_PREAD64 = 17, SYS_PWRITE64 = 18, SYS_OPENAT = 257 };
enum { OP_READ = 1, OP_WRITE = 2, OP_SEEK = 4 };   /* rawposix/fastio.py */
enum { KIND_FILE = 1, KIND_NULL = 2 };
#define FAST_FDS 256                                 /* core/fdtable.py */
#define MAX_RW 0x7FFFF000ULL                         /* rawposix/io.py */
#define RWF_NOWAIT 8

struct record { int64_t pos; int32_t host_fd; uint8_t ops, kind; uint16_t unused; };

enum { N_CURRENT, N_INSTANCE, N_DATA, N_ROUTES, N_SIGNALS, N_PENDING, N_STOPPED, N_FDS, N_FAST,
       N_MEM, N_BASE, N_SIZE, N_LOW, N_ENTRIES, N_CLOEXEC, N_REFS, N_POS, N_CWD, N_UMASK,
       N_MICROVISOR, N_ROOT, N_FD, N_LIMIT, N_GUEST_PATH, N_CEILING, N_RELEASE, N_KEY,
       N_FLAGS, N_HOST_FD, N_KIND, N_FILE_KEY, N_HOST_APPEND, N_NAMES };
static const char *const name_text[N_NAMES] = {
    "_current", "instance", "data", "_routes", "signals", "pending", "stopped", "fds", "fast",
    "mem", "_base", "_size", "_low", "_entries", "_cloexec", "refs", "_pos", "cwd", "umask",
    "microvisor", "root", "fd", "limit", "guest_path", "_ceiling", "release", "key",
    "_flags", "host_fd", "kind", "_key", "_host_append"};
static PyObject *names[N_NAMES];
static PyObject *fiber_globals;     /* wasm/fiber.py's module dict */
static PyObject *memory_type;       /* memory/access.py's GuestMemory */
static struct record *records;      /* rawposix/fastio.py's pool */
static uint64_t record_count;
static const volatile uint64_t *faulted;  /* memory/faults.py's FAULTED */
static uint32_t *fd_counts;         /* core/fdtable.py's: tables with an entry at each fd */
static int fast_on;
/* The live wasm call (wasm/fiber.py's _Call) last seen from a cage with routes: 15 of every 16
 * of its later calls are declined at once, without looking at the cage (a call runs one thread
 * of one cage, whose grates are rarely detached); the 16th looks again. Compared by address,
 * then by the live call's ``key`` (unique per call): a new call of another cage that got a
 * freed call's address (calls are freed as they end) is not taken for it. */
static const PyObject *routed_call;
static int64_t routed_key;
static uint32_t routed_skips;
uint64_t lind_fastio_served;  /* calls answered here (read by tests) */

/* Enable the fast path; 0 on success. Called through ctypes (without the GIL: taken here). */
int lind_fastio_init(PyObject *globals, PyObject *guest_memory, void *pool, uint64_t count,
                     const void *fault_flag, void *counts) {
    PyGILState_STATE gil = PyGILState_Ensure();
    for (int i = 0; i < N_NAMES; i++) {
        names[i] = PyUnicode_InternFromString(name_text[i]);
        if (names[i] == NULL) {
            PyErr_Clear();
            PyGILState_Release(gil);
            return -1;
        }
    }
    Py_IncRef(globals);
    fiber_globals = globals;
    Py_IncRef(guest_memory);
    memory_type = guest_memory;
    records = pool;
    record_count = count;
    faulted = fault_flag;
    fd_counts = (uint32_t *)counts;
    fast_on = 1;
    PyGILState_Release(gil);
    return 0;
}

/* Objects looked up for one call, released together. */
#define HELD 32
struct refs { PyObject *held[HELD]; int n; };  /* open holds the most: 27 */

/* Keep a new reference (or NULL) for the call's end; NULL too if there is no room (never
 * expected: every caller then declines). */
static PyObject *hold(struct refs *r, PyObject *value) {
    if (value == NULL || r->n < HELD) {
        if (value != NULL) r->held[r->n++] = value;
        return value;
    }
    Py_DecRef(value);
    return NULL;
}

static PyObject *get(struct refs *r, PyObject *obj, int name) {
    return hold(r, PyObject_GetAttr(obj, names[name]));
}

static int truthy(struct refs *r, PyObject *obj, int name) {  /* -1: could not tell */
    PyObject *value = get(r, obj, name);
    return value == NULL ? -1 : PyObject_IsTrue(value);
}

static int64_t integer(struct refs *r, PyObject *obj, int name, int *bad) {
    PyObject *value = get(r, obj, name);
    if (value == NULL) {
        *bad = 1;
        return 0;
    }
    ptrdiff_t v = PyLong_AsSsize_t(value);  /* (not AsLongLong: its multi-digit path, a
                                              * pointer's, goes through _PyLong_AsByteArray) */
    if (v == -1 && PyErr_Occurred() != NULL) *bad = 1;
    return v;
}

#include "fast_slots.h"  /* field(): slotted attributes read in place */

/* The guest range (buf, count) as GuestMemory.buffer decodes and checks it: its host address,
 * or NULL (Python's path then answers, EFAULT or after a refresh of the size). */
static unsigned char *guest_range(struct refs *r, PyObject *cage, int64_t buf, int64_t count,
                                  uint64_t *length) {
    PyObject *mem = get(r, cage, N_MEM);
    if (mem == NULL || mem->type != memory_type) return NULL;
    int bad = 0;
    int64_t base = field_int(r, mem, T_MEMORY, N_BASE, &bad);
    int64_t size = field_int(r, mem, T_MEMORY, N_SIZE, &bad);
    int64_t low = field_int(r, mem, T_MEMORY, N_LOW, &bad);
    if (bad || base <= 0 || size < 0 || low < 0) return NULL;
    uint64_t addr = (uint64_t)buf;
    if (addr >= 0xFFFFFFFF80000000ULL) addr &= 0xFFFFFFFFULL;  /* sign-extended 32-bit */
    uint64_t len = (uint64_t)count & 0xFFFFFFFFULL;
    if (len > MAX_RW) len = MAX_RW;
    if (addr < (uint64_t)low || addr > (uint64_t)size || len > (uint64_t)size - addr) return NULL;
    *length = len;
    return (unsigned char *)(uintptr_t)base + addr;
}

/* The calling cage (held in r), found as _call finds it, and its live call; NULL if none, or
 * if the call was seen routed lately (see routed_call). */
static PyObject *current_cage(struct refs *r, PyObject **live) {
    PyObject *call = PyDict_GetItemWithError(fiber_globals, names[N_CURRENT]);  /* borrowed */
    if (call == NULL || call == &_Py_NoneStruct) return NULL;
    if (call == routed_call) {  /* see routed_call */
        int bad = 0;
        int64_t key = field_int(r, call, T_CALL, N_KEY, &bad);
        if (bad) return NULL;
        if (key != routed_key) routed_call = NULL;
        else if ((++routed_skips & 15) != 0) return NULL;
    }
    PyObject *instance = field(r, call, T_CALL, N_INSTANCE);
    if (instance == NULL) return NULL;
    *live = call;
    return get(r, instance, N_DATA);
}

/* Would only RawPOSIX see the cage's call now? Its 3i table known and empty, no signal
 * pending, not stopped, no fault flagged. (Checked after the cheap tests on the descriptor's
 * record: a call declined there looks at no more.) */
static int only_rawposix(struct refs *r, PyObject *call, PyObject *cage) {
    PyObject *routes = get(r, cage, N_ROUTES);
    if (routes == NULL || routes == &_Py_NoneStruct) return 0;
    if (PyObject_Size(routes) != 0) {
        int bad = 0;
        int64_t key = field_int(r, call, T_CALL, N_KEY, &bad);
        if (!bad) {
            routed_call = call;
            routed_key = key;
        }
        return 0;
    }
    if (call == routed_call) routed_call = NULL;
    PyObject *signals = get(r, cage, N_SIGNALS);
    if (signals == NULL || truthy(r, signals, N_PENDING) != 0) return 0;
    return truthy(r, cage, N_STOPPED) == 0 && *faulted == 0;
}

/* Both: the cage if only RawPOSIX would see its call now, else NULL. */
static PyObject *plain_cage(struct refs *r) {
    PyObject *call = NULL;
    PyObject *cage = current_cage(r, &call);
    return cage != NULL && only_rawposix(r, call, cage) ? cage : NULL;
}

#include "syscall_files.c"  /* open and close (see the header) */
#include "syscall_signals.c"  /* rt_sigprocmask (its header says when) */
#include "syscall_pipes.c"  /* read, write, writev, ioctl on an in-process pipe (its header) */
#include "syscall_tid.c"  /* set_tid_address of a cage's main thread (its header) */

/* 1 with *result set when the call was served here, 0 for Python's path. GIL held. */
static int fast_call(int32_t number, const int64_t *a, int64_t *result) {
    if (number == SYS_RT_SIGPROCMASK) return lind_fastmask_on && mask_call(a, result);
    if (number == SYS_OPEN || number == SYS_OPENAT) return open_file(number, a, result);
    uint64_t fd = (uint64_t)a[0] & 0xFFFFFFFFULL;  /* a C int: no descriptor is >= 2**31 */
    if (fd >= FAST_FDS || fd_counts[fd] == 0) return 0;  /* no table has a record there */
    struct refs r;  /* (held[] is read below n only: no need to clear it) */
    r.n = 0;
    int served = 0;
    PyObject *call = NULL;
    PyObject *cage = current_cage(&r, &call);
    if (cage == NULL) goto out;
    PyObject *fds = get(&r, cage, N_FDS);
    if (fds == NULL) goto out;
    int bad = 0;
    int64_t table = field_int(&r, fds, T_TABLE, N_FAST, &bad);
    if (bad || table == 0) goto out;
    uint32_t index = ((const uint32_t *)(uintptr_t)table)[fd];
    if (index == 0 || index >= record_count) goto out;
    struct record *rec = &records[index];
    unsigned ops = rec->ops;
    unsigned wanted = number == SYS_READ || number == SYS_PREAD64 ? OP_READ
                      : number == SYS_WRITE || number == SYS_PWRITE64 ? OP_WRITE
                      : number == SYS_LSEEK ? OP_SEEK : 0;
    if ((ops & wanted) != wanted) goto out;
    if (number == SYS_CLOSE) {  /* (its own checks first, then only_rawposix's) */
        if (rec->kind == KIND_FILE && host_file_type != NULL &&
            close_file(&r, call, cage, fds, (uint32_t *)(uintptr_t)table, (uint32_t)fd, index,
                       result))
            served = 1;
        goto out;
    }
    if (!only_rawposix(&r, call, cage)) goto out;
    uint64_t length;
    unsigned char *at;
    switch (number) {
    case SYS_READ:
    case SYS_PREAD64: {
        if (!(ops & OP_READ)) goto out;
        int64_t offset = number == SYS_READ ? rec->pos : a[3];
        if (offset < 0) goto out;
        at = guest_range(&r, cage, a[1], a[2], &length);
        if (at == NULL) goto out;
        if (rec->kind == KIND_NULL || length == 0) {
            *result = 0;
            served = 1;
            break;
        }
        if (rec->kind != KIND_FILE) goto out;
        struct iovec iov = {at, length};
        long n = syscall(SYS_preadv2, rec->host_fd, &iov, 1, (unsigned long)offset,
                         (unsigned long)((uint64_t)offset >> 32), RWF_NOWAIT);
        if (n < 0 || (uint64_t)n != length) goto out;  /* short (EOF?) or would wait */
        if (number == SYS_READ) rec->pos = offset + n;
        *result = n;
        served = 1;
        break;
    }
    case SYS_WRITE:
    case SYS_PWRITE64: {
        if (!(ops & OP_WRITE)) goto out;
        int64_t offset = number == SYS_WRITE ? rec->pos : a[3];
        if (offset < 0) goto out;
        at = guest_range(&r, cage, a[1], a[2], &length);
        if (at == NULL) goto out;
        if (rec->kind == KIND_NULL) {
            *result = (int64_t)length;
            served = 1;
            break;
        }
        if (rec->kind != KIND_FILE) goto out;
        long n = length == 0 ? 0 : (long)pwrite(rec->host_fd, at, length, offset);
        if (n < 0) goto out;
        if (number == SYS_WRITE) rec->pos = offset + n;
        *result = n;
        served = 1;
        break;
    }
    case SYS_LSEEK: {
        if (!(ops & OP_SEEK)) goto out;
        int32_t whence = (int32_t)(uint32_t)a[2];
        if (rec->kind == KIND_NULL) {
            if (whence < 0 || whence > 4) goto out;  /* SEEK_SET..SEEK_HOLE; else EINVAL */
            *result = 0;
            served = 1;
            break;
        }
        if (rec->kind != KIND_FILE) goto out;
        int64_t target;
        if (whence == SEEK_SET) target = a[1];
        else if (whence == SEEK_CUR) {
            if (__builtin_add_overflow(rec->pos, a[1], &target)) goto out;
        } else goto out;  /* SEEK_END, SEEK_DATA, SEEK_HOLE: the host's answer, in Python */
        if (target < 0) goto out;
        rec->pos = target;
        *result = target;
        served = 1;
        break;
    }
    default:
        break;
    }
out:
    if (served) lind_fastio_served++;
    else if (PyErr_Occurred() != NULL) PyErr_Clear();
    for (int i = 0; i < r.n; i++) Py_DecRef(r.held[i]);
    return served;
}

void *lind_syscall_trampoline(void *env, void *caller, unsigned char *vals, size_t n) {
    (void)env;
    (void)caller;
    (void)n;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args[7];
    int32_t number;
    memcpy(&number, vals, sizeof number);
    int64_t a[6], answer;  /* the call's six argument slots, read once */
    for (int i = 0; i < 6; i++) memcpy(&a[i], vals + 16 * (i + 1), sizeof a[i]);
    if (fast_on && (number == SYS_READ || number == SYS_WRITE || number == SYS_LSEEK ||
                    number == SYS_PREAD64 || number == SYS_PWRITE64 || number == SYS_CLOSE ||
                    number == SYS_OPEN || number == SYS_OPENAT ||
                    number == SYS_RT_SIGPROCMASK)) {
        if (fast_call(number, a, &answer)) {
            memcpy(vals, &answer, sizeof answer);
            PyGILState_Release(gil);
            return NULL;
        }
    }
    if (number == SYS_SET_TID_ADDRESS && tid_call(a, &answer)) {
        memcpy(vals, &answer, sizeof answer);
        PyGILState_Release(gil);
        return NULL;
    }
    if (pipe_end_type != NULL && (number == SYS_READ || number == SYS_WRITE ||
                                  number == SYS_WRITEV || number == SYS_IOCTL)) {
        void *trap;
        if (pipe_trampoline(number, a, vals, &trap)) {
            PyGILState_Release(gil);
            return trap;
        }
    }
    args[0] = PyLong_FromLongLong(number);
    for (int i = 1; i < 7; i++) args[i] = PyLong_FromLongLong(a[i - 1]);
    PyObject *result = NULL;
    int made = 1;
    for (int i = 0; i < 7; i++) made &= args[i] != NULL;
    if (made) result = PyObject_Vectorcall(entry, args, 7, NULL);
    for (int i = 0; i < 7; i++)
        if (args[i] != NULL) Py_DecRef(args[i]);
    void *trap = entry_result(result, vals, &lind_entry_trap, trap_new, failed, sizeof failed - 1);
    PyGILState_Release(gil);
    return trap;
}

static PyObject *open_stat(PyObject *self, PyObject *const *args, ptrdiff_t nargs) {
    (void)self;
    if (nargs != 4) return Py_BuildValue("(iiO)", -EINVAL, 0, &_Py_NoneStruct);
    long long root = PyLong_AsLongLong(args[0]);
    const char *path = PyBytes_AsString(args[1]);
    long long flags = PyLong_AsLongLong(args[2]);
    long long mode = PyLong_AsLongLong(args[3]);
    if (PyErr_Occurred() != NULL) return NULL;  /* a TypeError: RawPOSIX's bug, not a guest's */
    if ((ptrdiff_t)strlen(path) != PyBytes_Size(args[1]))
        return Py_BuildValue("(iiO)", -EINVAL, 0, &_Py_NoneStruct);
    struct open_how how = {
        (uint64_t)flags | O_CLOEXEC,
        (flags & CREATING) ? (uint64_t)mode & 07777 : 0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_OPENAT2, (int)root, path, &how, sizeof how);
    if (fd < 0) return Py_BuildValue("(iiO)", -errno, 0, &_Py_NoneStruct);
    struct stat st;
    if (fstat((int)fd, &st) != 0) {
        int err = errno;
        close((int)fd);
        return Py_BuildValue("(iiO)", -err, 0, &_Py_NoneStruct);
    }
    return Py_BuildValue("(iI(KK))", (int)fd, (unsigned)st.st_mode,
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

static MethodDef open_stat_def = {"open_stat", (void *)open_stat, 0x0080 /* METH_FASTCALL */,
                                  "openat2(RESOLVE_IN_ROOT) + fstat (native/syscall_entry.c)"};

/* The builtin (a new reference), or NULL with an exception set. Called with the GIL (PyDLL). */
PyObject *lind_open_stat_function(void) {
    return PyCFunction_NewEx(&open_stat_def, NULL, NULL);
}
