/* Runs system calls it reads from stdin: records of seven little-endian 64-bit words (number,
 * a1..a6), each answered on stdout by the call's 64-bit result. The driver (a hypothesis test)
 * aims them at the memory family. The first word written is the size of linear memory. Descriptors to map: fd 3 a 3-page read-write file, fd 4 /dev/zero,
 * fd 5 the file read-only, 6 write-only, 7 a directory, 8 and 9 a pipe, 10 and 11 a socket pair,
 * 12 an O_PATH descriptor of the file, 13 an empty file. The program uses only its static data and read/write, so
 * whatever the calls do to mappings and the break cannot break the loop itself. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

long long lind_now(int, long long, long long, long long, long long, long long, long long)
	__attribute__((__import_module__("lind"), __import_name__("syscall")));
long long lind_wait(void)
	__attribute__((__import_module__("lind"), __import_name__("syscall_wait")));

static long long call(long long n, const long long *a) {
	long long r = lind_now((int)n, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (r == (-0x7fffffffffffffffLL - 1)) r = lind_wait();
	return r;
}

static int full(int fd, char *p, size_t n, int out) {
	while (n) {
		long r = out ? write(fd, p, n) : read(fd, p, n);
		if (r <= 0) return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static char page[3 * 4096];

int main(void) {
	int f = open("/fuzz.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(page, 'x', sizeof page);
	write(f, page, sizeof page);
	open("/dev/zero", O_RDWR);
	open("/fuzz.dat", O_RDONLY);
	open("/fuzz.dat", O_WRONLY);
	open("/", O_RDONLY | O_DIRECTORY);
	int p[2], sv[2];
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	open("/fuzz.dat", O_PATH);
	open("/empty.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	static long long rec[7];
	long long top = (long long)__builtin_wasm_memory_size(0) * 65536;
	if (full(1, (char *)&top, sizeof top, 1)) return 1;
	while (full(0, (char *)rec, sizeof rec, 0) == 0) {
		long long r = call(rec[0], rec + 1);
		if (full(1, (char *)&r, sizeof r, 1)) return 1;
	}
	return 0;
}
