/* open and close in lind_async's compiled lind.syscall trampoline: a part of
 * native/syscall_entry.c (included by it, built with it as one library; its header explains
 * the contract). This file uses that file's helpers (get, integer, hold, plain_cage), the
 * record pool and the fast tables' counts.
 *
 * Theory of operation
 * -------------------
 * open: a regular file opened with plain flags by a normal absolute (or cwd-relative) path
 * outside /proc, /dev and /tmp is what fs.py's _open does with nothing but a confined openat2,
 * an fstat, a HostFile and FdTable.install; it is done here in that order: the HostFile is made
 * by calling the class (its __init__ is the one place a description and its record are set up),
 * and the install is FdTable.install's steps on the table's own objects (the dict, the
 * close-on-exec set, refs, the fast table and its count). What the kernel answers with an error
 * is the cage's answer, but where fs.py may answer otherwise (the default root's overlay under
 * /etc, a FIFO's ENXIO): then, and for anything not a regular file, Python's path runs the
 * call from the start (a FIFO or a directory is opened twice; O_EXCL only ever creates a
 * regular file, so nothing done here is done twice).
 *
 * close: of a descriptor whose description is a HostFile of a regular file (a record of kind
 * FILE), while no cage holds a record lock (locks.py's fd_closing has nothing to do):
 * FdTable.remove's steps; and for its last reference (refs 0 after), while no description ever
 * took a flock or OFD lock (description_released has nothing to do), HostFile.release's.
 *
 * Both touch the same Python state as the Python path, on the loop's thread with the GIL held,
 * between Python's steps: no Python code runs in a close; in an open only HostFile.__init__
 * does (a finalizer it triggers could change the table, so the number is found after it, as
 * _open installs after it). core/fdtable.py and rawposix/host_file.py name this file beside
 * the steps it mirrors.
 */

/* open's and close's objects (lind_fastfile_init): without them both are Python's. */
static PyObject *host_file_type;    /* rawposix/host_file.py's HostFile */
static PyObject *fd_table_type;     /* core/fdtable.py's FdTable */
static PyObject *posix_holders;     /* rawposix/locks.py's _posix_holders (a dict) */
static PyObject *lockers;           /* rawposix/locks.py's _lockers (a set) */
static PyObject *free_records;      /* rawposix/fastio.py's FREE (a list) */
static PyObject *hostfds_globals;   /* rawposix/hostfds.py's module dict (_ceiling) */
static PyObject *zero;
uint64_t lind_fastclose_served;     /* closes answered here (read by tests) */
uint64_t lind_fastopen_served;      /* opens answered here (read by tests) */

/* Enable open and close here; 0 on success. Through ctypes, like lind_fastio_init (after it). */
int lind_fastfile_init(PyObject *host_file, PyObject *fd_table, PyObject *holders,
                       PyObject *locker_set, PyObject *free_list, PyObject *hostfds) {
    PyGILState_STATE gil = PyGILState_Ensure();
    zero = PyLong_FromLongLong(0);
    if (zero == NULL || !fast_on) {
        PyErr_Clear();
        PyGILState_Release(gil);
        return -1;
    }
    PyObject *objects[6] = {host_file, fd_table, holders, locker_set, free_list, hostfds};
    for (int i = 0; i < 6; i++) Py_IncRef(objects[i]);
    hostfds_globals = hostfds;
    fd_table_type = fd_table;
    posix_holders = holders;
    lockers = locker_set;
    free_records = free_list;
    host_file_type = host_file;  /* (last: it is the switch) */
    PyGILState_Release(gil);
    return 0;
}

/* close(fd) of a regular file's descriptor while no cage holds a record lock (locks.py's
 * fd_closing has nothing to do): FdTable.remove's steps; and if that was the description's last
 * reference (refs 0), while no description ever took a flock or OFD lock (locks.py's
 * description_released has nothing to do), HostFile.release's. In their order, none of which
 * can run Python code (int keys; the description is held until the end). 1 with *result set,
 * 0: Python's. */
