/* imfs: a C grate that gives the program it runs an in-memory filesystem.
 *
 * usage: imfs.wasm [--] PROGRAM [ARGS...]
 *
 * Every path the program (and the cages it forks) opens, creates, stats,
 * lists or removes lives in this grate's memory and disappears with it: the
 * host directory behind the cage's root is never touched.  Served:
 * open/openat, read/write, readv/writev, pread64/pwrite64, lseek, close,
 * fstat/stat/lstat/newfstatat, access/faccessat, unlink/unlinkat, mkdir/
 * mkdirat, rmdir, getdents64, and fcntl/ioctl on imfs descriptors.
 *
 * Descriptors.  The fds imfs hands out start at IMFS_FD_BASE (16384), above
 * any descriptor the runtime's fd table can give out (its hard limit is 4096),
 * so they never collide with the cage's real fds: every fd-taking handler
 * serves its own range and passes every other fd on unchanged, as the calling
 * cage, with make_threei_call (stdio on fds 0-2 keeps working).  An openat
 * relative to a real directory fd is passed on too.
 *
 * Simplifications (this is a reference grate): one namespace and one
 * descriptor space for all the cages it serves (a forked child shares its
 * parent's imfs descriptors, and closing one closes it for both); relative
 * paths resolve from the imfs root (chdir is not interposed); no symlinks,
 * hard links, rename or permissions; dup/dup2 of an imfs fd fail (EBADF from
 * the runtime).  The handlers hold one lock while they touch the tree: a
 * grate's handlers run concurrently (one worker per call in flight).
 *
 * Lind style: one C handler per call, registered with register_handler and
 * entered through the default pass_fptr_to_wt that `cc --grate` links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lind_syscall.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IMFS_FD_BASE 16384
#define MAX_NODES 4096
#define MAX_OPEN 1024
#define MAX_FILE (64 << 20)
#define MAX_IOV 1024

struct node {
	int used, dir, parent, opens, unlinked;
	char name[NAME_MAX + 1];
	unsigned char *data;
	size_t size, cap;
	unsigned mode;
	struct timespec mtime;
};

struct ofile {
	int used, node, flags, cloexec;
	int64_t off;
};

static struct node nodes[MAX_NODES]; /* nodes[0] is the root directory */
static struct ofile files[MAX_OPEN];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t self_id;

#define HANDLER(name) \
	static int name(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, \
	                uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, \
	                uint64_t c5, uint64_t a6, uint64_t c6)
#define FORWARD(nr) \
	make_threei_call(nr, 0, self_id, cage, a1, c1, a2, c2, a3, c3, a4, c4, a5, c5, a6, c6, \
	                 TRANSLATE_ERRNO_OFF)
#define UNUSED_ARGS (void)a1, (void)c1, (void)a2, (void)c2, (void)a3, (void)c3, (void)a4, \
	(void)c4, (void)a5, (void)c5, (void)a6, (void)c6

/* ---------------------------------------------------------------- memory */

static int from_cage(uint64_t cage, uint64_t owner, uint64_t addr, void *dst, size_t n)
{
	if (!n) return 0;
	return copy_data_between_cages(self_id, cage, addr, owner, (uint64_t)(uintptr_t)dst,
	                               self_id, n, LIND_COPY_MEMCPY) < 0 ? -EFAULT : 0;
}

static int to_cage(uint64_t cage, uint64_t owner, uint64_t addr, const void *src, size_t n)
{
	if (!n) return 0;
	return copy_data_between_cages(self_id, cage, (uint64_t)(uintptr_t)src, self_id, addr,
	                               owner, n, LIND_COPY_MEMCPY) < 0 ? -EFAULT : 0;
}

/* The path at addr in owner's memory, into buf (PATH_MAX + 1 bytes). */
static int get_path(uint64_t cage, uint64_t owner, uint64_t addr, char *buf)
{
	buf[PATH_MAX] = 0;
	if (!addr || copy_data_between_cages(self_id, cage, addr, owner, (uint64_t)(uintptr_t)buf,
	                                     self_id, PATH_MAX, LIND_COPY_STRNCPY) < 0)
		return -EFAULT;
	if (strlen(buf) >= PATH_MAX) return -ENAMETOOLONG;
	if (!*buf) return -ENOENT;
	return 0;
}

