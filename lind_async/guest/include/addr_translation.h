/* lind-musl: Lind-Wasm's <addr_translation.h>.  Pointers are plain offsets
 * into a cage's linear memory in lind_async, so translation is the identity;
 * the macros live in <lind_syscall.h>. */
#ifndef _LIND_ADDR_TRANSLATION_H
#define _LIND_ADDR_TRANSLATION_H
#include <lind_syscall.h>
#endif
