"""Compile and link C programs against lind-musl into validated cage modules (the library half).

Theory of operation
-------------------
Three tools from the pinned ziglang wheel, called directly:

1. ``zig clang -c`` compiles each C (or assembly) input with the sysroot's headers and the flags
   every cage program shares (:data:`lind_async.toolchain.target.HOSTED_CFLAGS`: ``-target
   wasm32-unknown-unknown -matomics -mbulk-memory -nostdinc``, setjmp support, the Linux macros,
   ``-O2`` by default); the user's own flags follow and so win. Programs are compiled *hosted*
   (see :mod:`lind_async.toolchain.target`).
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
3. Programs that fork or use setjmp, and can install a signal handler, get signal polls at their
   loop headers (:mod:`lind_async.toolchain.signal_poll`: a handler due while they compute runs
   on the thread's own stack, so it may ``longjmp`` out or ``fork``); a setjmp program's calls of
   ``__wasm_longjmp`` are inlined (:mod:`lind_async.toolchain.sjlj_throw`: one frame less for
   wasmtime to unwind per ``longjmp``); both go through Binaryen's
   wasm-opt (:mod:`lind_async.toolchain.binaryen`); the module is validated
   (:mod:`lind_async.toolchain.validate`), and with ``--precompile`` also compiled by the runtime's
   engine into a ``.cwasm`` next to it, for a fast start.

The command line (``lind-cc``, ``python -m lind_async cc``) is :mod:`lind_async.toolchain.driver`;
:func:`main` here is its entry point.

Grates (``--grate``): the module also exports the grate entry point ``pass_fptr_to_wt`` — the
program's own definition if it has one (Lind grates do), else lind-musl's weak default, which calls
the registered handler with its thirteen arguments — and ``__lind_grate_worker_init``, which the
runtime calls to give each worker instance its own thread descriptor. The entry point's signature
is checked after linking (:func:`lind_async.toolchain.validate.validate_grate`).
"""

from __future__ import annotations

import hashlib
import inspect
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lind_async.toolchain import (
    binaryen,
    cmdline,
    libcxx,
    mainshim,
    signal_poll,
    sjlj_throw,
    target,
    validate,
)
from lind_async.toolchain.mainshim import main_shim
from lind_async.toolchain.outputs import publish
from lind_async.toolchain.sysroot import Sysroot, cache_root, ensure_sysroot
from lind_async.toolchain.target import DEFAULT_OPT, program_cflags
from lind_async.toolchain.validate import post_link_needs, validate_grate, validate_module
from lind_async.toolchain.zig import ToolchainError, zig

__all__ = [
    "DEFAULT_OPT",
    "CompileError",
    "compile_cached",
    "compile_object",
    "compile_program",
    "link_args",
    "link_module",
    "main",
    "parse_size",
    "precompile",
    "program_cflags",
]

# The main thread's stack: Linux's 8 MiB, plus a margin below it so that stack arithmetic a
# program does from its own frame (``sp - RLIMIT_STACK``, a guard ``top - N``) cannot wrap past
# address 0 (``--stack-first`` puts the stack at the bottom of memory). RLIMIT_STACK reports the
# 8 MiB (``rawposix/proc.py``).
STACK_MARGIN = 64 << 10
DEFAULT_STACK_SIZE = (8 << 20) + STACK_MARGIN
DEFAULT_MAX_MEMORY = 512 << 20
WASM_PAGE = 1 << 16

EXPORTS = ("_start", "__stack_pointer", "__heap_base")
OPTIONAL_EXPORTS = ("__tls_base", "__tls_size", "__tls_align", "__wasm_init_tls")
GRATE_EXPORTS = ("pass_fptr_to_wt", "__lind_grate_worker_init")

# wasm-ld's warning when crt1.o's two-argument main meets a three-argument one.
_MAIN_MISMATCH = "function signature mismatch: main\n"


