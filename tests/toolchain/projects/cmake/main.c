/* Prints what CMake's checks found (config.h), and the same facts as this program sees them. */
#include <stdio.h>
#include <time.h>

#include "config.h"

void report(const char *what, int found);

int main(void) {
    report("unistd.h", HAVE_UNISTD_H);
    report("lind_no_such_header.h", HAVE_LIND_NO_SUCH_HEADER_H);
    report("getpid", HAVE_GETPID);
    report("lind_no_such_function", HAVE_LIND_NO_SUCH_FUNCTION);
    report("linux", TARGET_IS_LINUX);
    report("crosscompiling", CROSSCOMPILING);
    report("ran_ilp32", RUNS_ILP32);
    printf("system=%s/%s\n", SYSTEM_NAME, SYSTEM_PROCESSOR);
    printf("sizeof(long)=%d runtime=%d\n", SIZEOF_LONG, (int)sizeof(long));
    printf("sizeof(void *)=%d runtime=%d\n", SIZEOF_VOID_P, (int)sizeof(void *));
    printf("sizeof(time_t)=%d runtime=%d\n", SIZEOF_TIME_T, (int)sizeof(time_t));
}
