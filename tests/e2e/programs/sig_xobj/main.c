/* setjmp here, longjmp from another object file (jumper.c, compiled separately): directly from a
 * nested call, from a signal handler defined there (at a system call's return, and while the
 * program computes in a loop of that file), and after a fork. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

jmp_buf where;
sigjmp_buf where_sig;
void descend(int depth, int value);
void install_jumping_handler(void);
void compute_until_signal(void);
void wait_for_signal(void);

int main(void)
{
	volatile int rounds = 0;
	int v = setjmp(where);
	rounds++;
	printf("setjmp returned %d (round %d)\n", v, rounds);
	if (v < 3)
		descend(5, v + 1);

	install_jumping_handler();
	v = sigsetjmp(where_sig, 1);
	if (v == 0)
		wait_for_signal();
	printf("out of a handler in another object (system call): %d\n", v);
	v = sigsetjmp(where_sig, 1);
	if (v == 0)
		compute_until_signal();
	printf("out of a handler in another object (computing): %d\n", v);

	pid_t p = fork();
	v = setjmp(where);
	if (v == 0)
		descend(3, p == 0 ? 11 : 12);
	if (p == 0)
		_exit(v);
	int st;
	waitpid(p, &st, 0);
	printf("after fork: parent %d, child %d\n", v, WEXITSTATUS(st));
	return 0;
}
