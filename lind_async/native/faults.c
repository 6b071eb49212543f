/* lind_async's SIGBUS guard: a file mapped MAP_SHARED over a cage's linear memory can shrink
 * under it (another cage's truncate or O_TRUNC, a host process), and touching a page past the
 * new end of the file raises SIGBUS -- in the microvisor's process, from wasm code or from a
 * system call handler copying guest memory. Unhandled, that signal kills every cage.
 *
 * Theory of operation
 * -------------------
 * The runtime (lind_async/memory/faults.py) registers, per address space that maps a file
 * shared, the host range of its linear memory in a fixed table of slots, with the wasmtime
 * engine that runs it. This handler, installed after wasmtime's own, takes a SIGBUS whose
 * address (si_code BUS_ADRERR: a page with no backing) lies in a registered range: it maps a
 * private anonymous zero page MAP_FIXED over the faulting page, so the access is retried and
 * succeeds; counts the fault in the slot, then raises the runtime's "faulted" flag (a word the
 * runtime owns and checks on every system call return and preemption point) and increments the
 * engine's epoch so the running wasm yields at its next epoch check. The runtime then delivers
 * SIGBUS to the cage that owns the memory. Anything else (a fault outside every range, a machine-check error, a
 * SIGBUS sent by kill) goes to the handler installed before ours, as if we were not there.
 *
 * Concurrency: slots are written by one thread at a time (the runtime holds a lock) and read
 * here without one. A writer makes a slot's sequence number odd, changes the fields and makes
 * it even again; the handler reads a slot only while its sequence is even and unchanged across
 * the read (a seqlock), so it never acts on half a registration. Everything the handler calls
 * (mmap, sigaction, raise, an atomic add in wasmtime) is safe in a signal handler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LIND_FAULT_SLOTS 4096

struct slot {
	_Atomic uint64_t seq;      /* odd while a writer changes the slot */
	_Atomic uintptr_t lo, hi;  /* host range [lo, hi); hi == 0: unused */
	_Atomic uintptr_t engine;  /* the wasm_engine_t whose epoch to bump, or 0 */
	_Atomic uint64_t faults;   /* faults repaired in the range */
	_Atomic uintptr_t last;    /* the address of the last one */
};

static struct slot slots[LIND_FAULT_SLOTS];
static _Atomic int used;  /* slots [0, used) may be in use */
static struct sigaction previous;
static _Atomic int installed;
static uintptr_t page_mask;
static void (*bump_epoch)(const void *engine);
static _Atomic uint64_t *faulted;  /* the runtime's flag: set after every repair */

static void chain(int sig, siginfo_t *info, void *ctx)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, ctx);
		return;
	}
	if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
		/* The default action: with it restored, a fault recurs when the access is retried and
		 * ends the process as it would have without us; a sent signal is raised again. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, 0);
		if (info->si_code <= 0)
			raise(sig);
		return;
	}
	previous.sa_handler(sig);
}

static int repair(struct slot *s, uintptr_t addr, uintptr_t engine)
{
	void *page = (void *)(addr & page_mask);
	void *got = mmap(page, ~page_mask + 1, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (got != page)
		return 0;
	atomic_store(&s->last, addr);
	atomic_fetch_add(&s->faults, 1);  /* before the flag: whoever clears it then sees this */
	atomic_store(faulted, 1);
	if (engine && bump_epoch)
		bump_epoch((const void *)engine);
	return 1;
}

static void on_sigbus(int sig, siginfo_t *info, void *ctx)
{
	int saved = errno;
	uintptr_t addr = (uintptr_t)info->si_addr;
	if (info->si_code == BUS_ADRERR) {
		int n = atomic_load(&used);
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[i];
			uint64_t seq = atomic_load(&s->seq);
			if (seq & 1)
				continue;
			uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
			uintptr_t engine = atomic_load(&s->engine);
			if (atomic_load(&s->seq) != seq || !(lo <= addr && addr < hi))
				continue;
			if (repair(s, addr, engine)) {
				errno = saved;
				return;
			}
			break;
		}
	}
	errno = saved;
	chain(sig, info, ctx);
}

/* Install the handler (once; later calls only report success). ``bump``: wasmtime's
 * wasmtime_engine_increment_epoch; ``flag``: the runtime's faulted flag (it stays alive for the
 * process's life). Returns 0, or -errno. */
int lind_fault_install(void (*bump)(const void *), _Atomic uint64_t *flag)
{
	if (atomic_load(&installed))
		return 0;
	page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
	bump_epoch = bump;
	faulted = flag;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous) != 0)
		return -errno;
	atomic_store(&installed, 1);
	return 0;
}

int lind_fault_slots(void) { return LIND_FAULT_SLOTS; }

/* Watch [lo, hi) in slot ``i`` (the caller keeps slots apart and serializes writers). */
void lind_fault_watch(int i, uintptr_t lo, uintptr_t hi, uintptr_t engine)
{
	struct slot *s = &slots[i];
	atomic_fetch_add(&s->seq, 1);
	atomic_store(&s->lo, lo);
	atomic_store(&s->hi, hi);
	atomic_store(&s->engine, engine);
	atomic_store(&s->faults, 0);
	atomic_fetch_add(&s->seq, 1);
	if (atomic_load(&used) <= i)
		atomic_store(&used, i + 1);
}

void lind_fault_unwatch(int i)
{
	struct slot *s = &slots[i];
	atomic_fetch_add(&s->seq, 1);
	atomic_store(&s->hi, 0);
	atomic_store(&s->lo, 0);
	atomic_store(&s->engine, 0);
	atomic_fetch_add(&s->seq, 1);
}

/* Faults repaired in slot ``i`` since it was set, and the address of the last one. */
uint64_t lind_fault_count(int i, uintptr_t *last)
{
	if (last)
		*last = atomic_load(&slots[i].last);
	return atomic_load(&slots[i].faults);
}
