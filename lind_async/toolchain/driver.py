"""``lind-cc`` (= ``python -m lind_async cc``): a gcc-compatible compiler driver for cage programs.

Theory of operation
-------------------
The command line is read as gcc reads it (:mod:`lind_async.toolchain.cmdline`), then:

* queries (``--version``, ``-dumpmachine``, ``-print-*`` …) are answered and nothing is compiled
  (:mod:`lind_async.toolchain.queries`); ``-v`` alone prints the version on stderr;
* a mode that does not link (``-E``, ``-M``, ``-MM``, ``-fsyntax-only``, ``-S``, ``-c``) runs clang
  once with the cage program flags followed by the user's arguments, unchanged and in order: clang
  then does what gcc does — several sources, ``-o``, ``-MD``/``-MF``/``-MT``/``-MP``, ``-x c -``
  from stdin, output to stdout — and its diagnostics and exit status are the driver's. Linker
  options are dropped, as gcc ignores them there; no link or post-link step runs;
* otherwise the sources are compiled one by one and linked with the objects, archives and linker
  options, in command-line order, into a cage module — ``a.out`` by default, whatever its name
  (:func:`lind_async.toolchain.cc.build`), which starts with a ``#!`` line naming the launcher
  (:mod:`lind_async.toolchain.launcher`) so ``./a.out`` runs, unless it is named ``*.wasm`` or
  ``--no-launcher`` is given; with ``-r`` they are combined by ``wasm-ld -r`` into
  one relocatable object instead.

Errors print the compiler's or linker's own diagnostics, or one ``lind-cc: error: …`` line, and
return a nonzero status; never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lind_async.toolchain import libcxx, queries
from lind_async.toolchain.cc import (
    DEFAULT_MAX_MEMORY,
    DEFAULT_STACK_SIZE,
    CompileError,
    build,
    compile_object,
    echo_command,
    load_sysroot,
    parse_size,
    precompile,
    relabel,
)
from lind_async.toolchain.cc import _check_call as check_call
from lind_async.toolchain.cmdline import (
    Invocation,
    Mode,
    Source,
    expand_response_files,
    parse,
)
from lind_async.toolchain.launcher import add_launcher, wants_launcher
from lind_async.toolchain.outputs import publish, writes_through
from lind_async.toolchain.target import TRIPLE, program_cflags
from lind_async.toolchain.zig import ToolchainError, zig

PROG = "lind-cc"
DEFAULT_OUTPUT = "a.out"

USAGE = f"""\
usage: lind-cc [options] file...        (or: python -m lind_async cc [options] file...)

A gcc-compatible C compiler for lind_async cages: C (hosted C17, clang 18) for {TRIPLE},
linked against lind-musl. Use it as CC in make, autoconf (cross-compiling) and CMake builds.

  lind-cc hello.c                      compile and link into a.out (a cage module)
  lind-cc -o hello hello.c util.c      several sources into one program
  lind-cc -c util.c                    compile only, to util.o (link it later)
  lind-cc -E -dM - </dev/null          list the predefined macros
  lind-cc -O0 -g -Wall -o dbg x.c      flags you know from gcc/clang work as usual

gcc's modes and options: -c -S -E -M -MM -MD -MMD -MF -MT -MQ -MP -o -x LANG (- is stdin)
-I -D -U -include -std= -O -g -W... -f... -l -L -Wl,... -Xlinker @FILE (response file),
-v, --version, -dumpversion, -dumpmachine, -print-file-name=, -print-prog-name=,
-print-search-dirs, -print-libgcc-file-name, -print-sysroot.

lind-cc's own options:
  --stack-size N     size of the program's stack (default 1M; suffixes K, M, G; 16-byte multiple)
  --max-memory N     maximum linear memory (default 512M; rounded up to 64K)
  --grate            link a grate: export its pass_fptr_to_wt entry point (a default one
                     that calls the registered handler when the program has none)
  --no-launcher      write the module alone, without the #! line that lets ./a.out run
                     (also when -o names a .wasm file)
  --precompile       also write OUTPUT.cwasm, compiled ahead of time for a fast start
                     (`python -m lind_async run OUTPUT.cwasm` loads it without compiling)
  --print-sysroot    build (if needed) and print the lind-musl sysroot directory
  --print-cmake-toolchain
                     print a CMake toolchain file for this installation
  -h, --help         this help

-O2 is the default optimisation level. Programs are hosted C (__STDC_HOSTED__ 1) and see
__linux__, __linux, __unix__ and __unix, as with gcc on Linux; ILP32 with 64-bit time_t and off_t.
The first compile builds lind-musl once (about a minute) and caches it under
$LIND_ASYNC_CACHE_DIR (default ~/.cache/lind_async); programs that fork or use setjmp also need
Binaryen's wasm-opt, fetched with npm on first use.

