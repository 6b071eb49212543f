#include <stdio.h>

void report(const char *what, int found) { printf("%s=%s\n", what, found ? "yes" : "no"); }
