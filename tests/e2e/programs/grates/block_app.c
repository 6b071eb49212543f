#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (!strcmp(argv[1], "reader")) {
		int c = getuid(); /* blocks in the grate until "other" releases it */
		printf("reader: got '%c'\n", c);
		return 0;
	}
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, 0); /* let the reader block first */
	int sum = 0;
	for (int i = 0; i < 100; i++) sum += geteuid();
	printf("other: 100 calls served while the reader waits, sum=%d\n", sum);
	fflush(stdout);
	getgid(); /* release the reader */
	return 0;
}
