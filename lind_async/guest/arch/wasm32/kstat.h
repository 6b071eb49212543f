/* lind-musl wasm32: the kernel's struct stat is the user's struct stat
 * (see bits/stat.h); fstatat is replaced by lind_async/guest/src/stat/fstatat.c,
 * which needs no conversion. */
#define kstat stat