static int close_file(struct refs *r, PyObject *call, PyObject *cage, PyObject *fds,
                      uint32_t *table, uint32_t fd, uint32_t index, int64_t *result) {
    if (fds->type != fd_table_type || PyObject_Size(posix_holders) != 0) return 0;
    PyObject *entries = field(r, fds, T_TABLE, N_ENTRIES);
    if (entries == NULL) return 0;
    PyObject *key = hold(r, PyLong_FromLongLong(fd));
    if (key == NULL) return 0;
    PyObject *file = PyDict_GetItemWithError(entries, key);  /* borrowed */
    if (file == NULL || file->type != host_file_type) return 0;
    int bad = 0;
    int64_t refs = field_int(r, file, T_FILE, N_REFS, &bad);
    if (bad || refs < 1 || field_int(r, file, T_FILE, N_FAST, &bad) != index || bad) return 0;
    int last = refs == 1;
    if (last && PyObject_Size(lockers) != 0) return 0;
    PyObject *cloexec = field(r, fds, T_TABLE, N_CLOEXEC);
    if (cloexec == NULL || !only_rawposix(r, call, cage)) return 0;
    struct record *rec = &records[index];
    PyObject *left = hold(r, PyLong_FromLongLong(refs - 1));
    PyObject *pos = last ? hold(r, PyLong_FromLongLong(rec->pos)) : NULL;
    if (left == NULL || (last && pos == NULL)) return 0;
    Py_IncRef(file);
    if (hold(r, file) == NULL) return 0;
    /* FdTable.remove */
    if (PyDict_DelItem(entries, key) != 0) return 0;  /* (only a bad dict: before any change) */
    table[fd] = 0;
    fd_counts[fd]--;
    if (PyObject_Size(cloexec) > 0) PySet_Discard(cloexec, key);
    Py_IncRef(left);
    set_field(file, T_FILE, N_REFS, left);
    *result = 0;
    if (last) {  /* HostFile.release: the offset home first, then the record back to the pool */
        Py_IncRef(pos);
        set_field(file, T_FILE, N_POS, pos);
        Py_IncRef(zero);
        set_field(file, T_FILE, N_FAST, zero);
        rec->ops = 0;
        rec->kind = 0;
        PyObject *slot = PyLong_FromLongLong(index);
        if (slot != NULL) {
            PyList_Append(free_records, slot);
            Py_DecRef(slot);
        }
        *result = close(rec->host_fd) == 0 || errno == EINTR ? 0 : -errno;
    }
    if (PyErr_Occurred() != NULL) PyErr_Clear();  /* (slot stores of ints: never expected) */
    lind_fastclose_served++;
    return 1;
}

/* Guest open flags (abi/flags.py: Linux x86_64's values, as the host's) */
#define G_ACCMODE 03
#define G_CREAT 0100
#define G_EXCL 0200
#define G_NOCTTY 0400
#define G_TRUNC 01000
#define G_APPEND 02000
#define G_NONBLOCK 04000
#define G_LARGEFILE 0100000
#define G_NOFOLLOW 0400000
#define G_CLOEXEC 02000000
#define OPEN_ALLOWED (G_ACCMODE | G_CREAT | G_EXCL | G_NOCTTY | G_APPEND | G_NONBLOCK | \
                      G_LARGEFILE | G_NOFOLLOW | G_CLOEXEC)
#define AT_FDCWD_GUEST (-100)
#define PATH_LIMIT 4096  /* memory/access.py's PATH_MAX: the NUL within it */

/* Is the absolute path already lexical()'s normal form, and outside /proc, /dev and /tmp (the
 * procfs, device and private-/tmp names Python treats apart)? No empty, "." or ".." component,
 * no trailing slash. */
