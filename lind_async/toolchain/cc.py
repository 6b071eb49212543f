"""The ``cc`` driver: compile C programs against lind-musl into validated cage modules.

Theory of operation
-------------------
``cc`` is a thin driver over three tools from the pinned ziglang wheel, called directly:

1. ``zig clang -c`` compiles each C (or assembly) input with the sysroot's headers and the flags
   every cage object must share (``-target wasm32-unknown-unknown -matomics -mbulk-memory
   -ffreestanding -nostdinc``) plus ``-O2`` by default; the user's own flags follow and so win.
2. ``zig wasm-ld`` links ``crt1.o``, the objects, ``libc.a`` and ``libcompiler_rt.a`` into a module
   that imports a shared ``env.memory``, ``lind.syscall`` and ``lind.syscall_wait`` (and
   ``lind.fork`` when the program forks) and exports ``_start``, ``__stack_pointer``,
   ``__heap_base`` and the TLS symbols (``__tls_base``, ``__tls_size``, ``__tls_align``,
   ``__wasm_init_tls``) for future threads. The shadow stack comes first in memory
   (``--stack-first``: an overflow traps at address 0 instead of corrupting data). Linking with
   wasm-ld itself (not ``zig cc``) keeps byte sizes decimal — zig reads ``--max-memory`` & co. as
   hex — and allows every wasm-ld flag. ``main`` comes in two wasm signatures for this target
   (clang 18 emits ``main(void)`` as a two-argument wrapper): the link uses ``crt1.o``
   (``main(argc, argv)``) and, only if wasm-ld reports that ``main`` has another signature, links
   again with ``crt1-envp.o`` (``main(argc, argv, envp)``).
3. The module is validated (:mod:`lind_async.toolchain.validate`), and with ``--precompile`` also
   compiled by the runtime's engine into a ``.cwasm`` next to it, for a fast start.

Flags: ``-o``, ``-c``, ``--stack-size``, ``--max-memory``, ``--precompile``, ``--grate`` are the
driver's; ``-l``/``-L``/``-Wl,…`` go to the linker; ``-g`` to both; everything else passes through
to clang.

Grates (``--grate``): the module also exports the grate entry point ``pass_fptr_to_wt`` — the
program's own definition if it has one (Lind grates do), else lind-musl's weak default, which calls
the registered handler with its thirteen arguments — and ``__lind_grate_worker_init``, which the
runtime calls to give each worker instance its own thread descriptor. The entry point's signature
is checked after linking (:func:`lind_async.toolchain.validate.validate_grate`).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lind_async.toolchain import binaryen
from lind_async.toolchain.sysroot import (
    SJLJ_CFLAGS,
    TARGET_CFLAGS,
    Sysroot,
    cache_root,
    ensure_sysroot,
)
from lind_async.toolchain.validate import post_link_needs, validate_grate, validate_module
from lind_async.toolchain.zig import ToolchainError, zig

DEFAULT_STACK_SIZE = 1 << 20
DEFAULT_MAX_MEMORY = 512 << 20
WASM_PAGE = 1 << 16

DEFAULT_OPT = "-O2"

EXPORTS = ("_start", "__stack_pointer", "__heap_base")
OPTIONAL_EXPORTS = ("__tls_base", "__tls_size", "__tls_align", "__wasm_init_tls")
GRATE_EXPORTS = ("pass_fptr_to_wt", "__lind_grate_worker_init")

# clang options whose value is the next argument.
_SEPARATE_VALUE = frozenset({
    "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-iprefix",
    "-MF", "-MT", "-MQ", "-x", "-Xclang", "-mllvm", "-std", "-arch", "-target", "--target",
    "-isysroot", "-Xpreprocessor", "-Xassembler",
})
# wasm-ld's warning when crt1.o's two-argument main meets a three-argument one.
_MAIN_MISMATCH = "function signature mismatch: main\n"
_COMPILED_SUFFIXES = frozenset({".c", ".s", ".S", ".i"})
_LINKED_SUFFIXES = frozenset({".o", ".a", ".obj"})

USAGE = """\
usage: python -m lind_async cc [options] file...

