"""Command line: ``python -m lind_async run|cc|syscalls|bench …``.

Start-up and the cyclic GC: a ``run`` spends most of its time importing modules and building
their classes and tables, objects that live as long as the process. The collector would walk
them again and again as they are made (a fifth of a cached ``run``'s CPU went to collections,
and more at interpreter exit). :func:`main` therefore holds the collector off until the cage is
started; then :func:`resume_gc` moves everything made so far to the permanent generation
(``gc.freeze()``: never walked again, so every later collection, on the loop that runs the
cages, is cheaper) and turns it back on. A cage's own run is collected as usual.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lind_async import __version__

RUN_HELP = """\
Run a program in a cage.

PROGRAM is a module built by `python -m lind_async cc` (.wasm), a precompiled module (.cwasm),
or a C source file (.c), which is compiled first (and cached). Everything after PROGRAM is
passed to it as its arguments.

The cage sees --root as `/`: every path it opens resolves inside that directory, including
through `..` and symlinks. Its stdin, stdout and stderr are the microvisor's.

The exit status is the program's, or 128+N when it was killed by signal N (a wasm trap counts
as the crash it would be natively: SIGSEGV, SIGILL or SIGFPE).

Signals sent to this process are the program's: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 go to it,
a terminal's SIGINT, SIGQUIT, SIGTSTP, SIGWINCH and SIGCONT to its process group. Its handlers
run; with none, the default action applies (Ctrl-C exits 130, Ctrl-Z stops the job). Signals this
process was started with ignored (nohup, background jobs) start ignored in the program.

Python grates (--grate, repeatable) interpose on the program's system calls. They stack in the
order given: the first listed is outermost and sees the program's calls first, each forwarding to
the next and the last to RawPOSIX (`--grate strace --grate readonly:/data` traces the calls as
the program makes them, before readonly judges them). Built-in grates:
  strace[:FILE]     one line per call, decoded as strace prints it (stderr, or FILE)
  seccomp:POLICY    allow/deny calls by name and simple argument conditions (a policy file)
  readonly:PATH     writes, creation and deletion under PATH fail with EROFS
  namespace:PREFIX=GRATE[+GRATE...]
                    calls on paths under PREFIX go through the clamped grates, e.g.
                    namespace:/tmp=memfs (an in-memory /tmp) or namespace:/tmp=imfs.c (C grate)
  memfs             an in-memory filesystem (usually clamped under a namespace)
  tee:GRATE[+GRATE...]
                    replays each call through a second stack and reports disagreements
  passthrough       forwards every call unchanged (for testing interposition)
A grate of your own: --grate path/to/module.py:Class[:ARGS] (a lind_async.Grate subclass).

examples:
  python -m lind_async run hello.c
  python -m lind_async run --root ./sandbox --env NAME=world app.wasm --verbose
  python -m lind_async run --grate strace --grate seccomp:policy.txt app.wasm
"""

MAIN_HELP = """\
lind_async: run untrusted C programs as WebAssembly cages on one asyncio event loop.

