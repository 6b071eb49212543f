/* http_load PORT CONNECTIONS REQUESTS BODY EXPECTED: an HTTP/1.1 keep-alive load generator (like
 * wrk, far smaller). CONNECTIONS connections to 127.0.0.1:PORT each POST the bytes of the file
 * BODY to "/", read the whole response, check that its status is 200 and its body equals the file
 * EXPECTED, and send the next request, until REQUESTS responses have come back (one epoll loop,
 * one thread). A connection the server closes is reopened. Prints one JSON line:
 *   {"requests": N, "ok": N, "bad": B, "errors": E, "seconds": wall, "cpu_seconds": own CPU}
 * and exits 0 only if every response was right. Built natively by gcc at bench time, so a request
 * costs the client a few microseconds of CPU (cpu_seconds says how many) and the cores stay the
 * measured servers'. Responses must carry Content-Length (aiohttp's do); chunked ones count as
 * bad. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)

struct conn {
	int fd;
	size_t sent;  /* bytes of the request written */
	size_t got;   /* bytes of the response read */
	char *in;
};

static char *request, *expected;
static size_t request_len, expected_len;
static struct sockaddr_in addr;
static long issued, done, ok, bad, errors, target;
static int ep;

static char *slurp(const char *path, size_t *len) {
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) return NULL;
	char *data = malloc(st.st_size + 1);
	size_t got = 0;
	while (data && got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, st.st_size - got);
		if (n <= 0) return NULL;
		got += n;
	}
	close(fd);
	*len = got;
	return data;
}

static int open_conn(struct conn *c) {
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (c->fd < 0) return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
		return -1;
	c->sent = c->got = 0;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void want(struct conn *c, unsigned events) {
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Length of a complete response at c->in (0: not complete yet; -1: malformed). */
static long complete(struct conn *c, int *status, long *body_at, long *body_len) {
	char *end = memmem(c->in, c->got, "\r\n\r\n", 4);
	if (!end) return c->got >= BUF ? -1 : 0;
	*end = 0;
	if (strncmp(c->in, "HTTP/1.", 7) != 0 || c->got < 12) return -1;
	*status = atoi(c->in + 9);
	long length = -1;
	for (char *line = strstr(c->in, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "content-length:", 15) == 0) length = atol(line + 17);
		if (strncasecmp(line + 2, "transfer-encoding:", 18) == 0) return -1;
	}
	*end = '\r';
	if (length < 0) return -1;
	*body_at = end + 4 - c->in;
	*body_len = length;
	if (*body_at + length > BUF) return -1;
	return (size_t)(*body_at + length) <= c->got ? *body_at + length : 0;
}

/* Start the next request on c, or close it when all are issued. */
static void next(struct conn *c) {
	if (issued >= target) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		return;
	}
	issued++;
	c->sent = 0;
	want(c, EPOLLIN | EPOLLOUT);
}

static void failed(struct conn *c) {
	errors++;
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (errors > 1000 || open_conn(c) < 0) { /* its request goes again on a new connection */
		fprintf(stderr, "http_load: too many connection errors\n");
		exit(1);
	}
}

static void on_event(struct conn *c, unsigned events) {
	if (c->sent < request_len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		ssize_t n = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) return failed(c);
		if (n > 0) c->sent += n;
		if (c->sent == request_len) want(c, EPOLLIN);
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->got, BUF - c->got, 0);
		if (n < 0 && errno == EAGAIN) return;
		if (n <= 0) return failed(c); /* closed before a whole response */
		c->got += n;
		int status;
		long at, len, total = complete(c, &status, &at, &len);
		if (total < 0) {
			bad++;
			return failed(c);
		}
		if (total == 0) continue;
		done++;
		if (status == 200 && len == (long)expected_len && !memcmp(c->in + at, expected, len))
			ok++;
		else
			bad++;
		c->got = 0; /* one request in flight per connection: nothing follows it */
		return next(c);
	}
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: http_load PORT CONNECTIONS REQUESTS BODY EXPECTED\n");
		return 2;
	}
	int nconn = atoi(argv[2]);
	target = atol(argv[3]);
	size_t body_len;
	char *body = slurp(argv[4], &body_len);
	expected = slurp(argv[5], &expected_len);
	if (nconn <= 0 || target <= 0 || !body || !expected) return 2;
	request = malloc(body_len + 256);
	request_len = sprintf(request,
			      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			      "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
			      body_len);
	memcpy(request + request_len, body, body_len);
	request_len += body_len;
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct conn *conns = calloc(nconn, sizeof *conns);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nconn && issued < target; i++) {
		conns[i].in = malloc(BUF);
		if (open_conn(&conns[i]) < 0) {
			perror("http_load: connect");
			return 1;
		}
		issued++;
	}
	struct epoll_event evs[64];
	while (done < target) {
		int n = epoll_wait(ep, evs, 64, 10000);
		if (n == 0) {
			fprintf(stderr, "http_load: no response for 10 s\n");
			return 1;
		}
		for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("{\"requests\": %ld, \"ok\": %ld, \"bad\": %ld, \"errors\": %ld, "
	       "\"seconds\": %.6f, \"cpu_seconds\": %.6f}\n",
	       done, ok, bad, errors, wall, cpu);
	return ok == target ? 0 : 1;
}