Compile C programs into WebAssembly modules that run in a lind_async cage.

  cc hello.c                      compile and link hello.c into a.wasm
  cc -o hello.wasm hello.c util.c compile two files into hello.wasm
  cc -c util.c                    compile only, to util.o (link it later)
  cc -O0 -g -Wall -o dbg.wasm x.c flags you know from gcc/clang work as usual

Driver options:
  -o FILE            output file (default: a.wasm, or NAME.o with -c)
  -c                 compile only, do not link
  --stack-size N     size of the program's stack (default 1M; suffixes K, M, G; 16-byte multiple)
  --max-memory N     maximum linear memory (default 512M; rounded up to 64K)
  -lNAME, -LDIR      libraries and library directories, for the linker
  -Wl,ARG,...        pass ARG... to the linker (wasm-ld)
  --grate            link a grate: export its pass_fptr_to_wt entry point (a default one
                     that calls the registered handler when the program has none)
  --precompile       also write FILE.cwasm, compiled ahead of time for a fast start
                     (`python -m lind_async run FILE.cwasm` loads it without compiling)
  --print-sysroot    build (if needed) and print the lind-musl sysroot directory
  -h, --help         this help

Every other option goes to clang unchanged (-O2 is the default optimisation level; -I, -D, -W…, -g,
-std=…).  Programs are compiled for wasm32 (ILP32, 64-bit time_t and off_t) against lind-musl, a
port of musl libc whose system calls go to the cage's runtime; the first run builds that libc once
(about a minute) and caches it under $LIND_ASYNC_CACHE_DIR (default ~/.cache/lind_async).

The output imports a shared env.memory and lind.syscall (plus lind.fork if the program forks) and is
validated before it is written; run it with: python -m lind_async run a.wasm args...
"""


class CompileError(ToolchainError):
    """The compiler or linker rejected the program; ``str()`` holds its diagnostics."""


@dataclass
class _Args:
    output: Path | None = None
    compile_only: bool = False
    stack_size: int = DEFAULT_STACK_SIZE
    max_memory: int = DEFAULT_MAX_MEMORY
    cflags: list[str] = field(default_factory=list)
    ldflags: list[str] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)
    print_sysroot: bool = False
    precompile: bool = False
    grate: bool = False
    help: bool = False


def parse_size(text: str) -> int:
    """``1048576``, ``0x100000``, ``1024K``, ``1M``, ``1G`` → bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    if t and t[-1] in "KMG":
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[t[-1]]
        t = t[:-1]
    try:
        value = int(t, 0) * mult
    except ValueError:
        raise ToolchainError(f"invalid size: {text!r}") from None
    if value <= 0:
        raise ToolchainError(f"invalid size: {text!r}")
    return value


