/* lind-musl wasm32: the guest page size is fixed at 4 KiB (the runtime
 * passes AT_PAGESZ=4096; wasm's own 64 KiB pages are an implementation
 * detail of memory.grow that the guest never sees). */
#define PAGESIZE 4096
