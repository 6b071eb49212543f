/* strace: a C grate that prints every system call of the program it runs, in
 * strace's format, one line per call on its stderr:
 *
 *     [cage 3] openat(AT_FDCWD, "/x", O_RDONLY) = 3
 *     [cage 3] read(3, "abc", 100) = 3
 *     [cage 3] open("/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
 *
 * usage: strace.wasm [--] PROGRAM [ARGS...]
 *
 * Like every Lind grate it forks; the child routes the calls to this cage
 * (register_handler on itself) and execs PROGRAM, which keeps the routes, as
 * do the cages PROGRAM forks.  A leading `--` is skipped, so grates compose:
 * `strace.wasm -- imfs.wasm -- app.wasm` (strace sits below imfs: it sees the
 * calls imfs passes on).  PROGRAM is a path inside the cage's root.
 *
 * One handler serves every number: the id registered for call N is
 * TRACE_ID | N, which this grate's own pass_fptr_to_wt recognises (a grate
 * defines its entry point, so handler ids are its business).  A compact table
 * names and decodes the common calls; others print as syscall_N(args).  The
 * call is forwarded with make_threei_call-style lind_threei_call, as the
 * calling cage, and its arguments are decoded afterwards (buffers it filled)
 * -- except exit_group and execve, printed before they take effect.  Strings
 * and buffers are read from the cage that owns each argument with
 * copy_data_between_cages.  Each line is one write(2), so lines from cages
 * served at the same time do not interleave. */
#include <errno.h>
#include <fcntl.h>
#include <lind_syscall.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRACE_ID (1ULL << 32)
#define MAX_NR 512
#define STRLEN 32 /* bytes of a buffer shown, as strace -s 32 */

static uint64_t self_id;

/* Argument kinds: i int, l 64-bit long, u unsigned, x pointer (hex), s path,
 * W buffer written (length: next argument), R buffer read (length: the
 * result), Z string returned, S struct stat returned, V iovec array (count:
 * next argument), A argv array, F open flags, M mode when the flags create,
 * o octal mode, D dirfd, w lseek whence, P mmap prot, m mmap flags, g signal,
 * T struct timespec, C fcntl command, E environment (counted).  ret: d decimal, x hex, ? none. */
struct call {
	short nr;
	char ret;
	const char *name, *args;
};

