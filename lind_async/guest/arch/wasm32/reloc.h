/* lind-musl wasm32: there is no ELF dynamic linker for wasm modules; these
 * definitions only let the shared internal header dynlink.h compile. */
#define LDSO_ARCH "wasm32"

#define REL_SYMBOLIC    1
#define REL_OFFSET32    2
#define REL_GOT         3
#define REL_PLT         4
#define REL_RELATIVE    5
#define REL_COPY        6
#define REL_DTPMOD      7
#define REL_DTPOFF      8
#define REL_TPOFF       9

#define CRTJMP(pc,sp) __builtin_trap()
#define GETFUNCSYM(fp, sym, got) (*(fp) = 0)
