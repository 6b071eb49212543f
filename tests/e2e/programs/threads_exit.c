/* exit() from a non-main thread ends the whole process with its status, while main waits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *quitter(void *arg)
{
	(void)arg;
	usleep(20000);
	printf("worker calls exit(3)\n");
	exit(3);
}

static void *sleeper(void *arg)
{
	(void)arg;
	sleep(30);
	printf("sleeper should never get here\n");
	return 0;
}

int main(void)
{
	pthread_t a, b;
	printf("main starts\n");
	fflush(stdout);
	pthread_create(&b, 0, sleeper, 0);
	pthread_create(&a, 0, quitter, 0);
	pthread_join(a, 0);
	printf("main should never get here\n");
	return 0;
}
