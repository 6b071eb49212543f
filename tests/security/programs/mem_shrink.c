/* A file mapped MAP_SHARED shrinks under the mapping, then the mapping's second page (now past
 * the end of the file) is touched. Natively that is SIGBUS; in a cage it must be this cage's
 * SIGBUS (or, for the truncations RawPOSIX sees, a zero page), never the microvisor's.
 *
 *   mem_shrink map HOW TOUCH SIGNAL   map /victim.dat (two pages of 'a'), print "mapped",
 *                                     shrink it HOW, touch page 2 by TOUCH, print what it read
 *   mem_shrink shrink HOW             shrink /victim.dat HOW (another cage's doing), print "shrunk"
 *
 * HOW: wait (read a line of stdin: someone else shrinks it meanwhile), devfd (open
 * /dev/fd/N with O_TRUNC), procfd (/proc/self/fd/N), otrunc (open the path with O_TRUNC),
 * truncate, ftruncate. TOUCH: read (a wasm load), write (a wasm store), pipe (write(2) of the page
 * into a pipe: the microvisor copies it), file (write(2) into a host file). SIGNAL: plain,
 * handler (a SIGBUS handler that reports), blocked (SIGBUS blocked), ignored (SIG_IGN), fork (a
 * fork child inherits the mapping and does the rest; the parent reports how the child ended). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static volatile sig_atomic_t handled;
static void on_bus(int sig) { handled = sig; }

static int shrink(int fd, const char *how) {
	char name[64];
	if (!strcmp(how, "wait")) {
		char line[16];
		return fgets(line, sizeof line, stdin) ? 0 : -1;
	}
	if (!strcmp(how, "devfd") || !strcmp(how, "procfd")) {
		snprintf(name, sizeof name, "%s/%d", how[0] == 'd' ? "/dev/fd" : "/proc/self/fd", fd);
		int g = open(name, O_RDWR | O_TRUNC);
		return g < 0 ? -1 : close(g);
	}
	if (!strcmp(how, "otrunc")) {
		int g = open("/victim.dat", O_RDWR | O_TRUNC);
		return g < 0 ? -1 : close(g);
	}
	if (!strcmp(how, "truncate")) return truncate("/victim.dat", 0);
	if (!strcmp(how, "ftruncate")) return ftruncate(fd, 0);
	return -1;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && !strcmp(argv[1], "shrink")) {
		int fd = open("/victim.dat", O_RDWR);
		if (fd < 0 || shrink(fd, argv[2])) { perror("shrink"); return 2; }
		printf("shrunk\n");
		return 0;
	}
	if (argc != 5 || strcmp(argv[1], "map")) return 2;
	const char *sig = argv[4];
	if (!strcmp(sig, "handler")) signal(SIGBUS, on_bus);
	if (!strcmp(sig, "ignored")) signal(SIGBUS, SIG_IGN);
	if (!strcmp(sig, "blocked")) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGBUS);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	int fd = open("/victim.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	static char buf[2 * PAGE];
	memset(buf, 'a', sizeof buf);
	if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf) return 3;
	volatile char *p = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 4; }
	printf("mapped %c\n", p[PAGE]);
	if (!strcmp(sig, "fork")) {
		pid_t child = fork();
		if (child < 0) return 7;
		if (child > 0) {
			int status;
			if (waitpid(child, &status, 0) != child) return 8;
			printf("child %s %d\n", WIFSIGNALED(status) ? "killed by" : "exited",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return 0;
		}
	}
	if (shrink(fd, argv[2])) { perror("shrink"); return 5; }
	const char *touch = argv[3];
	long got = -1;
	if (!strcmp(touch, "read")) got = p[PAGE + 7];
	else if (!strcmp(touch, "write")) { p[PAGE + 7] = 'w'; got = p[PAGE + 7]; }
	else if (!strcmp(touch, "pipe") || !strcmp(touch, "file")) {
		int pp[2];
		if (touch[0] == 'p' && pipe(pp)) return 6;
		if (touch[0] == 'f') pp[1] = open("/out.dat", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		got = write(pp[1], (const char *)p + PAGE, 16);
	}
	getpid(); /* a safe point: a handler has run by now */
	printf("touched %ld handled %d\n", got, (int)handled);
	return 0;
}