commands:
  run       run a program (.c, .wasm or .cwasm) in a cage
  exec      run PROGRAM ARGS... as ./PROGRAM does (the #! launcher of lind-cc's output):
            run --inherit-env with the current directory as the root
  cc        compile C to a cage program against lind-musl (`cc --help` for details)
  c++       compile C++ to a cage program against libc++ and lind-musl (as `cc`)
  syscalls  print the system-call support table (--all: with the unsupported calls)
  bench     run the benchmarks (cage vs native and other baselines) from a source checkout

`python -m lind_async COMMAND --help` explains each command.
"""


def _env_pair(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return text


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lind_async run",
        usage="%(prog)s [OPTIONS] PROGRAM [ARGS...]",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", default=".", help="host directory the cage sees as / (default: .)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=_env_pair,
        metavar="NAME=VALUE",
        help="add an environment variable (repeatable); the cage gets no host variables unless "
        "--inherit-env is given",
    )
    parser.add_argument("--inherit-env", action="store_true", help="pass the host environment on")
    parser.add_argument(
        "--time-slice",
        type=float,
        default=5.0,
        metavar="MS",
        help="preemption time slice in milliseconds (default: 5)",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop implementation (default: uvloop)",
    )
    parser.add_argument(
        "--grate",
        action="append",
        default=[],
        metavar="NAME[:ARGS]",
        help="interpose a Python grate (repeatable; the first listed is outermost)",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a resource limit for the program and every process it starts (repeatable): "
        "fds=N (RLIMIT_NOFILE; default 1024 soft, 4096 hard), memory=SIZE (linear memory per "
        "process; K/M/G suffixes), cpu_time=SECONDS (then SIGXCPU), children=N (live processes "
        "besides the first)",
    )
    parser.add_argument(
        "--host-unix-sockets",
        action="store_true",
        help="let host processes connect to the AF_UNIX path names the program binds (stream "
        "and seqpacket) at the same path under --root, and the program connect to host "
        "processes' sockets under --root (docs/security.md)",
    )
    parser.add_argument(
        "--host-unix-socket",
        action="append",
        default=[],
        metavar="PATH",
        help="the same for the guest path PATH only (repeatable)",
    )
    parser.add_argument("program", nargs="?", help="the .c, .wasm or .cwasm program")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    return parser


_gc_held = False  # main() turned the cyclic GC off for the start-up (see the module's docstring)


def hold_gc() -> None:
    """Turn the cyclic GC off for the start-up, unless it already is (the embedder's choice)."""
    global _gc_held
    if gc.isenabled():
        gc.disable()
        _gc_held = True


def resume_gc() -> None:
    """The start-up is over: freeze what it made and turn the collector back on, once."""
    global _gc_held
    if _gc_held:
        _gc_held = False
        gc.freeze()
        gc.enable()


def _fail(message: str, status: int) -> int:
    print(f"lind_async: {message}", file=sys.stderr)
    return status


_ELFOSABI_WASMTIME = b"\xc8"  # the ELF OS/ABI byte of wasmtime's precompiled modules


def _unrunnable(program: Path) -> tuple[str, int] | None:
    """Why ``program`` cannot be run, with the shell's status for it (127: not found, 126: found
    but not runnable), or None."""
    if program.is_dir():
        return f"{program}: is a directory", 126
    if not program.exists():
        return f"{program}: no such file", 127
    try:
        with program.open("rb") as f:
            ident = f.read(8)
    except OSError as exc:
        return f"{program}: {exc.strerror or exc}", 126
    if ident[:4] == b"\x7fELF" and ident[7:8] != _ELFOSABI_WASMTIME:  # not a precompiled .cwasm
        why = "this is a native executable, not a cage module (build it with lind-cc)"
        return f"{program}: {why}", 126
    return None


@dataclass
class RunPlan:
    """What ``run`` starts, once its options are checked: the program (compiled, for a ``.c``),
    its argument vector and environment, the grates over it, its limits and which of its
    AF_UNIX names host processes may reach."""

    program: Path
    argv: list[str]
    env: dict[str, str]
    grates: list[Any]
    limits: Any
    host_unix: bool | list[str]


@dataclass
class Refused:
    """``run`` will not start: say ``message`` (None: already said) and exit with ``status``."""

    message: str | None
    status: int


def plan_run(opts: argparse.Namespace, *, compile_sources: bool = True) -> RunPlan | Refused:
    """Check ``run``'s parsed options and prepare what it starts (``compile_sources``: compile a
    ``.c`` PROGRAM; otherwise a ``.c`` is refused with status 2)."""
    program = Path(opts.program)
    refused = _unrunnable(program)
    if refused is not None:
        return Refused(*refused)
    grates = []
    if opts.grate:  # (the grate machinery is not imported for a plain run)
        try:
            from lind_async.threei.python_grates import load_grate

            grates = [load_grate(spec) for spec in opts.grate]
        except (ValueError, OSError, ImportError) as exc:
            return Refused(f"--grate: {exc}", 2)
    if program.suffix == ".c":
        if not compile_sources:
            return Refused(f"{program}: a C source (compile it first)", 2)
        from lind_async.toolchain.cc import CompileError, compile_cached
        from lind_async.toolchain.zig import ToolchainError

        try:
            program = compile_cached(program)
        except CompileError as exc:
            print(exc, file=sys.stderr)  # the compiler's own diagnostics, as they are
            return Refused(None, 1)
        except ToolchainError as exc:
            return Refused(str(exc), 1)
    env = dict(os.environ) if opts.inherit_env else {}
    for pair in opts.env:
        name, _, value = pair.partition("=")
        env[name] = value
    if opts.time_slice <= 0:
        return Refused("--time-slice must be positive", 2)
    from lind_async.runtime.limits import Limits

    try:
        limits = Limits.parse(opts.limit)
    except ValueError as exc:
        return Refused(f"--limit: {exc}", 2)
    host_unix = True if opts.host_unix_sockets else list(opts.host_unix_socket)
    return RunPlan(program, [opts.program, *opts.args], env, grates, limits, host_unix)


def cmd_run(argv: Sequence[str]) -> int:
    parser = _run_parser()
    opts = parser.parse_args(argv)
    if opts.program is None:
        parser.error("no PROGRAM given (a .c, .wasm or .cwasm file to run)")
    plan = plan_run(opts)
    if isinstance(plan, Refused):
        return plan.status if plan.message is None else _fail(plan.message, plan.status)
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        return _run_plan(opts, plan)
    finally:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)


def _run_plan(opts: argparse.Namespace, plan: RunPlan) -> int:
    """Run a planned cage until it exits; its shell status.

    Until the cage's signal relay is installed, Ctrl-C keeps its default action (``cmd_run``
    sets it), as for a native program that has not installed a handler yet: the process ends
    by SIGINT, status 130 to the shell. Python's ``KeyboardInterrupt`` could instead be lost
    where Python ignores exceptions (a weakref callback during an import), leaving a program
    running that never saw the signal."""
    from lind_async.runtime.world import World, default_cache_dir
    from lind_async.wasm.engine import EngineConfig, ModuleError

    config = EngineConfig(
        time_slice=opts.time_slice / 1000, cache_dir=default_cache_dir() / "modules"
    )

    async def main() -> int:
        from lind_async.runtime.cage import shell_status
        from lind_async.runtime.host_signals import SignalRelay, inherited_ignored

        ignored = inherited_ignored()
        async with World(
            root=opts.root, engine_config=config, host_unix_sockets=plan.host_unix
        ) as mv:
            cage = mv.spawn(
                plan.program, plan.argv, plan.env, grates=plan.grates, limits=plan.limits,
                ignored=ignored,
            )
            relay = SignalRelay(cage)
            relay.install()
            resume_gc()
            try:
                await cage.exited.wait()
            finally:
                relay.remove()
        assert cage.status is not None
        return shell_status(cage.status)

    try:
        return _run_loop(main, opts.loop)
    except ModuleError as exc:
        return _fail(str(exc), 126)
    except (NotADirectoryError, FileNotFoundError) as exc:
        return _fail(str(exc), 2)


def _run_loop(main: Callable[[], Coroutine[Any, Any, int]], loop: str) -> int:
    """Run ``main()`` on the chosen loop. The coroutine is made only once the loop's module is
    imported: a Ctrl-C during that import must not leave it never awaited (a warning)."""
    if loop == "uvloop":
        import uvloop

        run: Callable[[Coroutine[Any, Any, int]], int] = uvloop.run
    else:
        import asyncio

        run = asyncio.run
    coro = main()
    try:
        return run(coro)
    finally:
        coro.close()  # a no-op once it ran; if Ctrl-C came before it started, no warning


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C, possibly wrapped on its way out (a ``KeyboardInterrupt``
    raised inside a class body being built becomes the cause of a ``RuntimeError``)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def cmd_cc(argv: Sequence[str]) -> int:
    from lind_async.toolchain.cc import main as cc_main

    return cc_main(list(argv))


SYSCALLS_HELP = """\
Print RawPOSIX's system-call table: number, name, support level and note, one call a line.

  full         Linux semantics, as far as a cage can observe them
  partial      implemented; the note says what is missing
  unsupported  fails with a fixed errno; the note gives the errno and the reason

Every Linux x86_64 call (and 3i's own, from 1001) has a row. By default only the implemented
calls are listed; --all adds the unsupported ones. docs/syscalls.md is the same table.

examples:
  python -m lind_async syscalls
  python -m lind_async syscalls --all | grep unsupported
"""


def cmd_syscalls(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lind_async syscalls",
        description=SYSCALLS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--all", action="store_true",
        help="also list the unsupported calls, with the errno each fails with and why",
    )
    args = parser.parse_args(argv)
    from lind_async.rawposix.table import Support, load
    from lind_async.threei import ops as threei_ops

    threei_ops.install()  # 3i's own operations are rows too

    table = load()
    width = max(len(entry.name) for entry in table.values())
    hidden = 0
    for entry in sorted(table.values(), key=lambda e: e.number):
        if entry.support is Support.UNSUPPORTED and not args.all:
            hidden += 1
            continue
        line = f"{entry.number:>4}  {entry.name:<{width}}  {entry.support.value:<12} {entry.detail}"
        print(line.rstrip())
    if hidden:
        print(f"({hidden} unsupported calls not shown: --all lists them with their errno and "
              "reason)", file=sys.stderr)
    return 0


BENCH_HELP = """\
Run the benchmark suite (benchmarks/ of a source checkout) and print one combined table.

Every figure is a cage's value beside baselines measured in the same run (the same C program
built natively with gcc -O2, plain wasmtime, node:wasi, processes...) and the ratio
cage / baseline. Each benchmark's `collect()` lives in benchmarks/bench_NAME.py; run one alone
with more options and its own table as `python -m benchmarks.bench_NAME --help`.

benchmarks (all by default, in this order):
{names}

The machine is shared: numbers move with its other load. --quick cuts iteration counts (a smoke
run, well under a minute per benchmark) and its numbers are noisier.

examples:
  python -m lind_async bench --quick
  python -m lind_async bench syscalls grates --json out.json --charts charts/
"""


def _bench_suite() -> Any:
    """``benchmarks.suite`` of the checkout this package lives in (not installed with it)."""
    import importlib

    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    return importlib.import_module("benchmarks.suite")


def cmd_bench(argv: Sequence[str]) -> int:
    try:
        suite = _bench_suite()
    except ImportError as exc:
        return _fail(f"bench needs a source checkout with benchmarks/ ({exc})", 2)
    names: dict[str, str] = suite.BENCHMARKS
    listing = "\n".join(f"  {name:<10} {what}" for name, what in names.items())
    parser = argparse.ArgumentParser(
        prog="python -m lind_async bench",
        description=BENCH_HELP.format(names=listing),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="save the figures and the machine's description (CPU, cores, "
                        "Python/wasmtime versions, date) as JSON")
    parser.add_argument("--charts", type=Path, metavar="DIR",
                        help="draw one PNG bar chart per benchmark into DIR (needs matplotlib: "
                        "pip install 'lind_async[bench]')")
    parser.add_argument("--quick", action="store_true",
                        help="reduced iteration counts: a smoke run, noisier numbers")
    opts = parser.parse_args(argv)
    unknown = [n for n in opts.names if n not in names]
    if unknown:
        print(f"benchmarks:\n{listing}", file=sys.stderr)
        return _fail(f"unknown benchmark {', '.join(map(repr, unknown))}", 2)
    status: int = suite.run(opts.names, quick=opts.quick, json_path=opts.json,
                            charts=opts.charts)
    return status


def cmd_cxx(argv: Sequence[str]) -> int:
    from lind_async.toolchain.driver import main as driver_main

    return driver_main(list(argv), cxx=True)


def cmd_exec(argv: Sequence[str]) -> int:
    """``exec PROGRAM ARGS…``: the launcher the ``#!`` line of lind-cc's output names, so that
    ``./a.out`` runs in a cage as a native program would: ``run --inherit-env`` with the current
    directory as the cage's root."""
    if not argv:
        return _fail("usage: lind-async exec PROGRAM [ARGS...] (how ./a.out runs)", 2)
    return cmd_run(["--inherit-env", "--root", ".", "--", *argv])


COMMANDS = {"run": cmd_run, "exec": cmd_exec, "cc": cmd_cc, "c++": cmd_cxx,
            "syscalls": cmd_syscalls, "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(MAIN_HELP, end="")
        return 0 if args else 2
    if args[0] == "--version":
        print(f"lind_async {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(MAIN_HELP, end="", file=sys.stderr)
        return _fail(f"unknown command {args[0]!r}", 2)
    if command is cmd_run or command is cmd_exec:
        hold_gc()  # until the cage has started
    try:
        return command(args[1:])
    except BrokenPipeError:  # e.g. `syscalls | head`
        sys.stderr.close()
        return 141
    except BaseException as exc:  # Ctrl-C before a cage runs (compiling, loading): as the shell's
        if _interrupted(exc):
            return 130
        raise
    finally:
        resume_gc()  # (a run that never started its cage)