static int plain_path(const char *path, size_t n) {
    if (n < 2 || path[0] != '/' || path[n - 1] == '/') return 0;
    if (!strncmp(path, "/proc", 5) || !strncmp(path, "/dev", 4) || !strncmp(path, "/tmp", 4))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (path[i] != '/') continue;
        const char *c = path + i + 1;  /* a component starts here */
        size_t left = n - i - 1;
        if (left == 0 || c[0] == '/') return 0;
        if (c[0] == '.' && (left == 1 || c[1] == '/')) return 0;
        if (c[0] == '.' && c[1] == '.' && (left == 2 || c[2] == '/')) return 0;
    }
    return 1;
}

/* FdTable.install's number: the lowest free descriptor below cap (the limit), or -1 when
 * there is none (EMFILE). Runs no Python code (int keys). */
static int64_t lowest_free(PyObject *entries, int64_t cap) {
    for (int64_t vfd = 0; vfd < cap; vfd++) {
        PyObject *key = PyLong_FromLongLong(vfd);
        if (key == NULL) return -1;
        int taken = PyDict_Contains(entries, key);
        Py_DecRef(key);
        if (taken < 0) return -1;
        if (!taken) return vfd;
    }
    return -1;
}

/* HostFile(host_fd, status, None, st_mode, (st_dev, st_ino)) for a regular file (a new
 * reference, or NULL). With a record free in rawposix/fastio.py's FREE (every open after the
 * first close) and the class's slots known (fast_slots.h), HostFile.__init__'s regular-file
 * branch is done here: the object allocated as object.__new__ does, its slots stored in place
 * (refs 0, _flags, host_fd, kind, _key, _host_append, _pos 0, fast; guest_path is the caller's;
 * the directory slots stay unset, as __init__ leaves them for a regular file), the record's
 * offset, host fd and calls set as _sync_fast sets them. Else the class is called. */
static int file_slots_known(void) {  /* every slot stored below has its offset */
    static const int stored[] = {N_REFS, N_FLAGS, N_HOST_FD, N_KIND, N_FILE_KEY, N_HOST_APPEND,
                                 N_POS, N_FAST, N_GUEST_PATH};
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++)
        if (slot_offsets[T_FILE][stored[i]] == 0) return 0;
    return slot_types[T_FILE] == host_file_type;
}