class CompileError(ToolchainError):
    """The compiler or linker rejected the program; ``str()`` holds its diagnostics."""


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


def load_sysroot(progress: bool = True) -> Sysroot:
    """The lind-musl sysroot, built first if needed."""
    return Sysroot(ensure_sysroot(progress=progress))


def echo_command(cmd: Sequence[str]) -> None:
    """``-v``: show a command as gcc does, on stderr, before running it."""
    sys.stderr.write(" " + shlex.join(cmd) + "\n")
    sys.stderr.flush()


def _check_call(cmd: Sequence[str], what: str, *, echo_warnings: bool = True,
                verbose: bool = False) -> str:
    """Run a tool; return its diagnostics, raise :class:`CompileError` on failure."""
    if verbose:
        echo_command(cmd)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    except OSError as e:
        raise ToolchainError(f"cannot run {cmd[0]}: {e}") from None
    stderr = relabel(proc.stderr)
    if proc.returncode != 0:
        out = (stderr + proc.stdout).rstrip()
        raise CompileError(out or f"{what} failed (exit status {proc.returncode})")
    if stderr and echo_warnings:
        sys.stderr.write(stderr)
    return stderr


def relabel(diagnostics: str) -> str:
    """clang's own driver messages say ``zig: error: …`` (zig runs it): say ``lind-cc:``."""
    return re.sub(r"^zig: ", "lind-cc: ", diagnostics, flags=re.M)


def compile_object(source: Path | str, output: Path, *, flags: Sequence[str] = (),
                   sysroot: Sysroot | None = None, language: str | None = None,
                   verbose: bool = False) -> Path:
    """Compile one source file (``-`` reads stdin; ``language`` is gcc's ``-x`` name) to a wasm
    object file. C++ (by ``language`` or suffix) is compiled against libc++ (built first if
    needed)."""
    sr = sysroot or load_sysroot()
    lang = ["-x", language] if language else []
    if (language or cmdline.LANGUAGES.get(Path(source).suffix)) in libcxx.LANGUAGES:
        cflags = libcxx.program_cxxflags(sr, libcxx.ensure_libcxx(sr), flags)
    else:
        cflags = program_cflags(sr, flags)
    _check_call(zig("clang", *cflags, *lang, "-c", str(source), "-o", str(output)),
                f"compiling {source}", verbose=verbose)
    return output


def link_args(sysroot: Sysroot, objects: Sequence[Path | str], output: Path, *,
              stack_size: int, max_memory: int, ldflags: Sequence[str] = (),
              debug: bool = False, main_envp: bool = False, grate: bool = False,
              startfiles: bool = True, default_libs: bool = True,
              strip_all: bool = False, cxx_libs: Sequence[Path] = ()) -> list[str]:
    """The ``zig wasm-ld`` command line for a cage module.

    ``objects`` are the linker's inputs in order (object files, archives, and options such as
    ``-lNAME`` mixed in, as on a gcc command line); ``ldflags`` follow them. ``cxx_libs`` (the C++
    runtime, for ``lind-c++``) come before libc.
    """
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
    if strip_all:
        cmd.append("--strip-all")
    elif not debug:
        cmd.append("--strip-debug")
    if startfiles:
        cmd.append(str(sysroot.crt1_envp if main_envp else sysroot.crt1))
    cmd += [*map(str, objects), *ldflags, f"-L{sysroot.lib}"]
    if startfiles:  # crt1 calls main: hosted clang may have named it __main_argc_argv
        cmd.append(str(main_shim()))
    if default_libs:
        if cxx_libs:
            cmd += libcxx.ENTRY_GUARD_FLAGS
        cmd += [*map(str, cxx_libs), str(sysroot.libc), str(sysroot.compiler_rt)]
    cmd += ["-o", str(output)]
    return cmd


