/* echo_client PORT COUNT: COUNT round trips of 64-byte messages to 127.0.0.1:PORT (TCP_NODELAY),
 * after 1,000 to warm up; prints round trips per second. Built natively, so the client costs far
 * less than the server it measures (a Python client capped both servers at its own speed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int exchange(int fd, char *buf) {
	if (write(fd, buf, 64) != 64) return -1;
	for (int got = 0; got < 64;) {
		ssize_t n = read(fd, buf + got, 64 - got);
		if (n <= 0) return -1;
		got += (int)n;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	long count = atol(argv[2]);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char buf[64] = {0};
	for (int i = 0; i < 1000; i++)
		if (exchange(fd, buf)) return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++)
		if (exchange(fd, buf)) return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.0f\n", count / elapsed);
	close(fd);
	return 0;
}
