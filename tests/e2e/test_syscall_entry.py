"""``lind.syscall``'s two trampolines (runtime/syscall_entry.py): the C one (the default when it
builds) and the pure-Python fallback (``LIND_ASYNC_PYTHON_ENTRY=1``) give the same answers, each
checked against the program built natively. Each runs as its own ``python -m lind_async run``
process, since the trampoline is chosen when the runtime is imported."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, run_native

# Results, errors (EFAULT for a bad or NULL pointer, EBADF, ENOSYS), reads and writes of files,
# signals delivered on a call's return, a crash, bulk TCP (sends the host takes in part, a reset
# reported once), pipes at the edges of the C trampoline's pipe path: both trampolines, compared
# with native.
PROGRAMS = [("badinput", []), ("files", []), ("signals", []), ("crash", ["trap"]),
            ("sock_tcp_bulk", []), ("fastpipe", [])]


@pytest.mark.parametrize("entry", ["native", "python"])
@pytest.mark.parametrize(("name", "args"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_both_trampolines_match_native(
    entry: str, name: str, args: list[str], tmp_path: Path, cage_program: Any,
    native_program: Any,
) -> None:
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    expected = run_native(native_program(name), args, root=native_root)
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    got = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(cage_root),
         str(cage_program(name)), *args],
        capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )
    status = 128 - got.returncode if got.returncode < 0 else got.returncode
    assert (status, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert b"Traceback" not in got.stderr


@pytest.mark.parametrize("entry", ["native", "python"])
def test_the_trampoline_in_use(entry: str) -> None:
    """The C trampoline is what a cage gets here (zig builds it), and the variable selects
    Python's."""
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    probe = ("from lind_async.runtime import syscall_entry as e, world; "
             "e.trampoline(world.default_cache_dir()); print(e.native())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True).stdout.strip()
    assert out == ("True" if entry == "native" else "False")


# -- small file I/O answered by the C trampoline itself (rawposix/fastio.py) -------------------
def _fastio_roots(tmp_path: Path, cage_program: Any, native_program: Any) -> tuple[Path, Path]:
    """A native root and a cage root, each holding the program as ``./fastio`` (it execs
    itself)."""
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    shutil.copy(native_program("fastio"), native_root / "fastio")
    shutil.copy(cage_program("fastio"), cage_root / "fastio")
    return native_root, cage_root


def _run_process(entry: str, root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(root / "fastio"),
         *args],
        capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("entry", ["native", "python"])
def test_fast_file_io_matches_native(
    entry: str, tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """read/write/pread/pwrite/lseek at the fast path's edges — dup2 over the fd, close, fork's
    shared offset, exec with O_CLOEXEC, NULL and unmapped buffers, F_SETFL O_APPEND, the end
    of the file, /dev/null — under both trampolines, against native."""
    native_root, cage_root = _fastio_roots(tmp_path, cage_program, native_program)
    expected = run_native(native_root / "fastio", [], root=native_root)
    got = _run_process(entry, cage_root)
    assert (got.returncode, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert b"child: 2 'BB'" in got.stdout and b"FAIL" not in got.stdout
    assert b"Traceback" not in got.stderr


CAGE_ONLY = b"""\
null write NULL: -1 errno=14
null read NULL: -1 errno=14
null write past memory: -1 errno=14
null read past memory: -1 errno=14
null pwrite past memory: -1 errno=14
null write of nothing at NULL: 0 errno=0
null write: 16 errno=0
null pread negative: -1 errno=22
null lseek: 0 errno=0
null lseek bad whence: -1 errno=22
file read past memory: -1 errno=14
file write past memory: -1 errno=14
file read count past memory: -1 errno=14
offset unmoved: 0 errno=0
"""


@pytest.mark.parametrize("entry", ["native", "python"])
def test_fast_file_io_guest_ranges(
    entry: str, tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """Where Linux never looks at the buffer (/dev/null) or the range ends past the cage's
    memory, a cage answers EFAULT (GuestMemory's check, the null page included): the same
    under both trampolines."""
    _, cage_root = _fastio_roots(tmp_path, cage_program, native_program)
    got = _run_process(entry, cage_root, "cage-only")
    assert (got.returncode, got.stdout) == (0, CAGE_ONLY), got.stderr


def test_fast_path_serves_and_grates_still_see_every_call(
    tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """In this process (the C trampoline when it builds): the fast path answers calls of a cage
    without routes, and none of a cage under the strace grate, whose trace shows them all."""
    from lind_async.runtime import syscall_entry
    from tests.e2e.conftest import run_cage

    native_root, cage_root = _fastio_roots(tmp_path, cage_program, native_program)
    expected = run_native(native_root / "fastio", [], root=native_root)
    before = syscall_entry.fast_calls()
    plain = run_cage(cage_root / "fastio", [], root=cage_root)
    assert (plain.status, plain.stdout) == (expected.status, expected.stdout), plain.stderr
    served = syscall_entry.fast_calls() - before
    if syscall_entry.native():
        assert served >= 30  # most of the program's reads, writes and seeks
    else:
        assert served == 0
    before = syscall_entry.fast_calls()
    traced = run_cage(cage_root / "fastio", [], root=cage_root, extra=["--grate", "strace"])
    assert (traced.status, traced.stdout) == (expected.status, expected.stdout), traced.stderr
    assert syscall_entry.fast_calls() == before
    trace = traced.stderr.decode()
    for line in ('read(3, "AAAA", 4) = 4', "lseek(3, 2, SEEK_SET) = 2",
                 'pwrite64(3, "P", 1, 0) = 1', 'pread64(3, "PAAAa", 5, 0) = 5',
                 'write(5, "hello", 5) = 5', "lseek(5, 5, SEEK_SET) = 0"):
        assert line in trace, line


def test_pipe_calls_are_served_in_c_and_grates_still_see_them(
    tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """In this process (the C trampoline when it builds): reads, writes, writevs and tty ioctls
    on pipes are answered by native/syscall_pipes.c for a cage without routes, waking a waiting
    reader or a poll through Python, and set_tid_address by native/syscall_tid.c; under the
    strace grate none is, and the trace shows them."""
    from lind_async.runtime import syscall_entry
    from tests.e2e.conftest import run_cage

    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    expected = run_native(native_program("fastpipe"), [], root=native_root)
    before, tids = syscall_entry.fast_pipes(), syscall_entry.fast_tids()
    plain = run_cage(cage_program("fastpipe"), [], root=cage_root)
    assert (plain.status, plain.stdout) == (expected.status, expected.stdout), plain.stderr
    served = syscall_entry.fast_pipes() - before
    if syscall_entry.native():
        assert served >= 15  # (the writes, reads and ioctls Python need not see)
        assert syscall_entry.fast_tids() - tids >= 2  # musl's at start-up, the program's
    else:
        assert served == 0
    before = syscall_entry.fast_pipes()
    traced = run_cage(cage_program("fastpipe"), [], root=cage_root, extra=["--grate", "strace"])
    assert (traced.status, traced.stdout) == (expected.status, expected.stdout), traced.stderr
    assert syscall_entry.fast_pipes() == before
    trace = traced.stderr.decode()
    for line in ('read(3, "hel", 3) = 3', "= -1 ENOTTY", 'writev(4, '):
        assert line in trace, line


def test_compiled_open_stat_confines_as_the_python_path(tmp_path: Path) -> None:
    """The compiled ``open_stat`` (openat2 + fstat in one call) answers exactly as ctypes'
    openat2 and ``os.fstat`` do: confined to the root (``..``, absolute and relative symlinks
    out of it), the same errors, the same identity."""
    from lind_async.rawposix import confine
    from lind_async.runtime import syscall_entry, world

    syscall_entry.trampoline(world.default_cache_dir())
    native = confine.native_open_stat
    if not syscall_entry.native():
        pytest.skip("no compiled trampoline here")
    assert native is not None
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root_dir = tmp_path / "root"
    (root_dir / "d").mkdir(parents=True)
    (root_dir / "f.txt").write_text("inside")
    (root_dir / "abs").symlink_to(outside)
    (root_dir / "rel").symlink_to("../outside.txt")
    (root_dir / "d" / "up").symlink_to("../../f.txt")
    os.mkfifo(root_dir / "fifo")
    root = confine.HostRoot(root_dir)
    cases = [(b"/f.txt", os.O_RDONLY), (b"f.txt", os.O_RDONLY), (b"/../outside.txt", 0),
             (b"/abs", 0), (b"/rel", 0), (b"/d/up", 0), (b"/d", os.O_DIRECTORY),
             (b"/f.txt", os.O_DIRECTORY), (b"/missing", 0), (b"/f.txt/x", 0),
             (b"/fifo", os.O_RDONLY | os.O_NONBLOCK), (b"/abs", os.O_NOFOLLOW),
             (b"/new", os.O_CREAT | os.O_EXCL | os.O_WRONLY)]

    def answer(path: bytes, flags: int) -> tuple[object, ...]:
        try:
            fd, mode, key = root.open_stat(path, flags, 0o640)
        except OSError as exc:
            return ("error", exc.errno)
        try:
            readable = mode & 0o170000 == 0o100000 and flags & os.O_ACCMODE != os.O_WRONLY
            return (mode, key, os.read(fd, 16) if readable else b"")
        finally:
            os.close(fd)

    try:
        with_native = [answer(p, f) for p, f in cases]
        os.unlink(root_dir / "new")
        confine.native_open_stat = None
        with_python = [answer(p, f) for p, f in cases]
    finally:
        confine.native_open_stat = native
        root.close()
    assert with_native == with_python
    assert b"secret" not in repr(with_native).encode()
    assert with_native[0][2] == with_native[1][2] == with_native[5][2] == b"inside"
    assert with_native[2] == with_native[3] == with_native[4] == ("error", errno.ENOENT)


# -- open and close answered by the C trampoline itself ----------------------------------------
def _fastopen_roots(tmp_path: Path, cage_program: Any, native_program: Any) -> tuple[Path, Path]:
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    shutil.copy(native_program("fastopen"), native_root / "fastopen")
    shutil.copy(cage_program("fastopen"), cage_root / "fastopen")
    return native_root, cage_root


@pytest.mark.parametrize("entry", ["native", "python"])
def test_fast_open_close_matches_native(
    entry: str, tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """open/close at the compiled path's edges — lowest free numbers, close of a dup'd and of a
    forked descriptor, a POSIX lock released by closing another descriptor of the file,
    O_CREAT/O_EXCL/O_APPEND/O_TRUNC/O_CLOEXEC and the umask, errors, paths through "..", "//"
    and "." and relative to a cwd, a directory and a FIFO, RLIMIT_NOFILE — under both
    trampolines, against native."""
    native_root, cage_root = _fastopen_roots(tmp_path, cage_program, native_program)
    expected = run_native(native_root / "fastopen", [], root=native_root)
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    got = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(cage_root),
         str(cage_root / "fastopen")],
        capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )
    assert (got.returncode, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert b"after closing the other fd: unlocked" in got.stdout and b"FAIL" not in got.stdout
    assert b"Traceback" not in got.stderr


def test_fast_open_close_serve_and_grates_still_see_them(
    tmp_path: Path, cage_program: Any, native_program: Any
) -> None:
    """In this process: the C trampoline answers most of the program's opens and closes (the
    same answers as native), and none of a cage under the strace grate, whose trace shows
    them."""
    from lind_async.runtime import syscall_entry
    from tests.e2e.conftest import run_cage

    native_root, cage_root = _fastopen_roots(tmp_path, cage_program, native_program)
    expected = run_native(native_root / "fastopen", [], root=native_root)
    opens, closes = syscall_entry.fast_opens_closes()
    plain = run_cage(cage_root / "fastopen", [], root=cage_root)
    assert (plain.status, plain.stdout) == (expected.status, expected.stdout), plain.stderr
    more_opens, more_closes = syscall_entry.fast_opens_closes()
    if syscall_entry.native():
        assert more_opens - opens >= 20 and more_closes - closes >= 5  # (none after a lock)
    else:
        assert (more_opens, more_closes) == (opens, closes)
    traced = run_cage(cage_root / "fastopen", [], root=cage_root, extra=["--grate", "strace"])
    assert (traced.status, traced.stdout) == (expected.status, expected.stdout), traced.stderr
    assert syscall_entry.fast_opens_closes() == (more_opens, more_closes)
    trace = traced.stderr.decode()
    assert 'open("b.txt", O_RDONLY) = 4' in trace and "close(4) = 0" in trace, trace[:2000]


def test_descriptions_made_in_c_match_hostfiles(
    tmp_path: Path, cage_program: Any, native_program: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process: a regular file's description that the C trampoline's open builds itself
    (``native/syscall_files.c``'s new_host_file: no ``HostFile.__init__``) has every slot, and
    the same record, that ``HostFile(...)`` gives one, for each flag the C open takes; the
    program's reads, writes, seeks and flags match native's."""
    from lind_async.abi import syscalls as nr
    from lind_async.rawposix import fastio
    from lind_async.rawposix import table as rawposix_table
    from lind_async.rawposix.host_file import HostFile
    from lind_async.runtime import syscall_entry
    from tests.e2e.conftest import run_cage

    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    expected = run_native(native_program("fast_description"), [], root=native_root)
    names = sorted({n for c in HostFile.__mro__ for n in getattr(c, "__slots__", ())})
    names.remove("__weakref__")
    missing = object()

    def snapshot(file: Any) -> tuple[object, ...]:
        index = file.fast
        return (*(getattr(file, n, missing) for n in names if n not in ("fast", "guest_path")),
                fastio.WORDS[2 * index], fastio.INTS[4 * index + 2], fastio.INTS[4 * index + 3])

    seen: list[tuple[tuple[object, ...], tuple[object, ...], bytes | None]] = []
    inits = [0]
    python_init = HostFile.__init__

    def counted(self: HostFile, *args: Any, **kwargs: Any) -> None:
        inits[0] += 1
        python_init(self, *args, **kwargs)

    rawposix_table.load()
    handlers = rawposix_table.handlers()
    fsync = handlers[nr.SYS_fsync]

    def spy(cage: Any, fd: int, *rest: int) -> Any:
        made = cage.fds.file(fd)
        assert type(made) is HostFile and made.fast
        before = inits[0]
        again = HostFile(made.host_fd, made.status_flags, None, made.kind, made.lock_key())
        inits[0] = before
        again.refs = made.refs
        fastio.WORDS[2 * again.fast] = made.pos
        seen.append((snapshot(made), snapshot(again), made.guest_path))
        fastio.free(again.fast)
        return fsync(cage, fd, *rest)

    monkeypatch.setitem(handlers, nr.SYS_fsync, spy)
    monkeypatch.setattr(HostFile, "__init__", counted)
    opens, _ = syscall_entry.fast_opens_closes()
    got = run_cage(cage_program("fast_description"), [], root=cage_root)
    assert (got.status, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert len(seen) == 7
    for made, again, guest_path in seen:
        assert made == again
        assert guest_path in (b"/data.txt", b"/new.txt")
    if syscall_entry.native():
        assert syscall_entry.fast_opens_closes()[0] - opens >= 8  # (O_TRUNC: Python's)
        assert inits[0] <= 2  # O_TRUNC's (Python's) and the first's if no record was free
