"""C grates: Lind's grate API (<lind_syscall.h>, `cc --grate`, lind.threei_call) end to end.

Grates and the programs they run are compiled once (cached by content) and copied into the cage
root's /bin: a grate forks and execs the rest of its command line, and exec resolves paths in the
root, as in Lind. Grate test programs live in programs/grates/; the reference grates in grates/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Result

PROGRAMS = Path(__file__).parent / "programs" / "grates"
GRATES = REPO / "lind_async" / "grates"


def _build(source: Path, grate: bool) -> Path:
    from lind_async.toolchain.cc import compile_cached

    return compile_cached(source, flags=["--grate"] if grate else [])


@pytest.fixture(scope="session")
def wasm() -> object:
    """``wasm(name, grate=False)``: programs/grates/NAME.c, or grates/NAME.c for a reference
    grate, compiled (cached); returns the module's path."""
    built: dict[tuple[str, bool], Path] = {}

    def build(name: str, grate: bool = False) -> Path:
        key = (name, grate)
        if key not in built:
            source = PROGRAMS / f"{name}.c"
            if not source.is_file():
                source = GRATES / f"{name}.c"
            built[key] = _build(source, grate)
        return built[key]

    return build


def install(root: Path, **modules: Path) -> None:
    """Copy modules into root/bin as NAME.wasm (executable)."""
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, path in modules.items():
        target = bin_dir / f"{name}.wasm"
        shutil.copyfile(path, target)
        target.chmod(0o755)


def run(root: Path, *argv: str, timeout: float = 120) -> Result:
    """Run ``/bin/ARGV0.wasm ARGV...`` (each word naming a /bin module, or an argument)."""
    words = [f"/bin/{w}.wasm" if (root / "bin" / f"{w}.wasm").is_file() else w for w in argv]
    cmd = [
        sys.executable,
        "-m",
        "lind_async",
        "run",
        "--root",
        str(root),
        str(root / words[0].lstrip("/")),
        *words[1:],
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=REPO)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _ok(result: Result) -> str:
    return result.stderr.decode(errors="replace")


def test_geteuid_and_getgid_interposed_and_inherited(wasm: object, root: Path) -> None:
    """A Lind-style grate (own pass_fptr_to_wt) with two handlers; the app's forked child
    inherits them; the grate's own exit status is the app's."""
    install(root, grate=wasm("ids_grate", grate=True), app=wasm("ids_app"))  # type: ignore[operator]
    got = run(root, "grate", "app")
    assert got.stdout == (
        b"geteuid=4242 getgid=777 getuid_is_real=1\nchild geteuid=4242\nparent done\n"
    ), _ok(got)
    assert got.status == 3, _ok(got)


def test_mixed_argument_owners(wasm: object, root: Path) -> None:
    """open's path comes from the grate's memory (GRATE_MEMORY_FLAG), its flags from the caller;
    getcwd's answer is written into the caller's buffer with copy_data_between_cages."""
    install(root, grate=wasm("paths_grate", grate=True), app=wasm("paths_app"))  # type: ignore[operator]
    (root / "public.txt").write_text("public data")
    got = run(root, "grate", "app")
    assert got.stdout == b"secret: 11 public data\ncwd: /imaginary\n", _ok(got)
    assert got.status == 0


def test_threei_operations_and_authority(wasm: object, root: Path) -> None:
    install(root, ops=wasm("threei_ops", grate=True))  # type: ignore[operator]
    got = run(root, "ops")
    lines = got.stdout.decode().splitlines()
    assert got.status == 0, _ok(got)
    expected = [
        "register self: 0",
        "self geteuid=4242",
        "threei geteuid=4242",  # threei_call routes through the caller's own table
        "threei unknown: -1 Function not implemented",
        "threei unknown raw=-38",
        "strncpy at the end: 0",  # stops at the end of memory without faulting
        "copied: xyzQQQ",
        "memcpy past the end: -1 Bad address",
        "child inherited geteuid=4242",
        "deregister: 0",
        "parent geteuid_is_real=1",
        "register getgid: 0",
        "copy table to child: 0",
        "child after table copy: geteuid_is_real=1 getgid=777",
        "child targets parent: -1 Operation not permitted",
        "child owner parent: -1 Operation not permitted",
        "child copies from parent: -1 Operation not permitted",
        "child copies parent table: -1 Operation not permitted",
        "child edits parent table: -1 Operation not permitted",
        "child registers for parent: -1 Operation not permitted",
        "child flags parent memory: -1 Operation not permitted",
        "child copies into parent: -1 Operation not permitted",
        "child as self_cageid=parent: -1 Operation not permitted",  # the id gives nothing
        "child as thiscage=parent: -1 Operation not permitted",
        "child targets sibling: -1 Operation not permitted",
        "child flags sibling memory: -1 Operation not permitted",
        "child copies to sibling: -1 Operation not permitted",
        "child routes to sibling: -1 Operation not permitted",  # the handler cage
        "child registers for sibling: -1 Operation not permitted",
        "child copies sibling table: -1 Operation not permitted",
        "own memory",  # the flag on one's own id works
        "child flags own memory: 11",
        "child status 0",
        "sibling status 0",
    ]
    assert lines == expected, _ok(got)


