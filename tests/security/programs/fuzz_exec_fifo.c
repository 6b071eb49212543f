/* Found by the fuzzer: execve of a FIFO inside the root opened it blocking
 * on the event loop, waiting for a writer, and every cage of the
 * microvisor froze.  Linux refuses it (EACCES: not a regular file). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char *argv[] = {"ff", 0};
	if (mknod("ff", S_IFIFO | 0700, 0) != 0) {
		perror("mknod");
		return 1;
	}
	int r = execve("ff", argv, 0);
	printf("execve: %d %s\n", r, strerror(errno));
	return 0;
}
