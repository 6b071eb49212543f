/* fork is copy-on-write: with a large touched heap, each side sees only its own writes after
 * the fork — the parent's later writes are invisible to a child that is still running and the
 * child's to the parent; repeated forks (each child sees the parent as it is at its fork),
 * children alive side by side from different moments, a child forking while its parent
 * writes, memory given back (munmap, a shrinking break) and reused after a fork, a MAP_SHARED
 * region that stays shared, and growth after the fork. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAP (16u << 20)
#define PAGE 4096u

static unsigned char *heap;

static unsigned sum(const unsigned char *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i += 61)
		s = s * 31 + p[i];
	return s;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += PAGE / 2)
		p[i] = (unsigned char)(seed + i / PAGE);
}

static void expect(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "WRONG");
	fflush(stdout);
}

static char wait_byte(int fd)
{
	char c = 0;
	if (read(fd, &c, 1) != 1)
		_exit(3);
	return c;
}

static int reap(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* The parent writes while a child runs; the child writes while the parent waits. */
static void both_sides(void)
{
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		exit(2);
	fill(heap, HEAP, 1);
	unsigned at_fork = sum(heap, HEAP);
	pid_t pid = fork();
	if (pid == 0) {
		wait_byte(go[0]);  /* the parent has overwritten its heap by now */
		int same = sum(heap, HEAP) == at_fork;
		fill(heap, HEAP, 50);
		unsigned mine = sum(heap, HEAP);
		if (write(done[1], "x", 1) != 1)
			_exit(3);
		_exit(same && sum(heap, HEAP) == mine ? 0 : 1);
	}
	fill(heap, HEAP, 9);
	unsigned parent_view = sum(heap, HEAP);
	if (write(go[1], "x", 1) != 1)
		exit(2);
	wait_byte(done[0]);
	expect(reap(pid) == 0, "child saw the heap as at fork, not the parent's later writes");
	expect(sum(heap, HEAP) == parent_view, "parent did not see the child's writes");
	close(go[0]), close(go[1]), close(done[0]), close(done[1]);
}

/* Fork again and again: each child sees the parent as it is at that fork. */
static void repeated(void)
{
	for (unsigned round = 0; round < 6; round++) {
		fill(heap + round * PAGE * 7, HEAP / 4, round * 3 + 2);
		unsigned now = sum(heap, HEAP);
		pid_t pid = fork();
		if (pid == 0) {
			int ok = sum(heap, HEAP) == now;
			memset(heap, 0xEE, HEAP / 2);
			_exit(ok ? 0 : 1);
		}
		if (reap(pid) != 0 || sum(heap, HEAP) != now) {
			expect(0, "repeated forks");
			return;
		}
	}
	expect(1, "repeated forks: every child saw its moment, the parent kept its own");
}

/* Children from different moments alive at once; the second one forks a grandchild while
 * the parent keeps writing. */
static void side_by_side(void)
{
	int p1[2], p2[2];
	if (pipe(p1) || pipe(p2))
		exit(2);
	fill(heap, HEAP, 20);
	unsigned first = sum(heap, HEAP);
	pid_t a = fork();
	if (a == 0) {
		wait_byte(p1[0]);
		_exit(sum(heap, HEAP) == first ? 0 : 1);
	}
	fill(heap, HEAP, 30);
	unsigned second = sum(heap, HEAP);
	pid_t b = fork();
	if (b == 0) {
		fill(heap + HEAP / 2, HEAP / 2, 40);
		unsigned mine = sum(heap, HEAP);
		pid_t g = fork();  /* the grandchild: the child as it is now */
		if (g == 0) {
			fill(heap, HEAP / 2, 45);
			_exit(0);
		}
		wait_byte(p2[0]);
		int ok = sum(heap, HEAP) == mine && reap(g) == 0 && sum(heap, HEAP) == mine;
		_exit(ok ? 0 : 1);
	}
	fill(heap, HEAP, 35);  /* while both children live */
	unsigned third = sum(heap, HEAP);
	if (write(p1[1], "x", 1) != 1 || write(p2[1], "x", 1) != 1)
		exit(2);
	expect(reap(a) == 0, "first child kept the first moment");
	expect(reap(b) == 0, "second child and its grandchild kept their own moments");
	expect(sum(heap, HEAP) == third && third != second, "parent kept its latest writes");
	close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
}

/* Memory given back after a fork reads as zeros again, on either side; a shared mapping stays
 * shared; a new mapping after the fork is each side's own. */
static void give_back_and_share(void)
{
	size_t n = 4u << 20;
	unsigned char *m = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile unsigned char *sh = mmap(0, PAGE * 4, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || sh == MAP_FAILED)
		exit(2);
	memset(m, 7, n);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = m[n - 1] == 7;
		munmap(m, n);
		unsigned char *again = mmap(m, n, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ok = ok && again == m && again[0] == 0 && again[n - 1] == 0;
		sh[100] = 42;
		unsigned char *grow = malloc(HEAP);  /* growth after the fork */
		if (!grow)
			_exit(4);
		memset(grow, 3, HEAP);
		ok = ok && grow[HEAP - 1] == 3;
		_exit(ok ? 0 : 1);
	}
	expect(reap(pid) == 0, "child's munmap+mmap read zeros, its new heap its own");
	expect(m[0] == 7 && m[n - 1] == 7, "parent's mapping kept its bytes");
	expect(sh[100] == 42, "MAP_SHARED region still shared");
	munmap(m, n);
	m = mmap(m, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	expect(m != MAP_FAILED && m[0] == 0 && m[n - 1] == 0, "parent's reused range reads zeros");
	memset(m, 5, n);
	/* a shared page unmapped and made private again, then forked */
	munmap((void *)sh, PAGE * 4);
	unsigned char *p = mmap((void *)sh, PAGE * 4, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	int zero = p != MAP_FAILED && p[100] == 0;
	p[200] = 9;
	pid = fork();
	if (pid == 0)
		_exit(p[100] == 0 && p[200] == 9 && m[n / 2] == 5 ? 0 : 1);
	expect(zero && reap(pid) == 0, "unmapped shared page: private zeros, then forked");
	munmap(m, n);
	munmap(p, PAGE * 4);
}

/* Before any fork: memory given back reads as zeros (private, and a shared page made private). */
static void give_back_before_fork(void)
{
	size_t n = 1u << 20;
	unsigned char *m = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		exit(2);
	memset(m, 6, n);
	munmap(m, n);
	unsigned char *s = mmap(m, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
				-1, 0);
	int ok = s == m && s[5] == 0;
	memset(s, 8, n);
	munmap(s, n);
	m = mmap(m, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	expect(ok && m[5] == 0 && m[n - 1] == 0, "given back before a fork: zeros");
	m[7] = 1;
	pid_t pid = fork();
	if (pid == 0)
		_exit(m[7] == 1 && m[5] == 0 ? 0 : 1);
	expect(reap(pid) == 0, "the first fork sees them");
	munmap(m, n);
}

int main(void)
{
	give_back_before_fork();
	heap = malloc(HEAP);
	if (!heap)
		return 2;
	memset(heap, 0x11, HEAP);
	both_sides();
	repeated();
	side_by_side();
	give_back_and_share();
	printf("heap checksum %u\n", sum(heap, HEAP));
	return 0;
}
