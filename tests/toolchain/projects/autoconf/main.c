/* Prints what configure found (config.h), and the same facts as this program sees them. */
#include <stdio.h>
#include <time.h>

#include "config.h"

void report(const char *what, int found);

/* 1 when configure defined the macro (to 1), 0 when it left it undefined. */
#define SPELLING(macro) #macro
#define FOUND(macro) (SPELLING(macro)[0] == '1')

int main(void) {
    report("unistd.h", FOUND(HAVE_UNISTD_H));
    report("sys/stat.h", FOUND(HAVE_SYS_STAT_H));
    report("lind_no_such_header.h", FOUND(HAVE_LIND_NO_SUCH_HEADER_H));
    report("getpid", FOUND(HAVE_GETPID));
    report("fork", FOUND(HAVE_FORK));
    report("strlcpy", FOUND(HAVE_STRLCPY));
    report("lind_no_such_function", FOUND(HAVE_LIND_NO_SUCH_FUNCTION));
    report("linux", FOUND(TARGET_IS_LINUX));
    report("hosted", FOUND(HOSTED_C));
    report("bigendian", FOUND(WORDS_BIGENDIAN));
    printf("sizeof(long)=%d runtime=%d\n", SIZEOF_LONG, (int)sizeof(long));
    printf("sizeof(void *)=%d runtime=%d\n", SIZEOF_VOID_P, (int)sizeof(void *));
    printf("sizeof(time_t)=%d runtime=%d\n", SIZEOF_TIME_T, (int)sizeof(time_t));
    printf("ran=%s status=%s\n", RAN_CHECK, RAN_STATUS);
}
