"""Python grates over real C programs: strace, seccomp, readonly, and the Grate API itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lind_async.abi import errno as E
from lind_async.runtime.world import World, default_cache_dir
from lind_async.threei.python_grates import Call, Forward, Grate, GrateError, handles
from lind_async.wasm.engine import EngineConfig

from .conftest import run_cage

UID = 777


def microvisor(root: Path) -> World:
    config = EngineConfig(time_slice=0.005, cache_dir=default_cache_dir() / "modules")
    return World(root=root, engine_config=config)


@pytest.fixture
def client(cage_program: Any) -> Path:
    path: Path = cage_program("grate_client")
    return path


# ------------------------------------------------------------------------------ the CLI grates
def test_strace_lines(client: Path, root: Path) -> None:
    (root / "in.txt").write_bytes(b"abc")
    r = run_cage(client, ["trace"], root=root, extra=["--grate", "strace"])
    assert r.status == 0, r.stderr
    assert r.stdout == b"done\n"
    lines = r.stderr.decode().splitlines()
    expected = [  # one process: no "[pid N]" prefix (strace -f's rule)
        'open("/in.txt", O_RDONLY) = 3',
        'read(3, "abc", 100) = 3',
        "close(3) = 0",
        'open("/missing", O_RDONLY) = -1 ENOENT (No such file or directory)',
        'write(1, "done\\n", 5) = 5',
        "exit_group(0) = ?",
        "+++ exited with 0 +++",
    ]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected


def test_strace_to_a_file_and_children(client: Path, root: Path) -> None:
    """In a file, every line starts with the cage's pid (``strace -f -o FILE``'s layout)."""
    log = root.parent / "trace.txt"
    r = run_cage(client, ["fork"], root=root, extra=["--grate", f"strace:{log}"])
    assert r.status == 0, r.stderr
    lines = [line.split(maxsplit=1) for line in log.read_text().splitlines()]
    assert all(pid.isdigit() for pid, _ in lines), lines
    forks = [int(text.split(" = ")[1]) for pid, text in lines if text.startswith("fork() = ")]
    assert len(forks) == 1, lines
    child = str(forks[0])
    assert any(pid == child and text.startswith("getuid() = ") for pid, text in lines), lines
    assert [child, "exit_group(0) = ?"] in lines and [child, "+++ exited with 0 +++"] in lines


def test_seccomp_deny_with_errno(client: Path, root: Path) -> None:
    (root / "ro").mkdir()
    (root / "ro" / "f.txt").write_text("x")
    policy = root.parent / "policy"
    policy.write_text(
        "# writes are refused, reads allowed\n"
        "deny open if arg1 & O_WRONLY|O_RDWR -> EACCES\n"
        "deny openat if arg2 & O_WRONLY|O_RDWR -> EACCES\n"
        "deny unlink, unlinkat\n"
    )
    r = run_cage(client, ["fs"], root=root, extra=["--grate", f"seccomp:{policy}"])
    out = r.stdout.decode()
    assert "read ro/f.txt: ok" in out
    assert "open ro/f.txt O_WRONLY: EACCES" in out
    assert "create ro/new: EACCES" in out
    assert "unlink ro/f.txt: EPERM" in out
    assert "mkdir ro/d: ok" in out
    assert (root / "ro" / "f.txt").exists() and not (root / "ro" / "new").exists()


def test_seccomp_kill(client: Path, root: Path) -> None:
    policy = root.parent / "policy"
    policy.write_text("deny mkdir, mkdirat -> kill\n")
    r = run_cage(client, ["fs"], root=root, extra=["--grate", f"seccomp:{policy}"])
    assert r.status == 128 + 31  # SIGSYS
    out = r.stdout.decode()
    assert "unlink ro/f.txt: ENOENT" in out and "mkdir ro/d" not in out


def test_seccomp_bad_policy_is_reported(client: Path, root: Path) -> None:
    policy = root.parent / "policy"
    policy.write_text("deny frobnicate\n")
    r = run_cage(client, ["fs"], root=root, extra=["--grate", f"seccomp:{policy}"])
    assert r.status == 2 and b"policy line 1" in r.stderr


def test_readonly_under_a_path(client: Path, root: Path) -> None:
    (root / "ro" / "sub").mkdir(parents=True)
    (root / "ro" / "f.txt").write_text("hi\n")
    (root / "rw").mkdir()
    (root / "rw" / "y").write_text("y\n")
    (root / "rw" / "link").symlink_to("../ro/f.txt")
    r = run_cage(client, ["fs"], root=root, extra=["--grate", "readonly:/ro"])
    assert r.status == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "read ro/f.txt: ok",
        "open ro/f.txt O_WRONLY: EROFS",
        "open ro/f.txt O_RDWR: EROFS",
        "create ro/new: EROFS",
        "unlink ro/f.txt: EROFS",
        "mkdir ro/d: EROFS",
        "rmdir ro/sub: EROFS",
        "rename ro/f.txt rw/x: EROFS",
        "rename rw/y ro/y: EROFS",
        "open rw/link O_WRONLY: EROFS",  # a symlink into the read-only tree
        "create rw/new: ok",
        "mkdir rw/d: ok",
        "rename rw/new rw/d/moved: ok",
        "unlink rw/d/moved: ok",
        "rmdir rw/d: ok",
        "chdir ro: ok",
        "open f.txt O_WRONLY: EROFS",  # relative to the cwd
        "open ../rw/y O_WRONLY: ok",
    ]
    assert (root / "ro" / "f.txt").read_text() == "hi\n" and (root / "ro" / "sub").is_dir()


def test_cli_stack_order(client: Path, root: Path) -> None:
    """strace outermost sees the program's calls; innermost it sees what readonly forwards."""
    (root / "ro").mkdir()
    (root / "ro" / "f.txt").write_text("x")
    strace, readonly = ["--grate", "strace"], ["--grate", "readonly:/ro"]
    outer = run_cage(client, ["fs"], root=root, extra=strace + readonly)
    inner = run_cage(client, ["fs"], root=root, extra=readonly + strace)
    assert b'unlink("ro/f.txt") = -1 EROFS' in outer.stderr
    assert b'unlink("ro/f.txt")' not in inner.stderr  # refused above it: never reached
    assert b'unlink("rw/d/moved") = ' in inner.stderr


