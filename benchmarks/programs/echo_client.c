/* echo_client PORT COUNT [SIZE]: COUNT round trips of SIZE-byte messages (default 64) to
 * 127.0.0.1:PORT (TCP_NODELAY), after a warm-up (1,000 round trips, at most 64 MiB); prints
 * round trips per second. Each message is written whole, then read back whole; every echoed
 * byte is checked (exit 3 on a mismatch). Built natively, so the client costs far less than the
 * server it measures (a Python client capped both servers at its own speed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t size = 64;
static char *out, *in;

static int exchange(int fd) {
	for (size_t sent = 0; sent < size;) {
		ssize_t n = write(fd, out + sent, size - sent);
		if (n <= 0) return -1;
		sent += (size_t)n;
	}
	for (size_t got = 0; got < size;) {
		ssize_t n = read(fd, in + got, size - got);
		if (n <= 0) return -1;
		got += (size_t)n;
	}
	return memcmp(in, out, size) ? 3 : 0;
}

int main(int argc, char **argv) {
	if (argc != 3 && argc != 4) return 2;
	long count = atol(argv[2]);
	if (argc == 4) size = (size_t)atol(argv[3]);
	if (size == 0 || size > (64u << 20)) return 2;
	out = malloc(size);
	in = malloc(size);
	if (!out || !in) return 1;
	for (size_t k = 0; k < size; k++) out[k] = (char)(k * 7 + k / 251);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	long warm = 1000;
	if (warm * (long)size > (64L << 20)) warm = (64L << 20) / (long)size;
	for (long i = 0; i < warm; i++) {
		int r = exchange(fd);
		if (r) return r < 0 ? 1 : r;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		int r = exchange(fd);
		if (r) return r < 0 ? 1 : r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.3f\n", count / elapsed);
	close(fd);
	return 0;
}