static PyObject *new_host_file(long host_fd, int32_t status, const struct stat *st) {
    static PyObject *regular;  /* S_IFREG, every such file's kind (kept) */
    if (regular == NULL) regular = PyLong_FromLongLong(S_IFREG);
    if (regular != NULL) Py_IncRef(regular);
    /* the lock key (st_dev, st_ino): a tuple, immutable, so the last one is kept and shared by
     * the next description of the same file (a file opened again and again: a server's) */
    static PyObject *last_key;
    static unsigned long long last_dev, last_ino;
    PyObject *key = last_key;
    if (key == NULL || last_dev != st->st_dev || last_ino != st->st_ino) {
        key = Py_BuildValue("(KK)", (unsigned long long)st->st_dev,
                            (unsigned long long)st->st_ino);
        if (key != NULL) {
            if (last_key != NULL) Py_DecRef(last_key);
            last_key = key, last_dev = st->st_dev, last_ino = st->st_ino;
        }
    }
    if (key != NULL) Py_IncRef(key);  /* (the cache keeps its own reference) */
    PyObject *values[6] = {
        PyLong_FromLongLong(host_fd), PyLong_FromLongLong(status), regular, key,
        PyBool_FromLong((status & G_APPEND) != 0), NULL};
    PyObject *file = NULL;
    int made = 1;
    for (int i = 0; i < 5; i++) made &= values[i] != NULL;
    if (made && file_slots_known() && PyObject_Size(free_records) > 0) {
        file = PyType_GenericAlloc(host_file_type, 0);  /* (a collection may run Python code:
                                                         * FREE is looked at after it) */
        ptrdiff_t spare = file == NULL ? 0 : PyObject_Size(free_records);
        PyObject *slot = spare > 0 ? PyList_GetItem(free_records, spare - 1) : NULL;
        int64_t index = slot == NULL ? 0 : PyLong_AsLongLong(slot);
        if (slot != NULL) Py_IncRef(slot);  /* the fast slot's value: FREE's reference goes */
        if (index <= 0 || (uint64_t)index >= record_count ||
            PyList_SetSlice(free_records, spare - 1, spare, NULL) != 0) {  /* (never expected;
                                    * a record that left FREE without a user is only unused) */
            if (slot != NULL) Py_DecRef(slot);
            if (file != NULL) Py_DecRef(file);
            file = NULL;
            PyErr_Clear();
        } else {
            struct record *rec = &records[index];
            rec->pos = 0;
            rec->host_fd = (int32_t)host_fd;
            int acc = status & G_ACCMODE;  /* (never 3 here, nor O_PATH) */
            rec->ops = OP_SEEK | (acc != 1 ? OP_READ : 0) |
                       (acc != 0 && !(status & G_APPEND) ? OP_WRITE : 0);
            rec->kind = KIND_FILE;
            rec->unused = 0;
            Py_IncRef(zero);
            set_field(file, T_FILE, N_REFS, zero);
            set_field(file, T_FILE, N_FLAGS, values[1]);
            set_field(file, T_FILE, N_HOST_FD, values[0]);
            set_field(file, T_FILE, N_KIND, values[2]);
            set_field(file, T_FILE, N_FILE_KEY, values[3]);
            set_field(file, T_FILE, N_HOST_APPEND, values[4]);
            Py_IncRef(zero);
            set_field(file, T_FILE, N_POS, zero);
            set_field(file, T_FILE, N_FAST, slot);
            return file;
        }
    }
    values[5] = made ? PyLong_FromLongLong(st->st_mode) : NULL;
    if (values[5] != NULL) {
        PyObject *args[5] = {values[0], values[1], &_Py_NoneStruct, values[5], values[3]};
        file = PyObject_Vectorcall(host_file_type, args, 5, NULL);
    }
    for (int i = 0; i < 6; i++)
        if (values[i] != NULL) Py_DecRef(values[i]);
    return file;
}

/* The guest path as bytes (a new reference): the last one made is kept and given again for
 * the same path (bytes are immutable; a path opened again and again allocates nothing). */
static PyObject *path_bytes(const char *path, size_t n) {
    static PyObject *last;
    const char *text = last == NULL ? NULL : PyBytes_AsString(last);
    if (text == NULL || (size_t)PyBytes_Size(last) != n || memcmp(text, path, n) != 0) {
        PyObject *made = PyBytes_FromStringAndSize(path, (ptrdiff_t)n);
        if (made == NULL) return NULL;
        if (last != NULL) Py_DecRef(last);
        last = made;
    }
    Py_IncRef(last);
    return last;
}

/* open/openat(AT_FDCWD) of a regular file as fs.py's _open does it, for the flags and paths
 * where its every other branch is out of play (see the header): 1 with *result set (the new
 * descriptor, or -ENFILE when the host fd is in the microvisor's reserve), 0: Python's.
 * Never inlined: its 8 KiB path buffer would otherwise sit in the frame of every trampoline
 * call, below which a call that blocks (a cage's read of an empty pipe) keeps its Python
 * frames on the fiber's stack: a resident page more per waiting cage. */