/* ---------------------------------------------------------------- the tree */

static void touch(int n)
{
	clock_gettime(CLOCK_REALTIME, &nodes[n].mtime);
}

static int child_of(int dir, const char *name, size_t len)
{
	for (int i = 1; i < MAX_NODES; i++)
		if (nodes[i].used && !nodes[i].unlinked && nodes[i].parent == dir
		    && strlen(nodes[i].name) == len && !memcmp(nodes[i].name, name, len))
			return i;
	return -1;
}

/* Walk path from dir.  Returns the node, or -errno.  parent, name, len
 * describe the last component when everything before it exists (then a
 * missing last component is -ENOENT with *parent >= 0: it can be created). */
static int resolve(int dir, const char *path, int *parent, const char **name, size_t *len)
{
	int cur = *path == '/' ? 0 : dir;
	const char *p = path;
	*parent = -1;
	*name = ".";
	*len = 1;
	for (;;) {
		while (*p == '/') p++;
		if (!*p) return cur;
		if (!nodes[cur].dir) return -ENOTDIR;
		const char *end = p;
		while (*end && *end != '/') end++;
		size_t n = end - p;
		int next;
		if (n == 1 && p[0] == '.') next = cur;
		else if (n == 2 && p[0] == '.' && p[1] == '.') next = nodes[cur].parent;
		else if (n > NAME_MAX) return -ENAMETOOLONG;
		else next = child_of(cur, p, n);
		const char *rest = end;
		while (*rest == '/') rest++;
		if (!*rest) {
			*parent = cur;
			*name = p;
			*len = n;
			if (*end == '/' && next >= 0 && !nodes[next].dir) return -ENOTDIR;
			return next >= 0 ? next : -ENOENT;
		}
		if (next < 0) return -ENOENT;
		cur = next;
		p = rest;
	}
}

static int new_node(int parent, const char *name, size_t len, int dir, unsigned mode)
{
	for (int i = 1; i < MAX_NODES; i++) {
		if (nodes[i].used) continue;
		memset(&nodes[i], 0, sizeof nodes[i]);
		nodes[i].used = 1;
		nodes[i].dir = dir;
		nodes[i].parent = parent;
		memcpy(nodes[i].name, name, len);
		nodes[i].mode = mode & 07777;
		touch(i);
		touch(parent);
		return i;
	}
	return -ENOSPC;
}

static void release(int n)
{
	if (nodes[n].unlinked && !nodes[n].opens) {
		free(nodes[n].data);
		memset(&nodes[n], 0, sizeof nodes[n]);
	}
}

static int is_empty_dir(int n)
{
	for (int i = 1; i < MAX_NODES; i++)
		if (nodes[i].used && !nodes[i].unlinked && nodes[i].parent == n) return 0;
	return 1;
}

static struct ofile *file_of(uint64_t fd)
{
	int64_t i = (int64_t)(int)fd - IMFS_FD_BASE;
	if (i < 0 || i >= MAX_OPEN || !files[i].used) return 0;
	return &files[i];
}

static int is_imfs_fd(uint64_t fd)
{
	pthread_mutex_lock(&lock);
	int yes = file_of(fd) != 0;
	pthread_mutex_unlock(&lock);
	return yes;
}

/* The directory a *at call starts from: the root for AT_FDCWD, an imfs
 * directory, or -EBADF (a real fd: the call is passed on). */
static int start_dir(uint64_t dirfd, const char *path)
{
	if (*path == '/' || (int)dirfd == AT_FDCWD) return 0;
	struct ofile *f = file_of(dirfd);
	if (!f) return -EBADF;
	return nodes[f->node].dir ? f->node : -ENOTDIR;
}

static int reserve(size_t need, struct node *n)
{
	if (need <= n->cap) return 0;
	if (need > MAX_FILE) return -EFBIG;
	size_t cap = n->cap ? n->cap : 256;
	while (cap < need) cap *= 2;
	unsigned char *data = realloc(n->data, cap);
	if (!data) return -ENOMEM;
	memset(data + n->cap, 0, cap - n->cap);
	n->data = data;
	n->cap = cap;
	return 0;
}

