"""What a cage program is compiled as: the target, hosted C, and the macros a Linux program expects.

Theory of operation
-------------------
clang only knows WebAssembly as ``wasm32-unknown-unknown`` (or WASI/Emscripten), so that is the
triple it compiles for; the driver *describes* the target as :data:`TRIPLE`,
``wasm32-unknown-linux-musl`` (``-dumpmachine``, ``--version``), which is what a cage program is: a
Linux ABI (system-call numbers, structure layouts) over musl, in 32-bit wasm.

User code is compiled **hosted** (no ``-ffreestanding``): ``__STDC_HOSTED__`` is 1, clang's builtins
(``memcpy`` inlining, ``printf`` → ``puts``, constant-folded ``strlen`` …) are on and ``main``
returns 0 when it falls off its end, as with gcc on Linux. libc itself keeps the freestanding flags
it is built with (:data:`lind_async.toolchain.sysroot.MUSL_CFLAGS`): the two are ABI-compatible.
Small loops are unrolled further than clang's wasm32 default (:data:`UNROLL_CFLAGS`), to spread
the cost of wasmtime's per-iteration epoch check.

Predefined on top of clang's own ``__wasm__``/``__wasm32__`` (:data:`OS_MACROS`): ``__linux__``,
``__linux``, ``__unix__`` and ``__unix`` — what gcc for ``x86_64-linux-musl`` defines in every
language mode. Deliberately **not** defined:

* ``__gnu_linux__``: gcc defines it only for glibc targets (code reads it as "glibc userland");
* the bare ``linux`` and ``unix``: gcc and clang drop them in strict ISO modes, and a ``-D`` cannot
  depend on ``-std=``; they break identifiers named ``linux`` and nothing portable needs them;
* ``__ELF__``: modules are not ELF. Code guarded by it emits ELF-only assembler (``.symver``,
  ``.section .note.GNU-stack,"",@progbits``) that the wasm assembler rejects, or registers
  constructors through ``.init_array``, which wasm-ld never runs.

Header search (``-nostdinc``, then two system directories, in the order musl-gcc uses): the
sysroot's ``include`` first, so libc's own headers (``stdint.h``, ``stddef.h``, ``limits.h``,
``stdarg.h`` … which musl ships) are musl's; then clang's resource headers
(:func:`clang_resource_include`, ``lib/include`` in the ziglang wheel) for what only the compiler
provides: ``stdatomic.h``, ``wasm_simd128.h``, ``__has_include`` of them. Clang's wrappers that
``#include_next`` the libc header are never reached for a header musl has, because musl's comes
first and does not chain on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lind_async.toolchain.sysroot import SJLJ_CFLAGS, TARGET_CFLAGS, Sysroot
from lind_async.toolchain.zig import zig_lib_dir

TRIPLE = "wasm32-unknown-linux-musl"
"""The target as the driver reports it (clang itself is run with ``sysroot.CLANG_TARGET``)."""

OS_MACROS: tuple[str, ...] = ("__linux__", "__linux", "__unix__", "__unix")
"""Predefined (to 1) for every program, as gcc does for a Linux/musl target."""

DEFAULT_OPT = "-O2"
"""The optimisation level when the command line names none (user flags come later and win)."""

PROGRAM_TARGET_CFLAGS: tuple[str, ...] = tuple(f for f in TARGET_CFLAGS if f != "-ffreestanding")
"""The flags libc is built with, minus ``-ffreestanding``: user code is hosted."""

UNROLL_CFLAGS: tuple[str, ...] = ("-mllvm", "-unroll-partial-threshold=200")
"""Unroll small loops further than clang's wasm32 default (a partial-unroll budget of 30
instructions). In a cage every loop iteration pays wasmtime's epoch check (preemption), whose
slow path is a call: values live across it, floating-point ones above all, are kept in stack
slots instead of registers. More work per iteration spreads that cost: the compute benchmark's
loop went from 0.63x to about 0.95x of plain wasmtime; modules grow by a few per cent (real
Lua: +4.6 %). Loops that call functions are not unrolled (clang's wasm32 rule), nor anything
at ``-O0``/``-Os``/``-Oz``. A user's own ``-mllvm -unroll-partial-threshold=N`` comes later and
wins."""

HOSTED_CFLAGS: tuple[str, ...] = (
    *PROGRAM_TARGET_CFLAGS,
    *SJLJ_CFLAGS,
    *UNROLL_CFLAGS,
    *(f"-D{name}=1" for name in OS_MACROS),
    DEFAULT_OPT,
)
"""Every flag a program object is compiled with before the sysroot's headers and the user's own."""


def clang_resource_include() -> Path:
    """clang's own headers (``stdatomic.h``, ``wasm_simd128.h`` …) as the ziglang wheel ships
    them."""
    return zig_lib_dir() / "include"


def program_cflags(sysroot: Sysroot, flags: Sequence[str] = ()) -> list[str]:
    """clang flags for compiling one cage program object (user ``flags`` last, so they win)."""
    return [*HOSTED_CFLAGS, "-isystem", str(sysroot.include),
            "-isystem", str(clang_resource_include()), *flags]
