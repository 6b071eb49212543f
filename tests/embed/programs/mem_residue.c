/* What a cage can find of an earlier cage's memory. "fill KEY": writes a pattern (never in the
 * program's data: computed from KEY) over 2 MiB of heap and a static buffer, then exits without
 * freeing. "scan KEY": counts the 8-byte words of its whole linear memory that hold the pattern
 * (its own copy is never written: each word is compared after an xor with KEY). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC 0x5EC2E7D47A11C0DEULL
static uint64_t statics[4096];

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    uint64_t key = strtoull(argv[2], NULL, 10);
    if (strcmp(argv[1], "fill") == 0) {
        size_t n = (2u << 20) / sizeof(uint64_t);
        volatile uint64_t *heap = malloc(n * sizeof *heap);
        if (heap == NULL) return 3;
        for (size_t i = 0; i < n; i++) heap[i] = MAGIC ^ key;
        for (size_t i = 0; i < 4096; i++) ((volatile uint64_t *)statics)[i] = MAGIC ^ key;
        printf("filled\n");
        return 0;
    }
#ifdef __wasm__
    size_t end = __builtin_wasm_memory_size(0) * 65536;
    size_t found = 0;
    for (size_t at = 1024; at + 8 <= end; at += 8) {
        uint64_t word = *(volatile uint64_t *)(uintptr_t)at;
        if ((word ^ key) == MAGIC) found++;
    }
    printf("found %zu of the earlier cage's words in %zu bytes\n", found, end);
#endif
    return 0;
}
