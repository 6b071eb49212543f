/* lind-musl wasm32: ILP32 data model with 64-bit off_t. */
#define _POSIX_V6_ILP32_OFFBIG 1
#define _POSIX_V7_ILP32_OFFBIG 1