# ------------------------------------------------------------------------------ the API
class Memory(Grate):
    """Reads and writes the caller's memory, and forwards with a replaced path."""

    def sys_getcwd(self, call: Call) -> int:
        answer = b"/grated\0"
        if call.u64(1) < len(answer):
            raise GrateError(E.ERANGE)
        call.write(0, answer)
        return len(answer)

    @handles("writev", "write")
    async def shout(self, call: Call) -> int:
        if call.fd(0) != 1 or call.name != "write":
            return await call.forward()
        data = call.read(1, call.u64(2))
        return await call.forward(buffers={1: data.upper()})

    @handles("open", "openat")
    def alias(self, call: Call) -> int | Forward:
        index = 0 if call.name == "open" else 1
        if call.path(index) == b"/alias":
            return call.forward(buffers={index: b"/real.txt\0"})
        return call.forward()


def run(root: Path, coro_fn: Any) -> Any:
    async def main() -> Any:
        async with microvisor(root) as mv:
            return await coro_fn(mv)

    return asyncio.run(main())


def test_handler_reads_writes_memory_and_replaces_a_path(
    client: Path, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (root / "real.txt").write_text("the real file")

    async def go(mv: World) -> int:
        return await mv.run(client, ["client", "mem"], grates=[Memory()])

    status = run(root, go)
    out = capfd.readouterr().out
    assert status == 0
    assert "cwd=/grated\n" in out  # written into the caller's memory by the grate
    assert "alias holds [the real file]\n" in out  # /alias opened as /real.txt
    assert "HELLO, GRATE\n" in out  # write(2) forwarded with a buffer of the grate's


class Uid(Grate):
    def __init__(self, uid: int = UID) -> None:
        self.uid = uid
        self.callers: list[int] = []

    def sys_getuid(self, call: Call) -> int:
        self.callers.append(call.caller)
        return self.uid


def test_forked_child_inherits_routes(
    client: Path, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    grate = Uid()

    async def go(mv: World) -> int:
        return await mv.run(client, ["client", "fork"], grates=[grate])

    assert run(root, go) == 0
    out = capfd.readouterr().out
    assert f"child uid={UID}" in out and f"parent uid={UID} child status=0" in out
    assert len(set(grate.callers)) == 2  # the parent and the child, each under its own id


class Tag(Grate):
    def __init__(self, tag: str, seen: list[str]) -> None:
        self.tag, self.seen = tag, seen

    async def sys_getuid(self, call: Call) -> int:
        self.seen.append(self.tag)
        return await call.forward() + (1 if self.tag == "inner" else 1000)


def test_two_python_grates_stack_in_order(
    client: Path, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    seen: list[str] = []
    base = Uid(5)

    async def go(mv: World) -> int:
        grates = [Tag("outer", seen), Tag("inner", seen), base]
        return await mv.run(client, ["client", "uid"], grates=grates)

    assert run(root, go) == 0
    assert seen == ["outer", "inner"]
    assert "uid=1006" in capfd.readouterr().out  # 5 from the bottom, +1 inner, +1000 outer


def test_naming_an_unrelated_cage_is_eperm(client: Path, root: Path, cage_program: Any) -> None:
    results: list[int] = []

    class Prober(Grate):
        other = 0

        async def sys_getuid(self, call: Call) -> int:
            results.append(await call.forward(target=self.other))
            results.append(await call.forward(owners=[self.other] * 6))
            results.append(await call.forward())
            return results[-1]

    prober = Prober()

    async def go(mv: World) -> None:
        bystander = mv.spawn(cage_program("sleep"), ["sleep", "200"])
        prober.other = bystander.cage_id
        await mv.run(client, ["client", "uid"], grates=[prober])
        await bystander.exited.wait()

    run(root, go)
    assert results[:2] == [-E.EPERM, -E.EPERM] and results[2] >= 0


def test_one_grate_serves_several_cages_concurrently(
    client: Path, root: Path, cage_program: Any
) -> None:
    events: list[tuple[str, int]] = []

    class Watch(Grate):
        @handles("nanosleep", "clock_nanosleep")
        async def sleep(self, call: Call) -> int:
            events.append(("sleep-start", call.caller))
            result = await call.forward()
            events.append(("sleep-end", call.caller))
            return result

        async def sys_getuid(self, call: Call) -> int:
            await asyncio.sleep(0.05)  # the grate itself waits: only this caller waits
            events.append(("getuid", call.caller))
            return await call.forward()

    watch = Watch()

    async def go(mv: World) -> None:
        sleeper = mv.spawn(cage_program("sleep"), ["sleep", "400"], grates=[watch])
        await asyncio.sleep(0.2)  # the sleeper is inside nanosleep, through the grate
        other = mv.spawn(client, ["client", "uid"], grates=[watch])
        await other.exited.wait()
        events.append(("other-exited", other.cage_id))
        await sleeper.exited.wait()
        assert sleeper.status == 0 and other.status == 0

    run(root, go)
    names = [name for name, _ in events]
    assert names.index("sleep-start") < names.index("getuid") < names.index("other-exited")
    assert names.index("other-exited") < names.index("sleep-end")


def test_grate_bug_gives_eio_and_the_cage_lives(
    client: Path, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    class Broken(Grate):
        def sys_getcwd(self, call: Call) -> int:
            raise RuntimeError("oops")

    async def go(mv: World) -> int:
        return await mv.run(client, ["client", "mem"], grates=[Broken()])

    assert run(root, go) == 0
    captured = capfd.readouterr()
    assert "cwd=(error)" in captured.out and "handler for getcwd failed" in captured.err


# ------------------------------------------------------------------------------ with wasm grates
@pytest.fixture(scope="session")
def c_strace() -> Path:
    """``lind_async/grates/strace.c`` built with ``cc --grate`` (cached by content)."""
    from lind_async.toolchain.cc import compile_cached

    source = Path(__file__).resolve().parents[2] / "lind_async" / "grates" / "strace.c"
    if not source.is_file():
        pytest.skip("no C strace grate in lind_async/grates/")
    return compile_cached(source, flags=["--grate"])


def test_python_grate_below_a_wasm_grate(c_strace: Path, client: Path, root: Path) -> None:
    """The C strace forwards through its own table, which routes getuid to the Python grate."""
    (root / "client.wasm").write_bytes(client.read_bytes())
    (root / "client.wasm").chmod(0o755)
    user = root.parent / "uid.py"
    user.write_text(
        "from lind_async import Grate\n"
        "class Uid(Grate):\n"
        "    def sys_getuid(self, call):\n"
        "        return 777\n"
    )
    extra = ["--grate", f"{user}:Uid"]
    r = run_cage(c_strace, ["--", "/client.wasm", "uid"], root=root, extra=extra)
    assert r.status == 0, r.stderr
    assert r.stdout == b"uid=777\n"
    assert b"getuid() = 777" in r.stderr  # seen by the C strace above the Python grate


def test_python_grate_above_a_wasm_grate(
    c_strace: Path, cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A Python grate attached to a cage whose table already routes to a wasm grate forwards
    into it."""
    (root / "sleep.wasm").write_bytes(cage_program("sleep").read_bytes())
    (root / "sleep.wasm").chmod(0o755)
    seen: list[int] = []

    class Writes(Grate):
        async def sys_writev(self, call: Call) -> int:
            seen.append(call.caller)
            return await call.forward()

    async def go(mv: World) -> None:
        grate = mv.spawn(c_strace, ["strace", "--", "/sleep.wasm", "300"])
        app = None
        for _ in range(5000):  # the child once it has exec'd (its table routes to the C grate)
            await asyncio.sleep(0.001)
            if grate.status is not None:
                break
            app = next((c for c in mv.cages.values() if c.argv[:1] == [b"/sleep.wasm"]), None)
            if app is not None:
                break
        assert app is not None, "the C strace never ran /sleep.wasm"
        assert mv.threei.route(app.cage_id, 20) is not None  # writev -> the C strace
        Writes().attach(mv, app.cage_id)
        await grate.exited.wait()
        assert grate.status == 0

    run(root, go)
    captured = capfd.readouterr()
    assert "slept enough: 1" in captured.out
    assert seen and "writev(1, " in captured.err  # the Python grate forwarded into the C one
