#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char buf[64] = {0}, cwd[64] = {0};
	int fd = open("/secret", O_RDONLY);
	int n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	printf("secret: %d %s\n", n, buf);
	printf("cwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
	return 0;
}
