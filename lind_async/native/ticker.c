/* The epoch ticker as a C thread that never takes the GIL (wasm/ticker.py's native mode).
 *
 * One struct lind_ticker per engine. Its thread increments the engine's epoch every slice
 * while a poll is in progress (active > 0) or once after a kick, and otherwise sleeps on a
 * futex (parked): idle costs nothing. Polls go through lind_ticker_poll, which counts them
 * and wakes a parked thread before polling (the loop side never waits for this thread, and
 * this thread never waits for the GIL: the Python ticker's wake-up took the GIL once a slice,
 * and the loop thread had to hand it over).
 *
 * Lost wake-up: the thread stores parked = 1 then reads active and kick; a poll adds to active
 * then reads parked (a kick stores kick then reads parked). All are sequentially consistent
 * atomics, so at least one side sees the other's store: either the thread does not sleep, or
 * the poller sees parked and wakes it (the futex wait on the value 1 returns at once if the
 * wake came first).
 *
 * The engine: the ticker holds its own handle (wasmtime_engine_clone: the same engine, kept
 * alive) and deletes it in lind_ticker_stop, under the lock the thread holds while it ticks, so
 * the thread never ticks an engine that is gone, even one whose owner forgot to stop it (the
 * Python side also stops it when the ticker object is collected). The struct itself is never
 * freed (the Python side may still read its counters): a few dozen bytes per engine.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef bool (*poll_fn)(void *);
typedef void (*tick_fn)(void *);
typedef void (*delete_fn)(void *);

struct lind_ticker {
	_Atomic int64_t active; /* polls in progress (read by Python at offset 0) */
	_Atomic int64_t ticks;  /* ticks made (read by Python at offset 8) */
	_Atomic int64_t entered; /* polls begun */
	_Atomic int32_t parked; /* the futex word: 1 while the thread sleeps (or is about to) */
	_Atomic int32_t kick;   /* tick once even with no counted poll */
	_Atomic int32_t stopped;
	int32_t pad;
	void *engine; /* our own handle (a clone), NULL once stopped */
	tick_fn tick;
	delete_fn engine_delete;
	poll_fn poll;
	struct timespec slice;
	pthread_mutex_t lock; /* held while ticking */
};

static void futex(_Atomic int32_t *word, int op, int32_t value) {
	syscall(SYS_futex, (int32_t *)word, op, value, NULL, NULL, 0);
}

static void wake(struct lind_ticker *t) {
	if (atomic_exchange(&t->parked, 0)) futex(&t->parked, FUTEX_WAKE_PRIVATE, 1);
}

static bool wanted(struct lind_ticker *t) {
	return atomic_load(&t->active) > 0 || atomic_load(&t->kick);
}

static void *run(void *arg) {
	struct lind_ticker *t = arg;
	int64_t seen = -1;
	while (!atomic_load(&t->stopped)) {
		/* Parks only after a whole slice in which no poll began (as the Python thread): in a
		 * run of short polls it stays awake instead of being woken about once a slice. */
		if (!wanted(t) && atomic_load(&t->entered) == seen) {
			atomic_store(&t->parked, 1);
			if (!wanted(t) && !atomic_load(&t->stopped))
				futex(&t->parked, FUTEX_WAIT_PRIVATE, 1);
			atomic_store(&t->parked, 0);
			if (atomic_load(&t->stopped)) break;
			/* Woken: a whole slice before the next look, as a poll that woke it is most
			 * likely over by the time this thread runs (parking again at once cost a
			 * wake-up, two context switches, per poll on a busy machine). */
		}
		seen = atomic_load(&t->entered);
		nanosleep(&t->slice, NULL);
		pthread_mutex_lock(&t->lock);
		if (!atomic_load(&t->stopped) && t->engine != NULL &&
		    (atomic_load(&t->active) > 0 || atomic_exchange(&t->kick, 0))) {
			t->tick(t->engine);
			atomic_fetch_add(&t->ticks, 1);
		}
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

/* A ticker for engine (a handle it owns from now on: deleted at the stop), not started; NULL
 * when out of memory. */
struct lind_ticker *lind_ticker_new(void *engine, int64_t slice_ns, void *tick_addr,
                                    void *poll_addr, void *delete_addr) {
	struct lind_ticker *t = calloc(1, sizeof *t);
	if (t == NULL) return NULL;
	t->engine = engine;
	t->engine_delete = (delete_fn)delete_addr;
	t->tick = (tick_fn)tick_addr;
	t->poll = (poll_fn)poll_addr;
	if (slice_ns < 1000) slice_ns = 1000;
	t->slice.tv_sec = slice_ns / 1000000000;
	t->slice.tv_nsec = slice_ns % 1000000000;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

/* Start the thread (detached, small stack): 0, or an errno. */
int lind_ticker_start(struct lind_ticker *t) {
	pthread_attr_t attr;
	pthread_t thread;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int err = pthread_create(&thread, &attr, run, t);
	pthread_attr_destroy(&attr);
	return err;
}

/* wasmtime_call_future_poll(fut), counted (called without the GIL, as ctypes does). */
bool lind_ticker_poll(struct lind_ticker *t, void *fut) {
	atomic_fetch_add(&t->active, 1);
	atomic_fetch_add_explicit(&t->entered, 1, memory_order_relaxed);
	if (atomic_load(&t->parked)) wake(t);
	bool done = t->poll(fut);
	atomic_fetch_sub(&t->active, 1);
	return done;
}

/* At least one more tick, for a poll this code does not count. */
void lind_ticker_kick(struct lind_ticker *t) {
	atomic_store(&t->kick, 1);
	if (atomic_load(&t->parked)) wake(t);
}

/* Idempotent. */
void lind_ticker_stop(struct lind_ticker *t) {
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->stopped, 1);
	void *engine = t->engine;
	t->engine = NULL;
	pthread_mutex_unlock(&t->lock);
	if (engine != NULL) t->engine_delete(engine);
	wake(t);
}
