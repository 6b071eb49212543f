"""clang's own headers beside lind-musl's: <stdatomic.h> and the wasm intrinsics for user code,
libc's headers still musl's."""

from __future__ import annotations

from pathlib import Path

from lind_async.toolchain.target import clang_resource_include

from .test_driver import lind_cc, ok, write
from .wasm_runner import run

PROGRAMS = Path(__file__).parent / "programs"


def test_stdatomic_works_across_threads(sysroot: Path, tmp_path: Path) -> None:
    """Atomics (int, long long, flag, CAS, fences), alignas/alignof, noreturn and
    __has_include(<stdatomic.h>) compile warning-free, link and count right from four threads."""
    ok(lind_cc("-Wall", "-Werror", "-o", "atomics", str(PROGRAMS / "atomics.c"), cwd=tmp_path))
    result = run(tmp_path / "atomics", ["atomics"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "counter=80000 wide=240000 lockfree=1 flag=0,1 align=16 mod=0 cas=18",
        "INT_MAX=2147483647 SIZE_MAX=4294967295 INT64_MAX=9223372036854775807",
    ]


def test_libc_headers_come_first_and_clangs_after(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "h.c", "#include <stdint.h>\n#include <limits.h>\n#include <stddef.h>\n"
          "#include <stdarg.h>\n#include <stdatomic.h>\n#include <wasm_simd128.h>\n")
    deps = ok(lind_cc("-M", "h.c", cwd=tmp_path)).stdout.replace("\\\n", " ").split()
    resource = str(clang_resource_include())
    by_name = {Path(d).name: d for d in deps[2:]}
    for musl in ("stdint.h", "limits.h", "stddef.h", "stdarg.h"):
        assert by_name[musl].startswith(str(sysroot)), by_name[musl]
    for clang in ("stdatomic.h", "wasm_simd128.h"):
        assert by_name[clang].startswith(resource), by_name[clang]


def test_simd_intrinsics_with_msimd128(sysroot: Path, tmp_path: Path) -> None:
    """SIMD is off by default (the target features are atomics and bulk memory); -msimd128 turns
    it on for a program and the runtime runs it."""
    write(tmp_path / "simd.c",
          "#include <wasm_simd128.h>\n#include <stdio.h>\nint main(void) {\n"
          "  v128_t c = wasm_i32x4_mul(wasm_i32x4_make(1, 2, 3, 4), wasm_i32x4_splat(10));\n"
          '  printf("%d %d\\n", wasm_i32x4_extract_lane(c, 1), wasm_i32x4_extract_lane(c, 3));\n'
          "}\n")
    without = lind_cc("-o", "simd", "simd.c", cwd=tmp_path)
    assert without.returncode == 1 and "requires target feature 'simd128'" in without.stderr
    ok(lind_cc("-msimd128", "-o", "simd", "simd.c", cwd=tmp_path))
    result = run(tmp_path / "simd", ["simd"])
    assert (result.exit_code, result.stdout) == (0, b"20 40\n")


def test_inttypes_formats_match_their_types(sysroot: Path, tmp_path: Path) -> None:
    """<inttypes.h>'s pointer and 64-bit formats name the types they print (uintptr_t is
    unsigned long on wasm32, int64_t long long): -Wformat -Werror builds, and values print and
    scan back right."""
    write(tmp_path / "fmt.c",
          "#include <inttypes.h>\n#include <stdio.h>\nint main(void) {\n"
          "  int x = 0;\n  uintptr_t p = (uintptr_t)&x | 0x80000000u;\n"
          "  intptr_t d = -5;\n  int64_t big = -9000000000LL;\n  uint64_t ubig = 1ULL << 40;\n"
          '  printf("%" PRIuPTR " %" PRIxPTR " %" PRIdPTR " %" PRId64 " %" PRIu64 "\\n",\n'
          "         p >> 31, p >> 28, d, big, ubig);\n"
          "  uintptr_t back = 0;\n  int64_t big_back = 0;\n"
          '  sscanf("4096 -42", "%" SCNuPTR " %" SCNd64, &back, &big_back);\n'
          '  printf("%" PRIuPTR " %" PRId64 "\\n", back, big_back);\n'
          "  return 0;\n}\n")
    ok(lind_cc("-Wall", "-Wformat=2", "-Werror", "-o", "fmt", "fmt.c", cwd=tmp_path))
    result = run(tmp_path / "fmt", ["fmt"])
    assert (result.exit_code, result.stdout) == (0, b"1 8 -5 -9000000000 1099511627776\n"
                                                 b"4096 -42\n")
