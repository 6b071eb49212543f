/* a bad pointer gives EFAULT and the program continues; an unknown syscall gives ENOSYS */
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
    errno = 0;
    ssize_t r = write(1, (void *)0xFFFFFFF0, 100);
    printf("write bad ptr: %zd %s\n", r, errno == EFAULT ? "EFAULT" : strerror(errno));
    errno = 0;
    r = getcwd((void *)0xFFFFFFF0, 100) ? 0 : -1;
    printf("getcwd bad ptr: %zd %s\n", r, errno == EFAULT ? "EFAULT" : strerror(errno));
    errno = 0;
    long s = syscall(999);
    printf("syscall 999: %ld %s\n", s, errno == ENOSYS ? "ENOSYS" : strerror(errno));
    errno = 0;
    r = write(77, "x", 1);
    printf("bad fd: %zd %s\n", r, errno == EBADF ? "EBADF" : strerror(errno));
    printf("still running\n");
    return 0;
}
