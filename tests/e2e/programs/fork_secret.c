/* fork: a child sees its parent's state only, never what an earlier child left. Each child
 * writes secrets into a static, a thread-local, the parent's heap, a new heap chunk, a new
 * mapping and deep stack frames, then exits from deep in the stack; the next child, made
 * from the same parent, must find the parent's values (and fresh memory where the parent had
 * none), its frames where the first child's were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static int counter = 7;
static _Thread_local int tls_value = 11;
static char *heap;
static void *first_frame;  /* where child 1's frame was (told through a pipe) */
static int pipe_fds[2];
static volatile int exit_deep = 1;

static int zeros(const volatile char *p, size_t n)  /* (volatile: never-written malloc memory) */
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int deep(int depth, volatile char *secret)
{
	volatile char frame[512];
	memset((char *)frame, 'S', sizeof frame);
	if (depth == 0) {
		if (exit_deep)
			_exit(secret[0] == 'S' ? 5 : 6);  /* exit from deep in the stack */
		return 0;
	}
	return deep(depth - 1, frame) + frame[depth % 512];
}

static void child(int round)
{
	char here;
	/* what this child finds */
	char *fresh = malloc(CHUNK);
	char *map = mmap(0, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *frame = &here;
	printf("child %d: counter %d tls %d heap \"%s\" chunk zeros %d map zeros %d frame %s\n",
	       round, counter, tls_value, heap, fresh ? zeros(fresh, CHUNK) : -1,
	       map != MAP_FAILED ? zeros(map, CHUNK) : -1,
	       round == 1 ? "first" : frame == first_frame ? "as child 1's" : "moved");
	fflush(stdout);
	if (round == 1 && write(pipe_fds[1], &frame, sizeof frame) != sizeof frame)
		_exit(1);
	/* what it leaves */
	counter = 0x5ec2e7;
	tls_value = 0x5ec2e7;
	strcpy(heap, "child secret");
	if (fresh)
		memset(fresh, 'S', CHUNK);
	if (map != MAP_FAILED)
		memset(map, 'S', CHUNK);
	deep(200, "S");
	_exit(7);
}

int main(void)
{
	if (pipe(pipe_fds) != 0) {
		perror("pipe");
		return 1;
	}
	heap = malloc(64);
	strcpy(heap, "parent");
	for (int round = 1; round <= 4; round++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			child(round);
		int status = 0;
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		printf("parent: child %d exited %d\n", round, WEXITSTATUS(status));
		if (round == 1 && read(pipe_fds[0], &first_frame, sizeof first_frame) !=
				      sizeof first_frame)
			return 1;
	}
	printf("parent: counter %d tls %d heap \"%s\"\n", counter, tls_value, heap);
	return 0;
}