def test_grate_serves_two_cages_while_one_handler_sleeps(wasm: object, root: Path) -> None:
    install(root, grate=wasm("sleepy_grate", grate=True), app=wasm("sleepy_app"))  # type: ignore[operator]
    started = time.monotonic()
    got = run(root, "grate", "app")
    elapsed = time.monotonic() - started
    # the fast cage's 50 calls complete while the slow cage's handler sleeps in nanosleep;
    # errno survives in each handler (per-worker thread descriptors)
    assert got.stdout == b"fast: 50 geteuid sum=100\nslow: getuid=1\n", _ok(got)
    assert got.status == 0
    assert elapsed < 60


def test_cc_grate_default_entry_and_signature_check(tmp_path: Path) -> None:
    from lind_async.toolchain.cc import compile_program
    from lind_async.toolchain.validate import InvalidModule
    from lind_async.wasm.binary import exported_functions

    plain = tmp_path / "plain.c"
    plain.write_text("int main(void) { return 0; }\n")
    out = compile_program([plain], tmp_path / "plain.wasm", flags=["--grate"])
    exports = exported_functions(out.read_bytes())
    assert exports["pass_fptr_to_wt"] == (("i64",) * 14, ("i32",))
    assert exports["__lind_grate_worker_init"] == (("i32",), ("i32",))

    wrong = tmp_path / "wrong.c"
    wrong.write_text("int pass_fptr_to_wt(int fn) { return fn; }\nint main(void) { return 0; }\n")
    with pytest.raises(InvalidModule, match="pass_fptr_to_wt has the wrong signature"):
        compile_program([wrong], tmp_path / "wrong.wasm", flags=["--grate"])


# ------------------------------------------------------------------------------ strace, imfs
def _trace(stderr: bytes) -> list[str]:
    return [
        line for line in stderr.decode(errors="replace").splitlines() if line.startswith("[cage ")
    ]


def test_strace_prints_calls_in_strace_format(wasm: object, root: Path) -> None:
    install(root, strace=wasm("strace", grate=True), app=wasm("strace_app"))  # type: ignore[operator]
    (root / "x").write_text("abc")
    (root / "long").write_text("0123456789" * 5)
    got = run(root, "strace", "--", "app")
    assert got.status == 0, _ok(got)
    assert got.stdout == b"abc"
    lines = _trace(got.stderr)
    assert re.fullmatch(
        r'\[cage 2\] execve\("/bin/app.wasm", \["/bin/app.wasm"\], '
        r"0x[0-9a-f]+ /\* 0 vars \*/\) = 0",
        lines[0],
    ), lines
    for line in [
        '[cage 2] openat(AT_FDCWD, "/x", O_RDONLY) = 3',
        '[cage 2] read(3, "abc", 100) = 3',
        "[cage 2] close(3) = 0",
        '[cage 2] open("/nope", O_RDONLY) = -1 ENOENT (No such file or directory)',
        '[cage 2] write(1, "abc", 3) = 3',
        '[cage 2] read(3, "01234567890123456789012345678901"..., 100) = 50',
        "[cage 2] lseek(3, 5, SEEK_SET) = 5",
        "[cage 2] exit_group(0) = ?",
        "[cage 2] +++ exited with 0 +++",
    ]:
        assert line in lines, (line, lines)
    assert not any("register_handler" in line for line in lines), lines


IMFS_OUTPUT = b"""\
mkdir again: File exists
imfs fd above real fds: yes
pipe fds: 3 4
read after seek: 4 '2345'
fstat: size=10 reg=1
a.txt: hello imfs 42
stat sub: dir=1
ls /data: . .. a.txt b.bin sub
unlink b.bin: 0
stat b.bin: No such file or directory
open missing: No such file or directory
rmdir data: Directory not empty
"""


def test_imfs_files_live_in_the_grate(wasm: object, root: Path) -> None:
    install(root, imfs=wasm("imfs", grate=True), app=wasm("imfs_app"))  # type: ignore[operator]
    got = run(root, "imfs", "app")
    assert got.stdout == IMFS_OUTPUT, _ok(got)
    assert got.status == 0
    assert sorted(p.name for p in root.iterdir()) == ["bin"]  # the host root is untouched
    assert sorted(p.name for p in (root / "bin").iterdir()) == ["app.wasm", "imfs.wasm"]


def test_strace_over_imfs_over_app(wasm: object, root: Path) -> None:
    install(
        root,
        strace=wasm("strace", grate=True),
        imfs=wasm("imfs", grate=True),  # type: ignore[operator]
        app=wasm("imfs_app"),
    )  # type: ignore[operator]
    got = run(root, "strace", "--", "imfs", "--", "app")
    assert got.stdout == IMFS_OUTPUT, _ok(got)
    assert got.status == 0
    assert sorted(p.name for p in root.iterdir()) == ["bin"]
    lines = _trace(got.stderr)
    execs = [re.match(r"\[cage (\d+)\] execve\(\"(\S+)\"", line) for line in lines]
    programs = {m.group(2): int(m.group(1)) for m in execs if m}
    assert set(programs) == {"/bin/imfs.wasm", "/bin/app.wasm"}, lines
    app = programs["/bin/app.wasm"]
    # strace sits below imfs: it sees what imfs passes on (stdout), never the imfs files
    assert any(line.startswith(f"[cage {app}] writev(1, ") for line in lines), lines
    assert f"[cage {app}] exit_group(0) = ?" in lines
    assert not any("/data" in line for line in lines if line.startswith(f"[cage {app}]")), lines
