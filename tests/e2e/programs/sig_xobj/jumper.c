#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

extern jmp_buf where;
extern sigjmp_buf where_sig;
static volatile unsigned long spins;

void descend(int depth, int value)
{
	if (depth == 0)
		longjmp(where, value);
	descend(depth - 1, value);
	spins++; /* not a tail call */
}

static void on_alarm(int s)
{
	siglongjmp(where_sig, s + 1000);
}

void install_jumping_handler(void)
{
	signal(SIGALRM, on_alarm);
}

static void arm(void)
{
	struct itimerval it = {{0, 0}, {0, 30000}};
	setitimer(ITIMER_REAL, &it, 0);
}

void wait_for_signal(void)
{
	arm();
	pause();
}

void compute_until_signal(void)
{
	arm();
	for (;;)
		spins++;
}
