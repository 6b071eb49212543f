/* lind-musl wasm32: set the thread pointer (see arch/wasm32/pthread_arch.h).
 * Storing into a _Thread_local cannot fail or trap. */
#include "pthread_impl.h"

hidden _Thread_local unsigned long __lind_tp;

int __set_thread_area(void *p)
{
	__lind_tp = (unsigned long)p;
	return 0;
}
