/* prints an environment variable, the working directory and a file read relative to it */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    char cwd[256];
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    printf("HOME=%s\n", getenv("HOME") ? getenv("HOME") : "(unset)");
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
    FILE *f = fopen("data.txt", "r");
    char line[128] = "(missing)";
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    printf("data.txt: %s", line);
    return 0;
}
