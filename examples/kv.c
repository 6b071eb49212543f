/* A line-oriented key-value store, for examples/long_lived.py: one process answers many requests.
 *   set KEY VALUE  -> "ok"        get KEY -> the value, or "missing"
 *   count          -> how many requests this process has answered so far (reuse is visible)
 * Every answer is one line, flushed at once (stdout is a pipe, so it is fully buffered otherwise).
 */
#include <stdio.h>
#include <string.h>

#define SLOTS 256

static char keys[SLOTS][64], values[SLOTS][192];
static int used;

int main(void) {
    char line[512], key[64], value[192];
    long served = 0;
    while (fgets(line, sizeof line, stdin)) {
        served++;
        if (sscanf(line, "set %63s %191[^\n]", key, value) == 2) {
            int i = 0;
            while (i < used && strcmp(keys[i], key) != 0) i++;
            if (i == SLOTS) { puts("full"); fflush(stdout); continue; }
            if (i == used) used++;
            strcpy(keys[i], key);
            strcpy(values[i], value);
            puts("ok");
        } else if (sscanf(line, "get %63s", key) == 1) {
            int i = 0;
            while (i < used && strcmp(keys[i], key) != 0) i++;
            puts(i < used ? values[i] : "missing");
        } else if (strncmp(line, "count", 5) == 0) {
            printf("%ld\n", served);
        } else {
            puts("error");
        }
        fflush(stdout);
    }
    return 0;
}
