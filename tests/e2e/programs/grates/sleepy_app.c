#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (!strcmp(argv[1], "slow")) {
		int uid = getuid();
		printf("slow: getuid=%d\n", uid);
		return 0;
	}
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, 0); /* let the slow call start first */
	int sum = 0;
	for (int i = 0; i < 50; i++) sum += geteuid();
	printf("fast: 50 geteuid sum=%d\n", sum);
	fflush(stdout);
	return 0;
}
