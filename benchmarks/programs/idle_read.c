/* An idle process: blocks reading stdin until EOF (memory per idle cage). */
#include <unistd.h>

int main(void) {
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
}