static const struct call calls[] = {
	{0, 'd', "read", "iRu"}, {1, 'd', "write", "iWu"}, {2, 'd', "open", "sFM"},
	{3, 'd', "close", "i"}, {4, 'd', "stat", "sS"}, {5, 'd', "fstat", "iS"},
	{6, 'd', "lstat", "sS"}, {7, 'd', "poll", "xui"}, {8, 'd', "lseek", "ilw"},
	{9, 'x', "mmap", "xuPmil"}, {10, 'd', "mprotect", "xuP"}, {11, 'd', "munmap", "xu"},
	{12, 'x', "brk", "x"}, {13, 'd', "rt_sigaction", "gxxu"},
	{14, 'd', "rt_sigprocmask", "ixxu"}, {16, 'd', "ioctl", "ixx"},
	{17, 'd', "pread64", "iRul"}, {18, 'd', "pwrite64", "iWul"}, {19, 'd', "readv", "iVi"},
	{20, 'd', "writev", "iVi"}, {21, 'd', "access", "si"}, {22, 'd', "pipe", "x"},
	{23, 'd', "select", "ixxxx"}, {24, 'd', "sched_yield", ""}, {32, 'd', "dup", "i"},
	{33, 'd', "dup2", "ii"}, {34, 'd', "pause", ""}, {35, 'd', "nanosleep", "Tx"},
	{37, 'd', "alarm", "u"}, {39, 'd', "getpid", ""}, {41, 'd', "socket", "iii"},
	{57, 'd', "fork", ""}, {59, 'd', "execve", "sAE"}, {61, 'd', "wait4", "ixix"},
	{62, 'd', "kill", "ig"}, {63, 'd', "uname", "x"}, {72, 'd', "fcntl", "iCx"},
	{74, 'd', "fsync", "i"}, {77, 'd', "ftruncate", "il"}, {79, 'd', "getcwd", "Zu"},
	{80, 'd', "chdir", "s"}, {81, 'd', "fchdir", "i"}, {82, 'd', "rename", "ss"},
	{83, 'd', "mkdir", "so"}, {84, 'd', "rmdir", "s"}, {86, 'd', "link", "ss"},
	{87, 'd', "unlink", "s"}, {88, 'd', "symlink", "ss"}, {89, 'd', "readlink", "sRu"},
	{90, 'd', "chmod", "so"}, {95, 'd', "umask", "o"}, {96, 'd', "gettimeofday", "xx"},
	{97, 'd', "getrlimit", "ix"}, {102, 'd', "getuid", ""}, {104, 'd', "getgid", ""},
	{105, 'd', "setuid", "i"}, {106, 'd', "setgid", "i"}, {107, 'd', "geteuid", ""},
	{108, 'd', "getegid", ""}, {109, 'd', "setpgid", "ii"}, {110, 'd', "getppid", ""},
	{111, 'd', "getpgrp", ""}, {112, 'd', "setsid", ""}, {121, 'd', "getpgid", "i"},
	{124, 'd', "getsid", "i"}, {131, 'd', "sigaltstack", "xx"}, {137, 'd', "statfs", "sx"},
	{160, 'd', "setrlimit", "ix"}, {202, 'd', "futex", "xiixxi"},
	{217, 'd', "getdents64", "ixu"}, {228, 'd', "clock_gettime", "ix"},
	{230, 'd', "clock_nanosleep", "iiTx"}, {231, '?', "exit_group", "i"},
	{257, 'd', "openat", "DsFM"}, {258, 'd', "mkdirat", "Dso"},
	{262, 'd', "newfstatat", "DsSx"}, {263, 'd', "unlinkat", "Dsx"},
	{264, 'd', "renameat", "DsDs"}, {269, 'd', "faccessat", "Dsi"},
	{270, 'd', "pselect6", "ixxxxx"}, {271, 'd', "ppoll", "xuxxu"},
	{292, 'd', "dup3", "iix"}, {293, 'd', "pipe2", "xx"}, {302, 'd', "prlimit64", "iixx"},
	{318, 'd', "getrandom", "xux"}, {1001, 'd', "register_handler", "iiix"},
	{1002, 'd', "copy_data_between_cages", "ixxxui"},
	{1003, 'd', "copy_handler_table_to_cage", "ii"},
};

/* Not traced: calls that act on the calling *thread* (a grate cannot act as a
 * thread of another cage), and exit, which ends only a thread. */
static int untraced(int nr)
{
	return nr == 15 || nr == 56 || nr == 58 || nr == 60 || nr == 186 || nr == 200
	    || nr == 218 || nr == 234 || nr == 273 || nr == 274;
}

#define E(x) {x, #x}
static const struct {
	int code;
	const char *name;
} errnames[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC),
	E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY), E(EEXIST),
	E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
	E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(ERANGE), E(EDEADLK),
	E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOTSOCK), E(EOPNOTSUPP),
	E(ECONNREFUSED), E(ETIMEDOUT), E(EADDRINUSE), E(ENOTCONN),
};

struct out {
	char buf[8192];
	size_t n;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->n >= sizeof o->buf) return;
	va_start(ap, fmt);
	int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (k > 0) o->n = o->n + k < sizeof o->buf ? o->n + k : sizeof o->buf - 1;
}

/* Copy n bytes (or a string of at most n bytes) from addr in cage. */
static int fetch(uint64_t cage, uint64_t addr, void *dst, size_t n, int string)
{
	return copy_data_between_cages(self_id, cage, addr, cage, (uint64_t)(uintptr_t)dst,
	                               self_id, n, string ? LIND_COPY_STRNCPY : LIND_COPY_MEMCPY);
}