static void fill_stat(int n, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_dev = 0x1f;
	st->st_ino = n + 1;
	st->st_nlink = nodes[n].dir ? 2 : !nodes[n].unlinked;
	st->st_mode = (nodes[n].dir ? S_IFDIR : S_IFREG) | nodes[n].mode;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = nodes[n].dir ? 4096 : nodes[n].size;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = nodes[n].mtime;
}

/* ---------------------------------------------------------------- operations */

static int do_open(uint64_t cage, int dirfd, const char *path, int flags, unsigned mode)
{
	int parent, r, acc = flags & O_ACCMODE;
	const char *name;
	size_t len;
	pthread_mutex_lock(&lock);
	r = start_dir(dirfd, path);
	if (r < 0) goto out;
	r = resolve(r, path, &parent, &name, &len);
	if (r >= 0) {
		if ((flags & O_CREAT) && (flags & O_EXCL)) r = -EEXIST;
		else if (nodes[r].dir && (acc != O_RDONLY || (flags & O_CREAT))) r = -EISDIR;
		else if ((flags & O_DIRECTORY) && !nodes[r].dir) r = -ENOTDIR;
		else if ((flags & O_TRUNC) && acc != O_RDONLY) {
			nodes[r].size = 0;
			touch(r);
		}
	} else if (r == -ENOENT && parent >= 0 && (flags & O_CREAT)) {
		r = (flags & O_DIRECTORY) ? -EINVAL : new_node(parent, name, len, 0, mode);
	}
	if (r < 0) goto out;
	for (int i = 0; i < MAX_OPEN; i++) {
		if (files[i].used) continue;
		files[i] = (struct ofile){1, r, flags & ~O_CLOEXEC, !!(flags & O_CLOEXEC), 0};
		nodes[r].opens++;
		r = IMFS_FD_BASE + i;
		goto out;
	}
	r = -EMFILE;
out:
	pthread_mutex_unlock(&lock);
	(void)cage;
	return r;
}

/* Read or write at *off (a file's offset, or a pread/pwrite position). */
static int64_t transfer(uint64_t cage, struct ofile *f, uint64_t buf, uint64_t owner,
                        uint64_t count, int64_t *off, int writing)
{
	struct node *n = &nodes[f->node];
	int acc = f->flags & O_ACCMODE;
	if (n->dir) return -EISDIR;
	if (writing ? acc == O_RDONLY : acc == O_WRONLY) return -EBADF;
	if (count > MAX_FILE) count = MAX_FILE;
	if (!writing) {
		if (*off >= (int64_t)n->size) return 0;
		size_t k = n->size - *off < count ? n->size - *off : count;
		if (to_cage(cage, owner, buf, n->data + *off, k) < 0) return -EFAULT;
		*off += k;
		return k;
	}
	if (f->flags & O_APPEND) *off = n->size;
	int r = reserve(*off + count, n);
	if (r < 0) return r;
	if (from_cage(cage, owner, buf, n->data + *off, count) < 0) return -EFAULT;
	*off += count;
	if ((size_t)*off > n->size) n->size = *off;
	touch(f->node);
	return count;
}

static int64_t rw(uint64_t cage, uint64_t fd, uint64_t buf, uint64_t owner, uint64_t count,
                  int64_t *pos, int writing)
{
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(fd);
	int64_t r = -EBADF;
	if (f) r = transfer(cage, f, buf, owner, count, pos ? pos : &f->off, writing);
	pthread_mutex_unlock(&lock);
	return r;
}

static int64_t rwv(uint64_t cage, uint64_t fd, uint64_t iovaddr, uint64_t owner, uint64_t cnt,
                   int writing)
{
	uint32_t iov[2];
	int64_t total = 0;
	if (cnt > MAX_IOV) return -EINVAL;
	for (uint64_t i = 0; i < cnt; i++) {
		if (from_cage(cage, owner, iovaddr + 8 * i, iov, sizeof iov) < 0) return -EFAULT;
		if (!iov[1]) continue;
		int64_t k = rw(cage, fd, iov[0], owner, iov[1], 0, writing);
		if (k < 0) return total ? total : k;
		total += k;
		if (k < iov[1]) break;
	}
	return total;
}