def _parse(argv: Sequence[str]) -> _Args:
    a = _Args()
    it = iter(argv)

    def value(flag: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise ToolchainError(f"missing value after {flag}") from None

    for arg in it:
        if arg in ("-h", "--help"):
            a.help = True
        elif arg == "--print-sysroot":
            a.print_sysroot = True
        elif arg == "--precompile":
            a.precompile = True
        elif arg == "--grate":
            a.grate = True
        elif arg == "-o":
            a.output = Path(value(arg))
        elif arg.startswith("-o") and len(arg) > 2:
            a.output = Path(arg[2:])
        elif arg == "-c":
            a.compile_only = True
        elif arg in ("--stack-size", "--max-memory") or arg.startswith(
                ("--stack-size=", "--max-memory=")):
            name, _, v = arg.partition("=")
            size = parse_size(v if v else value(name))
            if name == "--stack-size":
                a.stack_size = size
            else:
                a.max_memory = size
        elif arg.startswith("-Wl,"):
            a.ldflags += [x for x in arg[4:].split(",") if x]
        elif arg in ("-l", "-L"):
            a.ldflags += [arg, value(arg)]
        elif arg.startswith(("-l", "-L")):
            a.ldflags.append(arg)
        elif arg in ("-Xlinker",):
            a.ldflags.append(value(arg))
        elif arg in _SEPARATE_VALUE:
            a.cflags += [arg, value(arg)]
        elif arg.startswith("-") and arg != "-":
            a.cflags.append(arg)
        else:
            a.inputs.append(Path(arg))
    return a


def _sysroot(progress: bool = True) -> Sysroot:
    return Sysroot(ensure_sysroot(progress=progress))


def program_cflags(sysroot: Sysroot, flags: Sequence[str] = ()) -> list[str]:
    """clang flags for compiling one cage program object (user ``flags`` last, so they win)."""
    return [*TARGET_CFLAGS, *SJLJ_CFLAGS, DEFAULT_OPT, "-isystem", str(sysroot.include), *flags]


def _check_call(cmd: Sequence[str], what: str, *, echo_warnings: bool = True) -> str:
    """Run a tool; return its diagnostics, raise :class:`CompileError` on failure."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise ToolchainError(f"cannot run {cmd[0]}: {e}") from None
    if proc.returncode != 0:
        out = (proc.stderr + proc.stdout).rstrip()
        raise CompileError(out or f"{what} failed (exit status {proc.returncode})")
    if proc.stderr and echo_warnings:
        sys.stderr.write(proc.stderr)
    return proc.stderr


def compile_object(source: Path, output: Path, *, flags: Sequence[str] = (),
                   sysroot: Sysroot | None = None) -> Path:
    """Compile one source file to a wasm object file."""
    sr = sysroot or _sysroot()
    _check_call(zig("clang", *program_cflags(sr, flags), "-c", str(source), "-o", str(output)),
                f"compiling {source}")
    return output


def link_args(sysroot: Sysroot, objects: Sequence[Path], output: Path, *,
              stack_size: int, max_memory: int, ldflags: Sequence[str] = (),
              debug: bool = False, main_envp: bool = False, grate: bool = False) -> list[str]:
    """The ``zig wasm-ld`` command line for a cage module."""
    if stack_size % 16:
        raise ToolchainError(f"--stack-size must be a multiple of 16 (got {stack_size})")
    max_memory = -(-max_memory // WASM_PAGE) * WASM_PAGE
    if max_memory > 1 << 32:
        raise ToolchainError("--max-memory cannot exceed 4G (wasm32)")
    if stack_size + WASM_PAGE > max_memory:
        raise ToolchainError("--stack-size does not fit in --max-memory")
    cmd = zig("wasm-ld",
              "--import-memory", "--shared-memory", f"--max-memory={max_memory}",
              "--stack-first", "-z", f"stack-size={stack_size}",
              "--entry=_start", "--gc-sections")
    cmd += [f"--export={name}" for name in EXPORTS]
    cmd += [f"--export-if-defined={name}" for name in OPTIONAL_EXPORTS]
    if grate:
        cmd += [f"--export={name}" for name in GRATE_EXPORTS]
    if not debug:
        cmd.append("--strip-debug")
    crt1 = sysroot.crt1_envp if main_envp else sysroot.crt1
    cmd += [str(crt1), *map(str, objects), *ldflags, f"-L{sysroot.lib}",
            str(sysroot.libc), str(sysroot.compiler_rt), "-o", str(output)]
    return cmd


def _link(sysroot: Sysroot, objects: Sequence[Path], output: Path, *, stack_size: int,
          max_memory: int, ldflags: Sequence[str], debug: bool, grate: bool = False) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        for main_envp in (False, True):
            warnings = _check_call(
                link_args(sysroot, objects, tmp, stack_size=stack_size, max_memory=max_memory,
                          ldflags=ldflags, debug=debug, main_envp=main_envp, grate=grate),
                "linking", echo_warnings=False)
            if _MAIN_MISMATCH not in warnings:
                break
            # main(argc, argv, envp): link the crt that calls main with three arguments.
        if warnings:
            sys.stderr.write(warnings)
        # fork -> asyncify; setjmp (legacy EH from clang 18) -> exnref: Binaryen's wasm-opt.
        fork, exceptions = post_link_needs(tmp.read_bytes())
        binaryen.run_passes(tmp, tmp, fork=fork, exceptions=exceptions)
        validate_module(tmp.read_bytes(), what=str(output))
        if grate:
            validate_grate(tmp.read_bytes(), what=str(output))
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def _build(inputs: Sequence[Path], output: Path, *, cflags: Sequence[str],
           ldflags: Sequence[str], stack_size: int, max_memory: int,
           grate: bool = False) -> Path:
    if not inputs:
        raise ToolchainError("no input files")
    for p in inputs:
        if not p.is_file():
            raise ToolchainError(f"{p}: no such file")
    sysroot = _sysroot()
    debug = any(f.startswith("-g") and f != "-g0" for f in cflags)
    with tempfile.TemporaryDirectory(prefix="lind-cc-") as tmpdir:
        objects: list[Path] = []
        for i, src in enumerate(inputs):
            if src.suffix in _COMPILED_SUFFIXES:
                objects.append(compile_object(src, Path(tmpdir) / f"{i}-{src.stem}.o",
                                              flags=cflags, sysroot=sysroot))
            elif src.suffix in _LINKED_SUFFIXES:
                objects.append(src)
            else:
                raise ToolchainError(f"{src}: unknown file type (expected .c, .s, .S, .o or .a)")
        return _link(sysroot, objects, output, stack_size=stack_size, max_memory=max_memory,
                     ldflags=ldflags, debug=debug, grate=grate)


def compile_program(sources: Sequence[Path], output: Path, *, flags: Sequence[str] = (),
                    stack_size: int = DEFAULT_STACK_SIZE,
                    max_memory: int = DEFAULT_MAX_MEMORY) -> Path:
    """Compile and link C sources (or objects) into a validated cage module at ``output``.

    ``flags`` are compiler flags in ``cc`` command-line form (``-l``/``-L``/``-Wl,`` go to the
    linker; ``--grate`` links a grate).
    """
    parsed = _parse(list(flags))
    return _build([Path(s) for s in sources] + parsed.inputs, Path(output),
                  cflags=parsed.cflags, ldflags=parsed.ldflags,
                  stack_size=stack_size, max_memory=max_memory, grate=parsed.grate)


def compile_cached(source: Path, *, flags: Sequence[str] = ()) -> Path:
    """Compile one ``.c`` file into the cache and return the module's path.

    The cache key covers the source's content, the flags, the sysroot hash and this driver, so an
    unchanged program is compiled once.
    """
    source = Path(source)
    sysroot = _sysroot()
    try:
        content = source.read_bytes()
    except OSError as e:
        raise ToolchainError(f"{source}: {e.strerror}") from None
    key = hashlib.sha256()
    for part in (content, "\0".join(flags).encode(), sysroot.hash.encode(),
                 inspect.getsource(sys.modules[__name__]).encode(),
                 inspect.getsource(binaryen).encode()):
        key.update(len(part).to_bytes(8, "little"))
        key.update(part)
    output = cache_root() / "programs" / f"{source.stem}-{key.hexdigest()[:20]}.wasm"
    if output.is_file():
        return output
    return compile_program([source], output, flags=flags)


def precompile(module: Path) -> Path:
    """Write ``module`` compiled ahead of time (``.cwasm``) for the runtime's default engine."""
    from lind_async.runtime.engine import EngineConfig, LindEngine, ModuleError

    try:
        return LindEngine(EngineConfig()).precompile(module, module.with_suffix(".cwasm"))
    except ModuleError as e:
        raise ToolchainError(str(e)) from None


def main(argv: Sequence[str]) -> int:
    """``cc`` command line; returns the exit status (diagnostics on stderr, no tracebacks)."""
    try:
        a = _parse(argv)
        if a.help:
            sys.stdout.write(USAGE)
            return 0
        if a.print_sysroot:
            print(_sysroot().path)
            return 0
        if not a.inputs:
            sys.stderr.write("cc: no input files (try --help)\n")
            return 2
        if a.compile_only:
            if a.output is not None and len(a.inputs) > 1:
                raise ToolchainError("-o with -c needs a single input file")
            sysroot = _sysroot()
            for src in a.inputs:
                if src.suffix not in _COMPILED_SUFFIXES:
                    raise ToolchainError(f"{src}: not a source file")
                if not src.is_file():
                    raise ToolchainError(f"{src}: no such file")
                compile_object(src, a.output or Path(src.stem + ".o"), flags=a.cflags,
                               sysroot=sysroot)
            return 0
        output = a.output or Path("a.wasm")
        _build(a.inputs, output, cflags=a.cflags, ldflags=a.ldflags,
               stack_size=a.stack_size, max_memory=a.max_memory, grate=a.grate)
        if a.precompile:
            precompile(output)
        return 0
    except CompileError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    except ToolchainError as e:
        sys.stderr.write(f"cc: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