static void put_escaped(struct out *o, const unsigned char *s, size_t n)
{
	put(o, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') put(o, "\\%c", c);
		else if (c == '\n') put(o, "\\n");
		else if (c == '\t') put(o, "\\t");
		else if (c == '\r') put(o, "\\r");
		else if (c >= 32 && c < 127) put(o, "%c", c);
		else if (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7') put(o, "\\%03o", c);
		else put(o, "\\%o", c);
	}
	put(o, "\"");
}

static void put_ptr(struct out *o, uint64_t p)
{
	if (p) put(o, "0x%llx", (unsigned long long)p);
	else put(o, "NULL");
}

static void put_path(struct out *o, uint64_t cage, uint64_t addr)
{
	char path[4097];
	path[4096] = 0;
	if (!addr || fetch(cage, addr, path, 4096, 1) < 0) {
		put_ptr(o, addr);
		return;
	}
	put_escaped(o, (unsigned char *)path, strlen(path));
}

static void put_buffer(struct out *o, uint64_t cage, uint64_t addr, int64_t len)
{
	unsigned char data[STRLEN];
	size_t n = len < STRLEN ? (size_t)len : STRLEN;
	if (len < 0 || (n && fetch(cage, addr, data, n, 0) < 0)) {
		put_ptr(o, addr);
		return;
	}
	put_escaped(o, data, n);
	if ((uint64_t)len > n) put(o, "...");
}

static void put_iovec(struct out *o, uint64_t cage, uint64_t addr, int64_t count,
                      int64_t result, int reading)
{
	uint32_t iov[2];
	int64_t left = result;
	put(o, "[");
	for (int64_t i = 0; i < count && i < 16; i++) {
		if (fetch(cage, addr + 8 * i, iov, sizeof iov, 0) < 0) break;
		put(o, "%s{iov_base=", i ? ", " : "");
		if (!iov[0]) put(o, "NULL");
		else if (reading) {
			int64_t got = left < (int64_t)iov[1] ? left : iov[1];
			put_buffer(o, cage, iov[0], got > 0 ? got : 0);
			left -= got > 0 ? got : 0;
		} else put_buffer(o, cage, iov[0], iov[1]);
		put(o, ", iov_len=%u}", iov[1]);
	}
	put(o, "]");
}

static void put_argv(struct out *o, uint64_t cage, uint64_t addr)
{
	uint32_t p;
	put(o, "[");
	for (int i = 0; addr; i++) {
		if (fetch(cage, addr + 4 * i, &p, 4, 0) < 0 || !p) break;
		if (i) put(o, ", ");
		if (i == 32) {
			put(o, "...");
			break;
		}
		put_path(o, cage, p);
	}
	put(o, "]");
}

static void put_flags(struct out *o, uint64_t v, const char *const *names, const unsigned *bits,
                      int count, const char *zero)
{
	int any = 0;
	for (int i = 0; i < count; i++) {
		if (bits[i] && (v & bits[i]) == bits[i]) {
			put(o, "%s%s", any ? "|" : "", names[i]);
			v &= ~(uint64_t)bits[i];
			any = 1;
		}
	}
	if (v || !any) {
		if (any) put(o, "|%#llx", (unsigned long long)v);
		else if (!v && zero) put(o, "%s", zero);
		else put(o, "%#llx", (unsigned long long)v);
	}
}

static void put_open_flags(struct out *o, uint64_t f)
{
	static const char *const names[] = {"O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC",
		"O_APPEND", "O_NONBLOCK", "O_DIRECTORY", "O_NOFOLLOW", "O_CLOEXEC"};
	static const unsigned bits[] = {O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND,
		O_NONBLOCK, O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC};
	static const char *const modes[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
	put(o, "%s", modes[f & O_ACCMODE]);
	f &= ~(uint64_t)O_ACCMODE;
	if (f) {
		put(o, "|");
		put_flags(o, f, names, bits, 9, 0);
	}
}

static void put_stat(struct out *o, uint64_t cage, uint64_t addr)
{
	struct stat st;
	if (fetch(cage, addr, &st, sizeof st, 0) < 0) {
		put_ptr(o, addr);
		return;
	}
	const char *type = S_ISREG(st.st_mode) ? "S_IFREG" : S_ISDIR(st.st_mode) ? "S_IFDIR"
		: S_ISCHR(st.st_mode) ? "S_IFCHR" : S_ISFIFO(st.st_mode) ? "S_IFIFO"
		: S_ISLNK(st.st_mode) ? "S_IFLNK" : S_ISSOCK(st.st_mode) ? "S_IFSOCK" : "S_IFBLK";
	put(o, "{st_mode=%s|%04o, st_size=%lld, ...}", type, (unsigned)(st.st_mode & 07777),
	    (long long)st.st_size);
}

static void put_signal(struct out *o, int64_t sig)
{
	static const char *const names[] = {0, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP",
		"SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE",
		"SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
		"SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
		"SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};
	if (sig > 0 && sig < 32) put(o, "%s", names[sig]);
	else put(o, "%lld", (long long)sig);
}

static void put_arg(struct out *o, char kind, const uint64_t *a, const uint64_t *c, int i,
                    int64_t result, int done)
{
	uint64_t v = a[i];
	int ok = done && result >= 0;
	switch (kind) {
	case 'i': put(o, "%d", (int)v); break;
	case 'l': put(o, "%lld", (long long)v); break;
	case 'u': put(o, "%llu", (unsigned long long)(uint32_t)v); break;
	case 's': put_path(o, c[i], v); break;
	case 'W': put_buffer(o, c[i], v, (int64_t)(uint32_t)a[i + 1]); break;
	case 'R':
		if (ok) put_buffer(o, c[i], v, result);
		else put_ptr(o, v);
		break;
	case 'Z':
		if (ok) put_path(o, c[i], v);
		else put_ptr(o, v);
		break;
	case 'S':
		if (ok) put_stat(o, c[i], v);
		else put_ptr(o, v);
		break;
	case 'A': put_argv(o, c[i], v); break;
	case 'E': {
		uint32_t p = 1;
		int n = 0;
		while (v && n < 100000 && fetch(c[i], v + 4 * n, &p, 4, 0) == 0 && p) n++;
		put_ptr(o, v);
		put(o, " /* %d var%s */", n, n == 1 ? "" : "s");
		break;
	}
	case 'F': put_open_flags(o, v); break;
	case 'o': put(o, "%#llo", (unsigned long long)v); break;
	case 'D':
		if ((int)v == AT_FDCWD) put(o, "AT_FDCWD");
		else put(o, "%d", (int)v);
		break;
	case 'w': {
		static const char *const w[] = {"SEEK_SET", "SEEK_CUR", "SEEK_END"};
		if (v < 3) put(o, "%s", w[v]);
		else put(o, "%d", (int)v);
		break;
	}
	case 'P': {
		static const char *const names[] = {"PROT_READ", "PROT_WRITE", "PROT_EXEC"};
		static const unsigned bits[] = {1, 2, 4};
		put_flags(o, v, names, bits, 3, "PROT_NONE");
		break;
	}
	case 'm': {
		static const char *const names[] = {"MAP_SHARED", "MAP_PRIVATE", "MAP_FIXED",
			"MAP_ANONYMOUS"};
		static const unsigned bits[] = {1, 2, 0x10, 0x20};
		put_flags(o, v, names, bits, 4, 0);
		break;
	}
	case 'g': put_signal(o, (int)v); break;
	case 'T': {
		int64_t ts[2];
		if (v && fetch(c[i], v, ts, sizeof ts, 0) == 0)
			put(o, "{tv_sec=%lld, tv_nsec=%lld}", (long long)ts[0], (long long)ts[1]);
		else put_ptr(o, v);
		break;
	}
	case 'C': {
		static const char *const cmds[] = {"F_DUPFD", "F_GETFD", "F_SETFD", "F_GETFL",
			"F_SETFL"};
		if (v < 5) put(o, "%s", cmds[v]);
		else if (v == 1030) put(o, "F_DUPFD_CLOEXEC");
		else put(o, "%d", (int)v);
		break;
	}
	default: put_ptr(o, v); break;
	}
}

static const struct call *lookup(uint64_t nr)
{
	for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
		if ((uint64_t)calls[i].nr == nr) return &calls[i];
	return 0;
}

static void put_call(struct out *o, uint64_t nr, uint64_t cage, const struct call *call,
                     const uint64_t *a, const uint64_t *c, int64_t result, int done)
{
	put(o, "[cage %llu] ", (unsigned long long)cage);
	if (!call) {
		put(o, "syscall_%llu(", (unsigned long long)nr);
		for (int i = 0; i < 6; i++) put(o, "%s%#llx", i ? ", " : "", (unsigned long long)a[i]);
		put(o, ")");
		return;
	}
	put(o, "%s(", call->name);
	int shown = 0;
	for (int i = 0; call->args[i] && i < 6; i++) {
		char kind = call->args[i];
		if (kind == 'M' && !(a[i - 1] & O_CREAT)) continue; /* mode only with O_CREAT */
		if (kind == 'M') kind = 'o';
		put(o, "%s", shown++ ? ", " : "");
		if (kind == 'V' && nr == 19 && !(done && result >= 0)) put_ptr(o, a[i]);
		else if (kind == 'V') put_iovec(o, c[i], a[i], (int)a[i + 1], result, nr == 19);
		else put_arg(o, kind, a, c, i, result, done);
	}
	put(o, ")");
}

static void put_result(struct out *o, const struct call *call, int64_t r)
{
	if (r < 0 && r >= -4095) {
		const char *name = 0;
		for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++)
			if (errnames[i].code == -r) name = errnames[i].name;
		if (name) put(o, " = -1 %s (%s)\n", name, strerror((int)-r));
		else put(o, " = -1 E%lld (%s)\n", (long long)-r, strerror((int)-r));
	} else if (call && call->ret == 'x') put(o, " = %#llx\n", (unsigned long long)r);
	else put(o, " = %lld\n", (long long)r);
}

static void emit(struct out *o)
{
	size_t done = 0;
	while (done < o->n) {
		ssize_t k = write(2, o->buf + done, o->n - done);
		if (k <= 0) break;
		done += k;
	}
}

static int64_t trace(uint64_t nr, uint64_t cage, uint64_t *a, uint64_t *c)
{
	const struct call *call = lookup(nr);
	struct out o;
	o.n = 0;
	if (nr == 231) { /* exit_group: it does not return */
		put_call(&o, nr, cage, call, a, c, 0, 0);
		put(&o, " = ?\n[cage %llu] +++ exited with %d +++\n", (unsigned long long)cage,
		    (int)a[0] & 0xff);
		emit(&o);
		return lind_threei_call(nr, cage, a[0], c[0], a[1], c[1], a[2], c[2], a[3], c[3],
		                        a[4], c[4], a[5], c[5]);
	}
	if (nr == 59) /* execve: the arguments are gone once it succeeds */
		put_call(&o, nr, cage, call, a, c, 0, 0);
	int64_t r = lind_threei_call(nr, cage, a[0], c[0], a[1], c[1], a[2], c[2], a[3], c[3],
	                             a[4], c[4], a[5], c[5]);
	if (nr != 59) put_call(&o, nr, cage, call, a, c, r, 1);
	put_result(&o, call, r);
	emit(&o);
	return r;
}

int64_t pass_fptr_to_wt(uint64_t fn, uint64_t cageid, uint64_t a1, uint64_t c1, uint64_t a2,
                        uint64_t c2, uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4,
                        uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	uint64_t a[6] = {a1, a2, a3, a4, a5, a6};
	uint64_t c[6] = {c1, c2, c3, c4, c5, c6};
	if ((fn & ~0xffffffffULL) != TRACE_ID) return -ENOSYS;
	return trace(fn & 0xffffffff, cageid, a, c);
}

int main(int argc, char **argv)
{
	int first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--] PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	self_id = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("strace: fork");
		return 1;
	}
	if (child == 0) {
		uint64_t me = getpid();
		for (int nr = 0; nr < MAX_NR; nr++)
			if (!untraced(nr)) register_handler(me, nr, self_id, TRACE_ID | nr);
		/* 3i's own calls last, 1001 at the very end: strace's set-up is not traced */
		for (int nr = 1003; nr >= 1001; nr--) register_handler(me, nr, self_id, TRACE_ID | nr);
		execv(argv[first], &argv[first]);
		fprintf(stderr, "strace: %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	int status = 0, code;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	while (wait(NULL) > 0)
		;
	return code;
}
