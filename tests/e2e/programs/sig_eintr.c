/* A handler installed without SA_RESTART interrupts every kind of blocking wait: the handler
 * runs and the call fails with EINTR. The signal comes from alarm, setitimer, or kill from a
 * child. With SA_RESTART, read/wait4/accept/recv are restarted (and complete once the data or
 * the child comes); select, poll, epoll_wait and nanosleep never are. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;

static void on_sig(int sig) { (void)sig; hits++; }

static void handle(int sig, int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

static void itimer_ms(int ms)
{
	struct itimerval it = {.it_value = {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A child that sends `sig` to its parent after `ms` milliseconds, then (if `fd` >= 0) writes a
 * byte to fd after another `ms`. */
static pid_t kill_later(int sig, int ms, int fd)
{
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		kill(parent, sig);
		if (fd >= 0) {
			nanosleep(&ts, NULL);
			write(fd, "k", 1);
		}
		_exit(0);
	}
	return p;
}

static void report(const char *what, long r, int before)
{
	printf("%-28s r=%ld errno=%s handler=%d\n", what, r, r < 0 ? strerror(errno) : "-",
	       hits - before);
	fflush(stdout);
}

static void reap(pid_t p)
{
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
}

static int tcp_listener(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&a, sizeof a);
	listen(s, 4);
	socklen_t len = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return s;
}

static int tcp_connect(int port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	connect(c, (struct sockaddr *)&a, sizeof a);
	return c;
}

int main(void)
{
	char c;
	int before;
	long r;
	int p[2];
	pipe(p);

	/* -- no SA_RESTART: every wait ends with EINTR -- */
	handle(SIGALRM, 0);
	handle(SIGUSR1, 0);

	before = hits;
	alarm(1);
	r = read(p[0], &c, 1);
	report("alarm + read(pipe)", r, before);

	before = hits;
	itimer_ms(50);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	r = select(p[0] + 1, &rs, NULL, NULL, NULL);
	report("setitimer + select", r, before);

	before = hits;
	pid_t k = kill_later(SIGUSR1, 50, -1);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	r = poll(&pf, 1, -1);
	report("kill from child + poll", r, before);
	reap(k);

	before = hits;
	k = kill_later(SIGUSR1, 50, -1);
	r = read(p[0], &c, 1);
	report("kill from child + read", r, before);
	reap(k);

	before = hits;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	itimer_ms(50);
	r = epoll_wait(ep, &ev, 1, -1);
	report("setitimer + epoll_wait", r, before);

	before = hits;
	itimer_ms(50);
	struct timespec ts = {5, 0}, rem = {0, 0};
	r = nanosleep(&ts, &rem);
	report("setitimer + nanosleep", r, before);
	printf("nanosleep remaining > 3s: %d\n", rem.tv_sec >= 3);

	before = hits;
	pid_t sleeper = fork();
	if (sleeper == 0) {
		struct timespec longer = {0, 300 * 1000000L};
		nanosleep(&longer, NULL);
		_exit(3);
	}
	itimer_ms(50);
	int st = 0;
	r = waitpid(sleeper, &st, 0);
	report("setitimer + waitpid", r, before);
	reap(sleeper);

	int port;
	int ls = tcp_listener(&port);
	before = hits;
	itimer_ms(50);
	r = accept(ls, NULL, NULL);
	report("setitimer + accept", r, before);

	int cl = tcp_connect(port);
	int sv = accept(ls, NULL, NULL);
	before = hits;
	itimer_ms(50);
	r = recv(sv, &c, 1, 0);
	report("setitimer + recv(tcp)", r, before);

	before = hits;
	itimer_ms(50);
	r = read(sv, &c, 1);
	report("setitimer + read(tcp)", r, before);

	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	before = hits;
	k = kill_later(SIGUSR1, 50, -1);
	r = recv(sp[0], &c, 1, 0);
	report("kill from child + recv(unix)", r, before);
	reap(k);

	/* -- SA_RESTART: read/recv/accept/wait4 restarted; select/poll/nanosleep not -- */
	handle(SIGUSR1, SA_RESTART);
	handle(SIGALRM, SA_RESTART);

	before = hits;
	k = kill_later(SIGUSR1, 50, p[1]);
	r = read(p[0], &c, 1);
	report("SA_RESTART read(pipe)", r, before);
	reap(k);

	before = hits;
	k = kill_later(SIGUSR1, 50, sp[1]);
	r = recv(sp[0], &c, 1, 0);
	report("SA_RESTART recv(unix)", r, before);
	reap(k);

	before = hits;
	k = kill_later(SIGUSR1, 50, cl);
	r = read(sv, &c, 1);
	report("SA_RESTART read(tcp)", r, before);
	reap(k);

	before = hits;
	sleeper = fork();
	if (sleeper == 0) {
		struct timespec longer = {0, 200 * 1000000L};
		nanosleep(&longer, NULL);
		_exit(4);
	}
	itimer_ms(50);
	r = waitpid(sleeper, &st, 0);
	report("SA_RESTART waitpid", r == sleeper ? 0 : r, before);
	printf("exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	before = hits;
	itimer_ms(50);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	struct timeval tv = {5, 0};
	r = select(p[0] + 1, &rs, NULL, NULL, &tv);
	report("SA_RESTART select", r, before);

	before = hits;
	itimer_ms(50);
	r = poll(&pf, 1, 5000);
	report("SA_RESTART poll", r, before);

	before = hits;
	itimer_ms(50);
	r = epoll_wait(ep, &ev, 1, 5000);
	report("SA_RESTART epoll_wait", r, before);

	before = hits;
	itimer_ms(50);
	ts = (struct timespec){5, 0};
	r = nanosleep(&ts, &rem);
	report("SA_RESTART nanosleep", r, before);

	before = hits;
	int cl2 = -1;
	k = fork();
	if (k == 0) {
		struct timespec d = {0, 100 * 1000000L};
		nanosleep(&d, NULL);
		kill(getppid(), SIGUSR1);
		nanosleep(&d, NULL);
		cl2 = tcp_connect(port);
		nanosleep(&d, NULL);
		_exit(0);
	}
	r = accept(ls, NULL, NULL);
	report("SA_RESTART accept", r < 0 ? r : 0, before);
	reap(k);
	(void)cl2;
	return 0;
}