The output imports a shared env.memory and lind.syscall (plus lind.fork if the program forks) and is
validated before it is written. It starts with a #! line naming `lind-async exec`, so ./a.out runs
it in a cage (the current directory as its root, the environment inherited); or run it with
lind-async run a.out args...
Companion tools: lind-ar, lind-ranlib, lind-strip. More in docs/toolchain.md.
"""


def _compile_without_linking(inv: Invocation, cxx: bool) -> int:
    """-E/-M/-fsyntax-only/-S/-c: clang with the user's arguments, its stdin and stdout ours (its
    diagnostics relabelled, in colour when ours go to a terminal). C++ (``lind-c++``, or a C++
    input) sees libc++'s headers."""
    color = ["-fcolor-diagnostics"] if sys.stderr.isatty() else []
    sysroot = load_sysroot()
    flags = program_cflags(sysroot, [*color, *inv.clang_args])
    if cxx or any(s.language in libcxx.LANGUAGES for s in inv.sources) or _forces_cxx(inv):
        flags = libcxx.cxx_flags(flags, libcxx.ensure_libcxx(sysroot))
    cmd = zig("clang", *flags)
    if inv.verbose:
        echo_command(cmd)
    try:
        proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, errors="replace",
                              check=False)
    except OSError as e:
        raise ToolchainError(f"cannot run {cmd[0]}: {e}") from None
    sys.stderr.write(relabel(proc.stderr))
    return proc.returncode


def _relocatable_link(inv: Invocation, output: Path) -> int:
    """``-r``: the sources compiled and everything given combined by ``wasm-ld -r`` into one
    object for a later link. No start file, libc or post-link pass: only what the command line
    names (gcc users write ``-r -nostdlib``; lind-cc never adds libc to a relocatable object)."""
    sysroot = load_sysroot()
    with tempfile.TemporaryDirectory(prefix="lind-cc-") as tmpdir:
        items: list[str] = []
        for i, item in enumerate(inv.link_items):
            if isinstance(item, Source):
                obj = Path(tmpdir) / f"{i}-{Path(item.path).stem}.o"
                compile_object(item.path, obj, sysroot=sysroot, flags=inv.compile_flags,
                               language=item.language, verbose=inv.verbose)
                items.append(str(obj))
            else:
                items.append(item)
        check_call(zig("wasm-ld", "-r", *items, "-o", str(output)), "linking",
                   verbose=inv.verbose)
    return 0


def _forces_cxx(inv: Invocation) -> bool:
    """``-x c++`` (or another C++ language) anywhere on the command line."""
    args = inv.clang_args
    return any(a == "-x" and i + 1 < len(args) and args[i + 1] in libcxx.LANGUAGES
               for i, a in enumerate(args))


def _link(inv: Invocation, cxx: bool) -> int:
    output = Path(inv.output or DEFAULT_OUTPUT)
    if inv.relocatable:
        return _relocatable_link(inv, output)  # (wasm-ld writes through a link or device)
    if not writes_through(output):
        _build_program(inv, cxx, output, output)
        if inv.precompile:
            precompile(output)
        return 0
    # -o names a link, a pipe or a device: built aside, then written through it
    target = Path(os.path.realpath(output))
    if inv.precompile and not (target.is_file() or not target.exists()):
        raise ToolchainError(f"--precompile needs a file to write beside: {output} is not one")
    with tempfile.TemporaryDirectory(prefix="lind-cc-") as tmpdir:
        built = Path(tmpdir) / output.name
        _build_program(inv, cxx, built, output)
        publish(built, output)
    if inv.precompile:
        precompile(target)
    return 0


def _build_program(inv: Invocation, cxx: bool, path: Path, output: Path) -> None:
    """Link the program at ``path``, with the launcher line ``output``'s name calls for."""
    build(inv, path, cxx=cxx,
          stack_size=parse_size(inv.stack_size) if inv.stack_size else DEFAULT_STACK_SIZE,
          max_memory=parse_size(inv.max_memory) if inv.max_memory else DEFAULT_MAX_MEMORY)
    if wants_launcher(output, inv.no_launcher):
        add_launcher(path)


def run(argv: Sequence[str], *, cxx: bool = False) -> int:
    """The driver, raising :class:`ToolchainError` for the caller to report (``cxx``: as
    ``lind-c++``)."""
    inv = parse(expand_response_files(argv))
    if inv.help:
        sys.stdout.write(USAGE)
        return 0
    if inv.queries:
        sys.stdout.write(queries.answer_all(inv.queries))
        return 0
    if inv.verbose:
        sys.stderr.write(queries.version_text())
    if not inv.inputs:
        if inv.verbose:
            return 0
        sys.stderr.write(f"{PROG}: fatal error: no input files\n")
        return 1
    for size in (inv.stack_size, inv.max_memory):
        if size is not None:
            parse_size(size)
    if inv.mode is Mode.LINK:
        return _link(inv, cxx)
    return _compile_without_linking(inv, cxx)


def main(argv: Sequence[str], *, cxx: bool = False) -> int:
    """The command line; returns the exit status (diagnostics on stderr, no tracebacks).
    ``cxx``: ``lind-c++``, which also links the C++ runtime."""
    try:
        return run(argv, cxx=cxx)
    except CompileError as e:
        sys.stderr.write(f"{e}\n")
    except ToolchainError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
    except KeyboardInterrupt:
        return 130
    return 1