def link_module(sysroot: Sysroot, objects: Sequence[Path | str], output: Path, *,
                stack_size: int = DEFAULT_STACK_SIZE, max_memory: int = DEFAULT_MAX_MEMORY,
                ldflags: Sequence[str] = (), debug: bool = False, grate: bool = False,
                startfiles: bool = True, default_libs: bool = True, strip_all: bool = False,
                verbose: bool = False, cxx_libs: Sequence[Path] = ()) -> Path:
    """Link, run the post-link passes the module needs, validate, then write ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # Built under the output's own name (wasm-ld puts it in the module's name section: a
    # temporary name with a pid in it made every build differ), in a directory of its own.
    workdir = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    tmp = workdir / output.name
    try:
        for main_envp in (False, True):
            warnings = _check_call(
                link_args(sysroot, objects, tmp, stack_size=stack_size, max_memory=max_memory,
                          ldflags=ldflags, debug=debug, main_envp=main_envp, grate=grate,
                          startfiles=startfiles, default_libs=default_libs,
                          strip_all=strip_all, cxx_libs=cxx_libs),
                "linking", echo_warnings=False, verbose=verbose)
            if _MAIN_MISMATCH not in warnings or not startfiles:
                break
            # main(argc, argv, envp): link the crt that calls main with three arguments.
        if warnings:
            sys.stderr.write(warnings)
        # fork -> asyncify; setjmp (legacy EH from clang 18) -> exnref: Binaryen's wasm-opt.
        # Both can leave a signal handler other than by returning: such a program, if it links
        # sigaction, polls for signals at its loop headers (before asyncify, which must see the
        # poll calls).
        linked = tmp.read_bytes()
        fork, exceptions = post_link_needs(linked)
        if exceptions:  # a longjmp throws from its caller's frame (one frame less to unwind)
            linked = sjlj_throw.inline_longjmp(linked) or linked
        if fork or exceptions:
            polled = signal_poll.instrument(linked)
            tmp.write_bytes(linked if polled is None else polled)
        binaryen.run_passes(tmp, tmp, fork=fork, exceptions=exceptions)
        validate_module(tmp.read_bytes(), what=str(output))
        if grate:
            validate_grate(tmp.read_bytes(), what=str(output))
        publish(tmp, output)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return output


def build(invocation: cmdline.Invocation, output: Path, *, stack_size: int = DEFAULT_STACK_SIZE,
          max_memory: int = DEFAULT_MAX_MEMORY, sysroot: Sysroot | None = None,
          cxx: bool = False) -> Path:
    """Compile the sources of a parsed command line and link everything into ``output``
    (``cxx``: as ``lind-c++``, with libc++, libc++abi and libunwind)."""
    inv = invocation
    if not inv.link_items or not inv.inputs:
        raise ToolchainError("no input files")
    if inv.shared:
        raise ToolchainError("-shared: cage programs are linked statically; build static "
                             "libraries (e.g. ./configure --disable-shared)")
    for item in inv.link_items:
        if item == "-":
            raise ToolchainError("-E or -x required when input is from standard input")
    for path in inv.inputs:
        if path != "-" and not Path(path).is_file():
            raise ToolchainError(f"{path}: No such file or directory")
    sr = sysroot or load_sysroot()
    with tempfile.TemporaryDirectory(prefix="lind-cc-") as tmpdir:
        objects: list[Path | str] = []
        for i, item in enumerate(inv.link_items):
            if isinstance(item, cmdline.Source):
                stem = "stdin" if item.path == "-" else Path(item.path).stem
                objects.append(compile_object(
                    item.path, Path(tmpdir) / f"{i}-{stem}.o", sysroot=sr,
                    flags=[*inv.compile_flags, *dependency_flags(inv, item)],
                    language=item.language, verbose=inv.verbose))
            else:
                objects.append(item)
        return link_module(sr, objects, output, stack_size=stack_size, max_memory=max_memory,
                           debug=inv.debug, grate=inv.grate, startfiles=not inv.nostartfiles,
                           default_libs=not inv.nodefaultlibs, strip_all=inv.strip_all,
                           verbose=inv.verbose,
                           cxx_libs=libcxx.ensure_libcxx(sr).libs if cxx else ())


def dependency_flags(inv: cmdline.Invocation, source: cmdline.Source) -> list[str]:
    """``-MF``/``-MT`` for ``-MD``/``-MMD`` while linking, named the way gcc names them.

    gcc writes ``OUT.d`` (rule target ``OUT``) for ``-o OUT`` and one source, else
    ``BASE-STEM.d`` (target ``STEM.o``), where BASE is OUT without its suffix or ``a``.
    """
    if not inv.writes_dependencies or inv.dependency_file is not None:
        return []
    base = str(Path(inv.output).with_suffix("")) if inv.output else "a"
    stem = "stdin" if source.path == "-" else Path(source.path).stem
    if inv.output and len(inv.sources) == 1:
        name, rule = f"{base}.d", inv.output
    else:
        name, rule = f"{base}-{stem}.d", f"{stem}.o"
    return ["-MF", name] + ([] if inv.dependency_target else ["-MT", rule])


def compile_program(sources: Sequence[Path], output: Path, *, flags: Sequence[str] = (),
                    stack_size: int = DEFAULT_STACK_SIZE,
                    max_memory: int = DEFAULT_MAX_MEMORY, cxx: bool = False) -> Path:
    """Compile and link C sources (or objects) into a validated cage module at ``output``.

    ``flags`` are compiler flags in ``cc`` command-line form (``-l``/``-L``/``-Wl,`` go to the
    linker; ``--grate`` links a grate).
    """
    inv = cmdline.parse([*map(str, sources), *flags])
    return build(inv, Path(output), stack_size=stack_size, max_memory=max_memory, cxx=cxx)


_KEY_MODULES = (sys.modules[__name__], binaryen, cmdline, libcxx, mainshim, signal_poll, sjlj_throw,
                target, validate)


def compile_cached(source: Path, *, flags: Sequence[str] = ()) -> Path:
    """Compile one ``.c`` file (or C++ file, linked as by ``lind-c++``) into the cache and return
    the module's path.

    The cache key covers the source's content, the user's flags, the flags every program is
    compiled with (:data:`lind_async.toolchain.target.HOSTED_CFLAGS`), the sysroot hash and the
    driver's own code, so an unchanged program is compiled once and a flag change compiles anew.
    """
    source = Path(source)
    sysroot = load_sysroot()
    try:
        content = source.read_bytes()
    except OSError as e:
        raise ToolchainError(f"{source}: {e.strerror}") from None
    key = hashlib.sha256()
    parts = [content, "\0".join(flags).encode(), "\0".join(target.HOSTED_CFLAGS).encode(),
             sysroot.hash.encode()]
    parts += [inspect.getsource(module).encode() for module in _KEY_MODULES]
    for part in parts:
        key.update(len(part).to_bytes(8, "little"))
        key.update(part)
    output = cache_root() / "programs" / f"{source.stem}-{key.hexdigest()[:20]}.wasm"
    if output.is_file():
        return output
    cxx = cmdline.LANGUAGES.get(source.suffix) in libcxx.LANGUAGES
    return compile_program([source], output, flags=flags, cxx=cxx)


def precompile(module: Path) -> Path:
    """Write ``module`` compiled ahead of time (``.cwasm``) for the runtime's default engine."""
    from lind_async.wasm.engine import EngineConfig, LindEngine, ModuleError

    try:
        return LindEngine(EngineConfig()).precompile(module, module.with_suffix(".cwasm"))
    except ModuleError as e:
        raise ToolchainError(str(e)) from None


def main(argv: Sequence[str]) -> int:
    """The ``cc`` command line (``lind-cc``); returns the exit status, never raises."""
    from lind_async.toolchain.driver import main as driver_main

    return driver_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
