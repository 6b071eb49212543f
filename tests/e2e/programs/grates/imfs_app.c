/* Files under the imfs grate: create, write (stdio and write), read back,
 * seek, stat, list, remove; fds stay clear of the real ones. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	if (mkdir("/data", 0755) != 0) { perror("mkdir"); return 1; }
	printf("mkdir again: %s\n", mkdir("/data", 0755) == 0 ? "ok" : strerror(errno));

	FILE *f = fopen("/data/a.txt", "w");
	if (!f) { perror("fopen"); return 1; }
	fprintf(f, "hello imfs %d\n", 42);
	fclose(f);

	int fd = open("/data/b.bin", O_CREAT | O_RDWR | O_TRUNC, 0600);
	printf("imfs fd above real fds: %s\n", fd >= 16384 ? "yes" : "no");
	int p[2];
	pipe(p);
	printf("pipe fds: %d %d\n", p[0], p[1]);
	write(fd, "0123456789", 10);
	lseek(fd, 2, SEEK_SET);
	char buf[64] = {0};
	int n = read(fd, buf, 4);
	printf("read after seek: %d '%s'\n", n, buf);
	struct stat st;
	fstat(fd, &st);
	printf("fstat: size=%lld reg=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
	close(fd);

	f = fopen("/data/a.txt", "r");
	fgets(buf, sizeof buf, f);
	fclose(f);
	printf("a.txt: %s", buf);

	mkdir("/data/sub", 0700);
	stat("/data/sub", &st);
	printf("stat sub: dir=%d\n", S_ISDIR(st.st_mode));

	DIR *d = opendir("/data");
	char *names[16];
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) && count < 16) names[count++] = strdup(e->d_name);
	closedir(d);
	qsort(names, count, sizeof *names, cmp);
	printf("ls /data:");
	for (int i = 0; i < count; i++) printf(" %s", names[i]);
	printf("\n");

	printf("unlink b.bin: %d\n", unlink("/data/b.bin"));
	printf("stat b.bin: %s\n", stat("/data/b.bin", &st) == 0 ? "exists" : strerror(errno));
	printf("open missing: %s\n", open("/nope", O_RDONLY) < 0 ? strerror(errno) : "opened");
	printf("rmdir data: %s\n", rmdir("/data") == 0 ? "ok" : strerror(errno));
	return 0;
}
