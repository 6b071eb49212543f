/* lind-musl: gettimeofday fills a struct timezone when one is passed (UTC: no offset, no DST), as
 * Linux does; musl's leaves it untouched. */
#define _BSD_SOURCE
#include <sys/time.h>
#include <time.h>

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;
	if (tz) {
		struct timezone *zone = tz;
		zone->tz_minuteswest = 0;
		zone->tz_dsttime = 0;
	}
	if (!tv) return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (int)ts.tv_nsec / 1000;
	return 0;
}
