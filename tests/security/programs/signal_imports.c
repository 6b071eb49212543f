/* The signal-handler imports called out of turn: with no handler pending, with bad pointers, and
 * twice from inside a handler. Each must answer an errno; the program carries on. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

long long frame_import(void *, void *)
	__attribute__((__import_module__("lind"), __import_name__("signal_frame")));
long long return_import(void)
	__attribute__((__import_module__("lind"), __import_name__("signal_return")));

static long long in_handler[3];

static void handler(int s)
{
	in_handler[0] = frame_import((void *)0xfffffff0u, (void *)0xfffffff0u);
	in_handler[1] = return_import(); /* too early: the delivery goes on without it */
	in_handler[2] = return_import();
}

int main(void)
{
	char buf[256];
	printf("frame with none pending: %lld\n", frame_import(buf, buf + 64));
	printf("return with none pending: %lld\n", return_import());
	signal(SIGUSR1, handler);
	int r = raise(SIGUSR1);
	printf("raise: %d\n", r);
	printf("in handler: bad frame %lld, second return %lld\n", in_handler[0], in_handler[2]);
	r = raise(SIGUSR1);
	printf("again: %d, pid ok %d\n", r, getpid() > 0);
	return 0;
}