__attribute__((noinline)) static int open_file(int32_t number, const int64_t *a,
                                               int64_t *result) {
    if (host_file_type == NULL) return 0;
    int64_t where = a[0], how = a[1], mode_slot = a[2];
    if (number == SYS_OPENAT) {
        if ((int32_t)(uint32_t)a[0] != AT_FDCWD_GUEST) return 0;
        where = a[1], how = a[2], mode_slot = a[3];
    }
    int32_t flags = (int32_t)(uint32_t)how;
    if ((flags & ~OPEN_ALLOWED) || (flags & G_ACCMODE) == G_ACCMODE) return 0;
    struct refs r;  /* (held[] is read below n only: no need to clear it) */
    r.n = 0;
    int served = 0;
    PyObject *cage = plain_cage(&r);
    if (cage == NULL) goto out;
    PyObject *fds = get(&r, cage, N_FDS);
    if (fds == NULL) goto out;
    if (fds->type != fd_table_type) goto out;
    int bad = 0;
    int64_t table = field_int(&r, fds, T_TABLE, N_FAST, &bad);
    int64_t limit = field_int(&r, fds, T_TABLE, N_LIMIT, &bad);
    int64_t umask = (flags & G_CREAT) ? integer(&r, cage, N_UMASK, &bad) : 0;
    if (bad || table == 0) goto out;
    PyObject *entries = field(&r, fds, T_TABLE, N_ENTRIES);
    if (entries == NULL) goto out;
    /* the path, as memory/access.py's read_cstring reads it, joined with the cwd */
    PyObject *mem = get(&r, cage, N_MEM);
    if (mem == NULL || mem->type != memory_type) goto out;
    int64_t base = field_int(&r, mem, T_MEMORY, N_BASE, &bad);
    int64_t size = field_int(&r, mem, T_MEMORY, N_SIZE, &bad);
    int64_t low = field_int(&r, mem, T_MEMORY, N_LOW, &bad);
    if (bad || base <= 0 || size < 0 || low < 0) goto out;
    uint64_t addr = (uint64_t)where;
    if (addr >= 0xFFFFFFFF80000000ULL) addr &= 0xFFFFFFFFULL;
    if (addr < (uint64_t)low || addr >= (uint64_t)size) goto out;
    uint64_t span = (uint64_t)size - addr;
    if (span > PATH_LIMIT) span = PATH_LIMIT;
    const char *text = (const char *)(uintptr_t)base + addr;
    const char *nul = memchr(text, 0, span);
    if (nul == NULL || nul == text) goto out;  /* ENAMETOOLONG, EFAULT, ENOENT: Python's */
    size_t length = (size_t)(nul - text);
    char path[2 * PATH_LIMIT + 2];
    size_t n = 0;
    if (text[0] != '/') {
        PyObject *cwd = get(&r, cage, N_CWD);
        if (cwd == NULL) goto out;
        const char *dir = PyBytes_AsString(cwd);
        if (dir == NULL) goto out;
        n = (size_t)PyBytes_Size(cwd);
        while (n > 0 && dir[n - 1] == '/') n--;  /* cwd.rstrip(b"/") */
        if (n > PATH_LIMIT) goto out;
        memcpy(path, dir, n);
        path[n++] = '/';
    }
    memcpy(path + n, text, length);
    n += length;
    path[n] = 0;
    if (!plain_path(path, n)) goto out;
    PyObject *world = get(&r, cage, N_MICROVISOR);  /* Cage.world (a property) is this */
    if (world == NULL) goto out;
    PyObject *root = get(&r, world, N_ROOT);
    if (root == NULL) goto out;
    int64_t root_fd = field_int(&r, root, T_ROOT, N_FD, &bad);
    PyObject *ceiling_obj = PyDict_GetItemWithError(hostfds_globals, names[N_CEILING]);
    if (bad || ceiling_obj == NULL || root_fd < 0) goto out;
    long long ceiling = PyLong_AsLongLong(ceiling_obj);
    if (ceiling == -1 && PyErr_Occurred() != NULL) goto out;
    PyObject *guest_path = hold(&r, path_bytes(path, n));
    if (guest_path == NULL) goto out;
    if (r.n > HELD - 4) goto out;  /* room for the file, the table's set and the file's record
                                   * index below (never short: HELD has room to spare) */
    /* the host open: confined as open_stat's, then what it is */
    uint64_t host_flags = (uint64_t)(flags & (G_ACCMODE | G_CREAT | G_EXCL | G_APPEND |
                                              G_NOFOLLOW)) | O_NONBLOCK | O_CLOEXEC;
    struct open_how how2 = {
        host_flags,
        (flags & G_CREAT) ? ((uint32_t)mode_slot & ~(uint32_t)umask) & 07777 : 0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    long host_fd = syscall(SYS_OPENAT2, (int)root_fd, path, &how2, sizeof how2);
    if (host_fd < 0) {  /* fs.py's answer: -errno but where the overlay (/etc) or a FIFO
                         * (ENXIO) may answer instead, and EMFILE is the cage's ENFILE */
        int err = errno;
        if (err == ENXIO || !strncmp(path, "/etc", 4)) goto out;
        *result = err == EMFILE ? -ENFILE : -err;
        served = 1;
        goto out;
    }
    if (host_fd >= ceiling) {  /* hostfds.admit: the microvisor's reserve */
        close((int)host_fd);
        *result = -ENFILE;
        served = 1;
        goto out;
    }
    struct stat st;
    /* (the fstat system call itself: glibc's fstat is fstatat(fd, "", AT_EMPTY_PATH)) */
    if (syscall(SYS_fstat, (int)host_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* not a regular file: Python opens it again and takes its own branch (a FIFO, a
         * directory...); O_EXCL created a regular file, so nothing it did is done twice */
        close((int)host_fd);
        goto out;
    }
    PyObject *file = new_host_file(  /* fs.py's _STATUS_FLAGS: what the description keeps */
        host_fd, flags & ~(G_CREAT | G_EXCL | G_NOCTTY | G_TRUNC | G_CLOEXEC), &st);
    if (file == NULL) {
        close((int)host_fd);
        if (!(flags & G_CREAT)) goto out;  /* (no memory: Python fails the same way) */
        *result = -ENOMEM;
        served = 1;
        goto out;
    }
    r.held[r.n++] = file;
    /* FdTable.install, after HostFile() as in _open (and not before it: its Python code could,
     * through a finalizer, change the table); no free number is EMFILE, the file released */
    int64_t vfd = lowest_free(entries, limit);
    PyObject *key = vfd < 0 ? NULL : PyLong_FromLongLong(vfd);
    PyObject *one = PyLong_FromLongLong(1);
    PyObject *cloexec = (flags & G_CLOEXEC) ? field(&r, fds, T_TABLE, N_CLOEXEC) : NULL;
    int64_t index = field_int(&r, file, T_FILE, N_FAST, &bad);
    Py_IncRef(guest_path);
    if (key == NULL || one == NULL || bad || (flags & G_CLOEXEC && cloexec == NULL) ||
        set_field(file, T_FILE, N_GUEST_PATH, guest_path) != 0 ||
        PyDict_SetItem(entries, key, file) != 0) {
        if (key != NULL) Py_DecRef(key);
        if (one != NULL) Py_DecRef(one);
        PyErr_Clear();
        *result = vfd < 0 ? -EMFILE : -ENOMEM;  /* (as _open: the description released) */
        served = 1;
        PyObject *release = PyObject_GetAttr(file, names[N_RELEASE]);
        if (release != NULL) {
            PyObject *done = PyObject_Vectorcall(release, NULL, 0, NULL);
            if (done != NULL) Py_DecRef(done);
            Py_DecRef(release);
        }
        goto out;
    }
    if (cloexec != NULL) PySet_Add(cloexec, key);
    Py_IncRef(one);
    set_field(file, T_FILE, N_REFS, one);
    if (index > 0 && (uint64_t)index < record_count && vfd < FAST_FDS) {  /* (was 0: free) */
        ((uint32_t *)(uintptr_t)table)[vfd] = (uint32_t)index;
        fd_counts[vfd]++;
    }
    Py_DecRef(key);
    Py_DecRef(one);
    *result = vfd;
    served = 1;
out:
    if (served) lind_fastopen_served++;
    if (PyErr_Occurred() != NULL) PyErr_Clear();
    for (int i = 0; i < r.n; i++) Py_DecRef(r.held[i]);
    return served;
}

