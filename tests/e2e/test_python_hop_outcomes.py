"""Every outcome of a Python grate's handler, reached through another Python grate's forward,
gives the same answer on the native Python hop (``native/grate_python.c``: ``route._run`` and
the native ``Call.forward``) and on the pure-Python one (``LIND_ASYNC_PYTHON_ENTRY=1``): an
int at once, an int after a real wait, a plain ``def`` returning a ``Forward``, ``GrateError``
before and after a wait, a bug (``EIO``, logged), a result that is not an int (``EIO``), an exit
forwarded down the stack (the cage's exit status), and ``call.kill`` (the cage is killed).

The C program is programs/grates/outcomes_app.c; the grates are the classes below, stacked with
``--grate`` (``Outer`` forwards every call to ``Inner``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from lind_async.abi.errno import EACCES, EPERM
from lind_async.threei.python_grates import Call, Forward, Grate, GrateError, handles
from tests.e2e.test_grate_hops import entry_env

HERE = Path(__file__).resolve()
APP = HERE.parent / "programs" / "grates" / "outcomes_app.c"


class Outer(Grate):
    """Forwards every call unchanged (``async def``): each reaches ``Inner`` by the forward's
    inline hop (the native ``Call.forward``); ``access`` with its arguments given (the Python
    method's general path)."""

    @handles("access", "faccessat", "faccessat2")
    async def access(self, call: Call) -> int:
        return await call.forward(args=list(call.args))

    async def syscall(self, call: Call) -> int:
        return await call.forward()


class Inner(Grate):
    """One outcome per call; everything else forwarded."""

    async def sys_geteuid(self, call: Call) -> int:
        await asyncio.sleep(0.001)  # a real wait: the hop hands the rest back
        return 4242

    def sys_getegid(self, call: Call) -> Forward:
        return call.forward()

    async def sys_chdir(self, call: Call) -> int:
        raise GrateError(EACCES)

    def sys_rmdir(self, call: Call) -> int:
        raise RuntimeError("a bug in the grate")

    async def sys_mkdir(self, call: Call) -> int:
        return "not an int"  # type: ignore[return-value]

    async def sys_unlink(self, call: Call) -> int:
        await asyncio.sleep(0)
        raise GrateError(EPERM)

    def sys_getppid(self, call: Call) -> int:
        return call.kill(9)

    async def syscall(self, call: Call) -> int:
        return await call.forward()


EXPECTED = [
    "geteuid-waits 4242 0",
    "getegid-plain 1 0",
    f"chdir-errno -1 {EACCES}",
    "rmdir-bug -1 5",
    "mkdir-not-an-int -1 5",
    f"unlink-waits-then-errno -1 {EPERM}",
    "getpid-forwarded 1 0",
    "access-forwarded-with-args 0 0",
] * 3


@pytest.fixture(scope="module")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lind_async.toolchain.cc import compile_cached

    root = tmp_path_factory.mktemp("outcomes")
    (root / "bin").mkdir()
    (root / "bin" / "app.wasm").write_bytes(compile_cached(APP).read_bytes())
    return root


@pytest.mark.parametrize("entry", ["native", "python"])
@pytest.mark.parametrize("end", ["exit", "kill"])
def test_every_handler_outcome_through_a_forward(entry: str, end: str, app_root: Path) -> None:
    grates = [arg for cls in ("Outer", "Inner") for arg in ("--grate", f"{HERE}:{cls}")]
    argv = ["bin/app.wasm", *([end] if end == "kill" else [])]
    out = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(app_root), *grates, *argv],
        capture_output=True, text=True, check=False, env=entry_env(entry), cwd=app_root,
        timeout=120,
    )
    assert out.stdout.splitlines() == EXPECTED, out.stderr
    assert out.returncode == (3 if end == "exit" else 128 + 9), out.stderr
    assert out.stderr.count("handler for rmdir failed") == 3
    assert out.stderr.count("handler for mkdir failed") == 3