static int do_stat(uint64_t cage, int dirfd, const char *path, uint64_t buf, uint64_t owner)
{
	int parent, r;
	const char *name;
	size_t len;
	struct stat st;
	pthread_mutex_lock(&lock);
	r = start_dir(dirfd, path);
	if (r >= 0) r = resolve(r, path, &parent, &name, &len);
	if (r >= 0) fill_stat(r, &st);
	pthread_mutex_unlock(&lock);
	if (r < 0) return r;
	return to_cage(cage, owner, buf, &st, sizeof st);
}

static int do_mkdir(int dirfd, const char *path, unsigned mode)
{
	int parent, r;
	const char *name;
	size_t len;
	pthread_mutex_lock(&lock);
	r = start_dir(dirfd, path);
	if (r >= 0) r = resolve(r, path, &parent, &name, &len);
	if (r >= 0) r = -EEXIST;
	else if (r == -ENOENT && parent >= 0) r = new_node(parent, name, len, 1, mode) < 0 ? -ENOSPC : 0;
	pthread_mutex_unlock(&lock);
	return r;
}

static int do_unlink(int dirfd, const char *path, int dir)
{
	int parent, r;
	const char *name;
	size_t len;
	pthread_mutex_lock(&lock);
	r = start_dir(dirfd, path);
	if (r >= 0) r = resolve(r, path, &parent, &name, &len);
	if (r == 0) r = -EBUSY; /* the root */
	else if (r > 0 && dir && !nodes[r].dir) r = -ENOTDIR;
	else if (r > 0 && !dir && nodes[r].dir) r = -EISDIR;
	else if (r > 0 && dir && !is_empty_dir(r)) r = -ENOTEMPTY;
	else if (r > 0) {
		nodes[r].unlinked = 1;
		touch(nodes[r].parent);
		release(r);
		r = 0;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* One linux_dirent64 record at out; returns its length, 0 if it does not fit. */
static size_t dirent_at(unsigned char *out, size_t room, uint64_t ino, int64_t next,
                        int type, const char *name)
{
	size_t namelen = strlen(name), reclen = (19 + namelen + 1 + 7) & ~(size_t)7;
	if (reclen > room) return 0;
	memset(out, 0, reclen);
	memcpy(out, &ino, 8);
	memcpy(out + 8, &next, 8);
	out[16] = reclen & 0xff;
	out[17] = reclen >> 8;
	out[18] = type;
	memcpy(out + 19, name, namelen);
	return reclen;
}

static int64_t do_getdents(uint64_t cage, uint64_t fd, uint64_t buf, uint64_t owner,
                           uint64_t count)
{
	unsigned char out[4096];
	size_t used = 0, room = count < sizeof out ? count : sizeof out;
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(fd);
	int64_t r = 0;
	if (!f) r = -EBADF;
	else if (!nodes[f->node].dir) r = -ENOTDIR;
	else {
		/* entry k: 0 ".", 1 "..", then the children in node order */
		int dir = f->node, k = 0;
		for (int i = -1; i < MAX_NODES; i++) {
			int node;
			const char *name;
			if (i == -1) node = dir, name = ".";
			else if (i == 0) node = nodes[dir].parent, name = "..";
			else if (nodes[i].used && !nodes[i].unlinked && nodes[i].parent == dir && i != dir)
				node = i, name = nodes[i].name;
			else continue;
			if (k++ < f->off) continue;
			size_t n = dirent_at(out + used, room - used, node + 1, k,
			                     nodes[node].dir ? DT_DIR : DT_REG, name);
			if (!n) {
				if (!used) r = -EINVAL;
				break;
			}
			used += n;
			f->off = k;
		}
		if (!r) r = used;
	}
	pthread_mutex_unlock(&lock);
	if (r > 0 && to_cage(cage, owner, buf, out, used) < 0) r = -EFAULT;
	return r;
}

/* ---------------------------------------------------------------- handlers */

HANDLER(h_read)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_read);
	return rw(cage, a1, a2, c2, a3, 0, 0);
}

