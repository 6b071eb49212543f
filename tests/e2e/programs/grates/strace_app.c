#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	char buf[100];
	int fd = openat(AT_FDCWD, "/x", O_RDONLY);
	int n = read(fd, buf, 100);
	close(fd);
	open("/nope", O_RDONLY);
	write(1, buf, n);
	fd = open("/long", O_RDONLY);
	read(fd, buf, 100);
	lseek(fd, 5, SEEK_SET);
	return 0;
}
