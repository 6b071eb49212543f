/* lind-musl wasm32: musl's <stdarg.h>, plus __gnuc_va_list as gcc defines it. */
#ifndef _STDARG_H
#define _STDARG_H

#ifdef __cplusplus
extern "C" {
#endif

#define __NEED_va_list

#include <bits/alltypes.h>

#define va_start(v,l)   __builtin_va_start(v,l)
#define va_end(v)       __builtin_va_end(v)
#define va_arg(v,l)     __builtin_va_arg(v,l)
#define va_copy(d,s)    __builtin_va_copy(d,s)

/* gcc's <stdarg.h> also names the type __gnuc_va_list (glibc's headers, and programs written
 * against them, use it); clang's and musl's do not. */
#ifndef __GNUC_VA_LIST
#define __GNUC_VA_LIST 1
typedef __builtin_va_list __gnuc_va_list;
#endif

#ifdef __cplusplus
}
#endif

#endif
