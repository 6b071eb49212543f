/* The main thread calls pthread_exit; the process lives on until its last thread ends. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_t main_thread;

static void *worker(void *arg)
{
	void *r;
	usleep(50000 + 30000 * (long)arg);
	printf("worker %ld runs after main exited\n", (long)arg);
	if (arg == 0) {
		pthread_join(main_thread, &r);
		printf("joined main: %ld\n", (long)r);
	}
	return 0;
}

int main(void)
{
	pthread_t t;
	main_thread = pthread_self();
	setvbuf(stdout, 0, _IONBF, 0);
	for (long i = 0; i < 3; i++) {
		pthread_create(&t, 0, worker, (void *)i);
		if (i) pthread_detach(t);
	}
	printf("main exits\n");
	pthread_exit((void *)42);
}
