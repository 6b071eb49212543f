/* opens /dev/null until open fails; prints how many were open and why it failed */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    int opened = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) break;
        opened++;
        if (opened > 100000) break;
    }
    printf("opened %d more, then %s\n", opened, errno == EMFILE ? "EMFILE" : strerror(errno));
    return 0;
}
