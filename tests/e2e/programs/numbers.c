/* printf of ints, floats, long double; strtod round trips */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <inttypes.h>
#include <math.h>

int main(void) {
    printf("%d %i %u %x %X %o\n", -42, 17, 4000000000u, 0xbeef, 0xcafe, 0755);
    printf("%lld %llu %" PRId64 "\n", -9000000000000000000LL, 18000000000000000000ULL, (int64_t)-1);
    printf("%zu %ld %lu\n", sizeof(long long), -123456789L, 123456789UL);
    printf("%f %.3f %e %g %g\n", 3.14159265358979, 2.0 / 3.0, 6.02214076e23, 1e-5, 123456789.0);
    long double ld = 1.0L / 3.0L;
    printf("%Lf %.20Lf %Le\n", ld, ld * 3.0L, (long double)1e300 * 1e10L);
    printf("%8.3f|%-8d|%08d|%+d\n", -1.5, 42, 42, 7);
    printf("%s|%10s|%-10s|%c\n", "str", "right", "left", 'c');
    double parsed = strtod("2.718281828459045", NULL);
    printf("%.15f %d\n", parsed, (int)(sqrt(2.0) * 1000000));
    printf("%a\n", 1.0);
    return 0;
}