HANDLER(h_write)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_write);
	return rw(cage, a1, a2, c2, a3, 0, 1);
}

HANDLER(h_pread)
{
	int64_t pos = a4;
	if (!is_imfs_fd(a1)) return FORWARD(SYS_pread64);
	return pos < 0 ? -EINVAL : rw(cage, a1, a2, c2, a3, &pos, 0);
}

HANDLER(h_pwrite)
{
	int64_t pos = a4;
	if (!is_imfs_fd(a1)) return FORWARD(SYS_pwrite64);
	return pos < 0 ? -EINVAL : rw(cage, a1, a2, c2, a3, &pos, 1);
}

HANDLER(h_readv)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_readv);
	return rwv(cage, a1, a2, c2, a3, 0);
}

HANDLER(h_writev)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_writev);
	return rwv(cage, a1, a2, c2, a3, 1);
}

HANDLER(h_open)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c1, a1, path);
	return r < 0 ? r : do_open(cage, AT_FDCWD, path, (int)a2, (unsigned)a3);
}

HANDLER(h_openat)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c2, a2, path);
	if (r < 0) return r;
	if (path[0] != '/' && (int)a1 != AT_FDCWD && !is_imfs_fd(a1)) return FORWARD(SYS_openat);
	return do_open(cage, (int)a1, path, (int)a3, (unsigned)a4);
}

HANDLER(h_close)
{
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(a1);
	if (f) {
		int node = f->node;
		f->used = 0;
		nodes[node].opens--;
		release(node);
	}
	pthread_mutex_unlock(&lock);
	return f ? 0 : FORWARD(SYS_close);
}

HANDLER(h_lseek)
{
	int64_t off = a2, r;
	int whence = (int)a3;
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(a1);
	if (f) {
		int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->off
			: whence == SEEK_END ? (int64_t)nodes[f->node].size : -1;
		if (base < 0 || base + off < 0) r = -EINVAL;
		else r = f->off = base + off;
	}
	pthread_mutex_unlock(&lock);
	return f ? (int)r : FORWARD(SYS_lseek);
}

HANDLER(h_fstat)
{
	struct stat st;
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(a1);
	if (f) fill_stat(f->node, &st);
	pthread_mutex_unlock(&lock);
	return f ? to_cage(cage, c2, a2, &st, sizeof st) : FORWARD(SYS_fstat);
}

HANDLER(h_stat)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c1, a1, path);
	return r < 0 ? r : do_stat(cage, AT_FDCWD, path, a2, c2);
}

HANDLER(h_newfstatat)
{
	char path[PATH_MAX + 1];
	if ((a4 & AT_EMPTY_PATH) && is_imfs_fd(a1)) {
		char empty;
		if (copy_data_between_cages(self_id, cage, a2, c2, (uint64_t)(uintptr_t)&empty,
		                            self_id, 1, LIND_COPY_STRNCPY) == 0 && !empty)
			return h_fstat(cage, a1, c1, a3, c3, 0, 0, 0, 0, 0, 0, 0, 0);
	}
	int r = get_path(cage, c2, a2, path);
	if (r < 0) return r;
	if (path[0] != '/' && (int)a1 != AT_FDCWD && !is_imfs_fd(a1)) return FORWARD(SYS_newfstatat);
	return do_stat(cage, (int)a1, path, a3, c3);
}

HANDLER(h_access)
{
	char path[PATH_MAX + 1];
	int parent, r = get_path(cage, c1, a1, path);
	const char *name;
	size_t len;
	if (r < 0) return r;
	pthread_mutex_lock(&lock);
	r = resolve(0, path, &parent, &name, &len);
	pthread_mutex_unlock(&lock);
	return r < 0 ? r : 0;
}

HANDLER(h_faccessat)
{
	char path[PATH_MAX + 1];
	int parent, r = get_path(cage, c2, a2, path);
	const char *name;
	size_t len;
	if (r < 0) return r;
	if (path[0] != '/' && (int)a1 != AT_FDCWD && !is_imfs_fd(a1)) return FORWARD(SYS_faccessat);
	pthread_mutex_lock(&lock);
	r = start_dir(a1, path);
	if (r >= 0) r = resolve(r, path, &parent, &name, &len);
	pthread_mutex_unlock(&lock);
	return r < 0 ? r : 0;
}

