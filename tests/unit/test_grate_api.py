"""The Python grate API without wasm: handler tables, the registry, policies, decoders."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.threei.python_grates import (
    Call,
    Grate,
    all_numbers,
    handles,
    load_grate,
    syscall_number,
)
from lind_async.threei.tables import ThreeI
from lind_async.wasm.eager import Resume


def fake_call(number: int, *args: int, caller: int = 3) -> Call:
    padded = (*args, *([0] * (6 - len(args))))
    origin: Any = SimpleNamespace(cage_id=caller)
    return Call(Grate(), Any, origin, number, padded, (caller,) * 6)  # type: ignore[arg-type]


class Example(Grate):
    def sys_openat(self, call: Call) -> int:
        return 1

    @handles("getuid", nr.SYS_getgid)
    def ids(self, call: Call) -> int:
        return 2


class Everything(Grate):
    def syscall(self, call: Call) -> int:
        return 0


def test_handlers_by_name_and_decorator() -> None:
    assert set(Example().numbers()) == {nr.SYS_openat, nr.SYS_getuid, nr.SYS_getgid}
    assert Everything().numbers() == all_numbers()
    assert syscall_number("SYS_read") == 0 and syscall_number("openat") == nr.SYS_openat
    with pytest.raises(ValueError):
        syscall_number("frobnicate")


def test_attach_copies_the_table_below_and_routes_the_cage() -> None:
    mv: Any = SimpleNamespace(threei=ThreeI(), python_grates={}, _ids=iter(range(10, 20)))
    mv.new_id = lambda: next(mv._ids)
    mv.threei.add_cage(1)
    inner, outer = Example(), Example()
    inner_id = inner.attach(mv, 1)
    outer_id = outer.attach(mv, 1)
    assert mv.threei.route(1, nr.SYS_openat).handler_cage == outer_id
    assert mv.threei.route(outer_id, nr.SYS_openat).handler_cage == inner_id
    assert mv.threei.route(inner_id, nr.SYS_openat) is None
    outer.detach(mv, 1)
    assert mv.threei.route(1, nr.SYS_openat).handler_cage == inner_id
    assert mv.python_grates == {inner_id: inner, outer_id: outer}


def test_call_accessors() -> None:
    call = fake_call(nr.SYS_openat, F.AT_FDCWD & 0xFFFFFFFF, 0x1000, -1)
    assert call.name == "openat" and call.caller == 3
    assert call.fd(0) == F.AT_FDCWD and call.int(2) == -1 and call.u64(2) == 2**64 - 1
    assert call.ptr(1) == 0x1000


def test_resume_passes_suspensions_values_and_errors_through() -> None:
    async def handler(fut: asyncio.Future[int]) -> int:
        return await fut + 1

    async def main() -> int:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        steps = handler(fut).__await__()
        first = steps.send(None)  # the eager first step suspends on fut
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 41)
        return int(await Resume(steps, first))

    assert asyncio.run(main()) == 42


def test_registry_builtin_file_and_errors(tmp_path: Path) -> None:
    assert type(load_grate("strace")).__name__ == "Strace"
    assert load_grate("readonly:/data").path == b"/data"  # type: ignore[attr-defined]
    user = tmp_path / "mine.py"
    user.write_text(
        "from lind_async import Grate\n"
        "class Mine(Grate):\n"
        "    def __init__(self, arg=None):\n"
        "        self.arg = arg\n"
    )
    grate = load_grate(f"{user}:Mine:hello")
    assert type(grate).__name__ == "Mine" and grate.arg == "hello"  # type: ignore[attr-defined]
    for bad in ("nosuch", f"{user}:Missing", "readonly", "seccomp"):
        with pytest.raises(ValueError):
            load_grate(bad)


def test_seccomp_policy() -> None:
    from lind_async.grates.seccomp import KILL, Policy, PolicyError

    policy = Policy.parse(
        "# comment\n"
        "allow write if arg0 == 1\n"
        "deny write -> EBADF\n"
        "deny openat if arg2 & O_WRONLY|O_RDWR and arg0 == AT_FDCWD -> EACCES\n"
        "deny mkdir -> kill\n"
    )
    assert policy.numbers() == {nr.SYS_write, nr.SYS_openat, nr.SYS_mkdir}
    assert policy.decide(fake_call(nr.SYS_write, 1)).allow
    assert policy.decide(fake_call(nr.SYS_write, 2)).action == 9  # EBADF
    cwd = F.AT_FDCWD & 0xFFFFFFFFFFFFFFFF
    assert policy.decide(fake_call(nr.SYS_openat, cwd, 0, F.O_WRONLY)).action == 13
    assert policy.decide(fake_call(nr.SYS_openat, cwd, 0, F.O_RDONLY)).allow
    assert policy.decide(fake_call(nr.SYS_openat, 5, 0, F.O_RDWR)).allow
    assert policy.decide(fake_call(nr.SYS_mkdir)).action == KILL
    assert Policy.parse("default deny -> kill").numbers() == all_numbers()
    bad_lines = ("deny frob", "deny write if arg9 == 1", "allow read -> EPERM", "deny read -> EX")
    for bad in bad_lines:
        with pytest.raises(PolicyError):
            Policy.parse(bad)


def test_strace_decoders() -> None:
    from lind_async.grates.strace import open_flags, quote, result_text

    assert open_flags(F.O_WRONLY | F.O_CREAT | F.O_TRUNC) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert open_flags(F.O_RDONLY | F.O_CLOEXEC | F.O_DIRECTORY) == "O_RDONLY|O_DIRECTORY|O_CLOEXEC"
    assert quote(b'a"b\n\x00' + b"1") == '"a\\"b\\n\\0001"'
    assert quote(b"\x00" + b"9") == '"\\09"'  # 3 octal digits only before an octal digit
    assert quote(b"abc", truncated=True) == '"abc"...'
    assert result_text("open", -2) == "-1 ENOENT (No such file or directory)"
    assert result_text("read", 3) == "3"


def test_strace_structures() -> None:
    """``struct stat``, wait statuses, termios and siginfo in strace's notation (as the real
    strace 6 prints them)."""
    from lind_async.abi import layouts
    from lind_async.grates.strace_notation import signal_info, stat_text, termios_text, wait_status

    regular = layouts.STAT.pack(st_mode=0o100644, st_size=14, st_ino=99)
    assert stat_text(regular) == "{st_mode=S_IFREG|0644, st_size=14, ...}"
    tty = layouts.STAT.pack(st_mode=0o20620, st_rdev=0x8800)
    assert stat_text(tty) == "{st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0), ...}"
    sticky = layouts.STAT.pack(st_mode=0o41777, st_size=4096)
    assert stat_text(sticky) == "{st_mode=S_IFDIR|S_ISVTX|0777, st_size=4096, ...}"
    assert wait_status(3 << 8) == "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"
    assert wait_status(9) == "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]"
    assert wait_status(0x8B) == "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"
    assert wait_status(0x137F) == "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"
    cooked = layouts.TERMIOS.pack(c_cflag=0o17, c_oflag=1, c_lflag=0o13)
    assert termios_text(cooked) == "{B38400 opost isig icanon echo ...}"
    assert signal_info(17, 5, 0, 3 << 8) == (
        "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=5, si_uid=0, si_status=3, si_utime=0, "
        "si_stime=0}"
    )
    assert "si_code=CLD_KILLED" in signal_info(17, 5, 0, 9)
    assert "si_status=SIGKILL" in signal_info(17, 5, 0, 9)
    assert signal_info(10, 4, 1000, None) == (
        "{si_signo=SIGUSR1, si_code=SI_USER, si_pid=4, si_uid=1000}"
    )


def test_strace_plans_split_at_the_first_output() -> None:
    """What is shown when a call starts (``Plan.head``) and what once it returns."""
    from lind_async.grates.strace_decode import Plan

    read = Plan(fake_call(nr.SYS_read, 3, 0x1000, 100))
    assert read.head == "read(3, "
    assert read.tail(-11) == "0x1000, 100"  # failed: the buffer is only a pointer
    tcgets = Plan(fake_call(nr.SYS_ioctl, 0, F.TCGETS, 0x2000))
    assert tcgets.head + tcgets.tail(-25) == "ioctl(0, TCGETS, 0x2000"
    fionread = Plan(fake_call(nr.SYS_ioctl, 4, F.FIONREAD, 0))
    assert fionread.head + fionread.tail(0) == "ioctl(4, FIONREAD, NULL"
    wait = Plan(fake_call(nr.SYS_wait4, 7, 0, 1, 0))
    assert wait.head + wait.tail(0) == "wait4(7, NULL, WNOHANG, NULL"
    pipe2 = Plan(fake_call(nr.SYS_pipe2, 0x3000, F.O_CLOEXEC))
    assert pipe2.head == "pipe2(" and pipe2.tail(-24) == "0x3000, O_CLOEXEC"
    lseek = Plan(fake_call(nr.SYS_lseek, 3, 2, 0))
    assert lseek.head + lseek.tail(2) == "lseek(3, 2, SEEK_SET"
    unknown = Plan(fake_call(9999, 1, 2))
    assert unknown.head == "syscall_0x270f(0x1, 0x2, 0, 0, 0, 0"


def test_strace_lines_interleave_like_strace() -> None:
    """A call cut by another process's line: ``<unfinished ...>`` then ``<... resumed>``; the
    ``[pid N]`` prefix only while two processes are traced; one line when nothing cuts in."""
    import io

    from lind_async.grates.strace_lines import TraceLines

    out = io.StringIO()
    lines = TraceLines(out, to_file=False)
    alone = lines.enter(1, "getpid", "getpid(")
    lines.finish(alone, "", "1")
    read = lines.enter(1, "read", "read(3, ")
    write = lines.enter(17, "write", 'write(4, "abc", 3')
    lines.finish(write, "", "3")
    lines.finish(read, '"abc", 100', "3")
    lines.event(17, "+++ exited with 0 +++")
    lines.live.discard(17)
    lines.event(1, "--- SIGCHLD {si_signo=SIGCHLD} ---")
    assert out.getvalue().splitlines() == [
        "getpid() = 1",
        "[pid     1] read(3,  <unfinished ...>",
        '[pid    17] write(4, "abc", 3) = 3',
        '[pid     1] <... read resumed>"abc", 100) = 3',
        "[pid    17] +++ exited with 0 +++",
        "--- SIGCHLD {si_signo=SIGCHLD} ---",
    ]
    to_file = io.StringIO()
    in_file = TraceLines(to_file, to_file=True)
    killed = in_file.enter(1, "read", "read(0, ")
    in_file.abandon(killed)
    cut = in_file.enter(2, "wait4", "wait4(5, ")
    in_file.event(1, "+++ killed by SIGKILL +++")
    in_file.abandon(cut)
    assert to_file.getvalue().splitlines() == [
        "1     read(0,  <unfinished ...>) = ?",
        "2     wait4(5,  <unfinished ...>",
        "1     +++ killed by SIGKILL +++",
        "2     <... wait4 resumed> <unfinished ...>) = ?",
    ]


def test_strace_sees_unknown_numbers() -> None:
    from lind_async.grates.strace import Strace
    from lind_async.threei.tables import UNKNOWN_CALLS

    assert UNKNOWN_CALLS in set(Strace().numbers())


def test_readonly_resolution(tmp_path: Path) -> None:
    from lind_async.grates.readonly import _walk

    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    (tmp_path / "rw" / "rel").symlink_to("../ro")
    (tmp_path / "rw" / "abs").symlink_to("/ro/x")
    root = bytes(tmp_path)
    assert _walk(root, b"/rw/rel/f", True) == b"/ro/f"
    assert _walk(root, b"/rw/abs", True) == b"/ro/x"
    assert _walk(root, b"/rw/abs", False) == b"/rw/abs"
    assert _walk(root, b"/../../ro/./f", True) == b"/ro/f"
