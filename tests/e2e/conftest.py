"""End-to-end harness: C programs built with `lind_async cc` and run in cages, compared with the
same sources built natively by the host's gcc."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.e2e import inprocess

PROGRAMS = Path(__file__).parent / "programs"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    status: int  # shell-style: exit code, or 128+N when killed by signal N
    stdout: bytes
    stderr: bytes


def _shell_status(code: int) -> int:
    return 128 - code if code < 0 else code


@pytest.fixture(scope="session")
def cage_program() -> object:
    """Compile ``programs/NAME.c`` for a cage (cached by content); returns the .wasm path."""
    from lind_async.toolchain.cc import compile_cached

    def build(name: str) -> Path:
        return compile_cached(PROGRAMS / f"{name}.c")

    return build


@pytest.fixture(scope="session")
def native_program(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Compile ``programs/NAME.c`` with the host's gcc."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("a native C compiler (gcc) is required for the comparison tests")
    out_dir = tmp_path_factory.mktemp("native")
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            exe = out_dir / name
            subprocess.run(
                [gcc, "-O1", "-w", "-o", str(exe), str(PROGRAMS / f"{name}.c"), "-lm"], check=True
            )
            built[name] = exe
        return built[name]

    return build


def _stdin(data: bytes | None) -> dict[str, Any]:
    return {"stdin": subprocess.DEVNULL} if data is None else {"input": data}


def run_cage(
    wasm: Path,
    args: list[str],
    *,
    root: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    extra: list[str] | None = None,
    stdin: bytes | None = None,
    process: bool = False,
) -> Result:
    """``python -m lind_async run --root ROOT [--env K=V]... EXTRA... WASM ARGS...``: its exit
    status, stdout and stderr. It runs in this process on the session's shared engine
    (``tests/e2e/inprocess.py``) unless ``process`` is set (a test of the ``run`` process
    itself), the CLI would refuse it before running it, or ``LIND_TESTS_PROCESS=1``."""
    argv = ["--root", str(root)]
    for k, v in (env or {}).items():
        argv += ["--env", f"{k}={v}"]
    argv += extra or []
    argv += [str(wasm), *args]
    if not process and not inprocess.forced_process():
        outcome = inprocess.run(argv, stdin=stdin, timeout=timeout)
        if outcome is not None:
            return Result(outcome.status, outcome.stdout, outcome.stderr)
    cmd = [sys.executable, "-m", "lind_async", "run", *argv]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=REPO, **_stdin(stdin))
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_native(
    exe: Path,
    args: list[str],
    *,
    root: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> Result:
    proc = subprocess.run(
        [str(exe), *args],
        capture_output=True,
        timeout=120,
        cwd=root,
        env=env or {},
        **_stdin(stdin),
    )
    return Result(_shell_status(proc.returncode), proc.stdout, proc.stderr)


# Grate stacks the compare-with-native suites run their programs under: none, the Python
# pass-through grate (`--grate passthrough`), and the C one (lind_async/grates/passthrough.c),
# which forks and
# execs the program from the cage root's /bin.
STACKS = ["plain", "py-passthrough", "c-passthrough"]


@pytest.fixture(scope="session")
def passthrough_grate() -> Path:
    from lind_async.toolchain.cc import compile_cached

    return compile_cached(REPO / "lind_async" / "grates" / "passthrough.c", flags=["--grate"])


def run_stacked(
    stack: str,
    wasm: Path,
    args: list[str],
    *,
    root: Path,
    grate: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> Result:
    """``run_cage`` under a grate stack of :data:`STACKS`. For the C pass-through the program is
    copied into ``root/bin`` (give the native run's root a ``bin`` too: :func:`prepare_root`)."""
    if stack == "plain":
        return run_cage(wasm, args, root=root, env=env, stdin=stdin)
    if stack == "py-passthrough":
        return run_cage(
            wasm, args, root=root, env=env, stdin=stdin, extra=["--grate", "passthrough"]
        )
    assert stack == "c-passthrough", stack
    program = root / "bin" / wasm.name
    shutil.copyfile(wasm, program)
    program.chmod(0o755)
    return run_cage(grate, [f"/bin/{wasm.name}", *args], root=root, env=env, stdin=stdin)


def prepare_root(stack: str, root: Path) -> None:
    """Create ``root`` (and its ``bin`` for the C pass-through, so listings match)."""
    root.mkdir()
    if stack == "c-passthrough":
        (root / "bin").mkdir()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def install(program: Path, destination: Path) -> None:
    """Put ``program`` in a root as an executable named ``destination``."""
    shutil.copyfile(program, destination)
    destination.chmod(0o755)


def assert_matches_native(
    name: str,
    args: list[str],
    stack: str,
    *,
    cage_program: Any,
    native_program: Any,
    grate: Path,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    extras: Sequence[str] = (),
    quiet: bool = False,
) -> None:
    """Run ``programs/NAME.c`` natively and in a cage (under ``stack``), each in a fresh root
    holding ``extras`` as executables, and require the same stdout and exit status (and, with
    ``quiet``, nothing on the cage's stderr; never a Python traceback)."""
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    prepare_root(stack, native_root)
    prepare_root(stack, cage_root)
    for extra in extras:
        install(native_program(extra), native_root / extra)
        install(cage_program(extra), cage_root / extra)
    expected = run_native(native_program(name), args, root=native_root, env=env, stdin=stdin)
    got = run_stacked(
        stack, cage_program(name), args, root=cage_root, env=env, stdin=stdin, grate=grate
    )
    detail = got.stderr.decode(errors="replace")
    assert got.stdout == expected.stdout, detail
    assert got.status == expected.status, detail
    assert b"Traceback" not in got.stderr, detail
    if quiet:
        assert got.stderr == b"", detail


class MatchesNative(Protocol):
    def __call__(
        self, name: str, stack: str, *, args: Sequence[str] = (), **options: Any
    ) -> None: ...


@pytest.fixture
def matches_native(
    cage_program: Any, native_program: Any, passthrough_grate: Path, tmp_path: Path
) -> MatchesNative:
    """:func:`assert_matches_native` bound to this test's program builders, pass-through grate
    and temporary directory: ``matches_native(name, stack, args=[...], env=..., quiet=True)``."""

    def check(name: str, stack: str, *, args: Sequence[str] = (), **options: Any) -> None:
        assert_matches_native(
            name,
            list(args),
            stack,
            cage_program=cage_program,
            native_program=native_program,
            grate=passthrough_grate,
            tmp_path=tmp_path,
            **options,
        )

    return check