HANDLER(h_mkdir)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c1, a1, path);
	return r < 0 ? r : do_mkdir(AT_FDCWD, path, (unsigned)a2);
}

HANDLER(h_mkdirat)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c2, a2, path);
	if (r < 0) return r;
	if (path[0] != '/' && (int)a1 != AT_FDCWD && !is_imfs_fd(a1)) return FORWARD(SYS_mkdirat);
	return do_mkdir((int)a1, path, (unsigned)a3);
}

HANDLER(h_unlink)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c1, a1, path);
	return r < 0 ? r : do_unlink(AT_FDCWD, path, 0);
}

HANDLER(h_rmdir)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c1, a1, path);
	return r < 0 ? r : do_unlink(AT_FDCWD, path, 1);
}

HANDLER(h_unlinkat)
{
	char path[PATH_MAX + 1];
	int r = get_path(cage, c2, a2, path);
	if (r < 0) return r;
	if (path[0] != '/' && (int)a1 != AT_FDCWD && !is_imfs_fd(a1)) return FORWARD(SYS_unlinkat);
	return do_unlink((int)a1, path, (a3 & AT_REMOVEDIR) != 0);
}

HANDLER(h_getdents64)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_getdents64);
	return do_getdents(cage, a1, a2, c2, a3);
}

HANDLER(h_fcntl)
{
	int r = -EINVAL;
	pthread_mutex_lock(&lock);
	struct ofile *f = file_of(a1);
	if (f) {
		switch ((int)a2) {
		case F_GETFD: r = f->cloexec ? FD_CLOEXEC : 0; break;
		case F_SETFD: f->cloexec = (a3 & FD_CLOEXEC) != 0; r = 0; break;
		case F_GETFL: r = f->flags; break;
		case F_SETFL:
			f->flags = (f->flags & ~(O_APPEND | O_NONBLOCK)) | (a3 & (O_APPEND | O_NONBLOCK));
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return f ? r : FORWARD(SYS_fcntl);
}

HANDLER(h_ioctl)
{
	if (!is_imfs_fd(a1)) return FORWARD(SYS_ioctl);
	return -ENOTTY;
}

typedef int (*handler_t)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                         uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

static const struct {
	int nr;
	handler_t fn;
} handlers[] = {
	{SYS_read, h_read}, {SYS_write, h_write}, {SYS_open, h_open}, {SYS_close, h_close},
	{SYS_stat, h_stat}, {SYS_fstat, h_fstat}, {SYS_lstat, h_stat}, {SYS_lseek, h_lseek},
	{SYS_ioctl, h_ioctl}, {SYS_pread64, h_pread}, {SYS_pwrite64, h_pwrite},
	{SYS_readv, h_readv}, {SYS_writev, h_writev}, {SYS_access, h_access},
	{SYS_fcntl, h_fcntl}, {SYS_mkdir, h_mkdir}, {SYS_rmdir, h_rmdir},
	{SYS_unlink, h_unlink}, {SYS_getdents64, h_getdents64}, {SYS_openat, h_openat},
	{SYS_mkdirat, h_mkdirat}, {SYS_newfstatat, h_newfstatat}, {SYS_unlinkat, h_unlinkat},
	{SYS_faccessat, h_faccessat},
};

int main(int argc, char **argv)
{
	int first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--] PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	nodes[0].used = nodes[0].dir = 1;
	nodes[0].mode = 0755;
	touch(0);
	self_id = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("imfs: fork");
		return 1;
	}
	if (child == 0) {
		uint64_t me = getpid();
		for (size_t i = 0; i < sizeof handlers / sizeof *handlers; i++) {
			if (register_handler(me, handlers[i].nr, self_id,
			                     (uint64_t)(uintptr_t)handlers[i].fn) < 0) {
				perror("imfs: register_handler");
				_exit(1);
			}
		}
		execv(argv[first], &argv[first]);
		fprintf(stderr, "imfs: %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	while (wait(NULL) > 0)
		;
	return code;
}
