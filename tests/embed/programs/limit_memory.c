/* allocates (and touches) 1 MiB blocks until malloc fails (or 64 MiB); prints how many it got */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *volatile last;  /* the blocks escape: a compiler may not elide the allocations */

int main(void) {
    int mib = 0;
    while (mib < 64) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 1, 1 << 20);
        last = p;
        mib++;
    }
    printf("%s after %d MiB\n", mib < 64 ? "malloc failed" : "no failure", mib);
    return 0;
}
