/* lind-musl wasm32: socket option numbers follow Linux x86_64.  struct
 * timeval is already 64-bit (16 bytes, the x86_64 layout), so the plain
 * x86_64 SO_*TIMEO / SO_TIMESTAMP* numbers are the right ones (musl would
 * otherwise pick the 32-bit-arch "_NEW" numbers because long is 32 bits). */
#define SO_RCVTIMEO     20
#define SO_SNDTIMEO     21
#define SO_TIMESTAMP    29
#define SO_TIMESTAMPNS  35
#define SO_TIMESTAMPING 37
