"""``-o`` naming something other than a regular file (a symbolic link, a FIFO, a link to a
device such as ``/dev/null`` or ``/dev/stdout``) is written through, as ld does, and the name
is left as it was: a rename into place would have put a regular file where the link or the
device was."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

from .test_driver import lind, lind_cc, ok, write

MAIN = "int main(void) { return 5; }\n"


def _reference(tmp_path: Path, name: str) -> bytes:
    """The program built the usual way under the same name (the name is in the module)."""
    (tmp_path / "ref").mkdir(exist_ok=True)
    ok(lind_cc("-o", f"ref/{name}", "m.c", cwd=tmp_path))
    return (tmp_path / "ref" / name).read_bytes()


def test_a_link_keeps_pointing_at_its_target(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "m.c", MAIN)
    ok(lind_cc("-o", "plain", "m.c", cwd=tmp_path))
    (tmp_path / "target").write_bytes(b"old contents")
    (tmp_path / "link").symlink_to("target")
    ok(lind_cc("-o", "link", "m.c", cwd=tmp_path))
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "target"
    assert (tmp_path / "target").read_bytes() == _reference(tmp_path, "link")
    assert os.stat(tmp_path / "target").st_mode & 0o111 == 0o111  # executable, as ld makes it
    assert subprocess.run(["./link"], cwd=tmp_path, timeout=120).returncode == 5
    ok(lind("lind-strip", "-o", "link", "plain", cwd=tmp_path))
    assert (tmp_path / "link").is_symlink()


def test_a_fifo_gets_the_program_and_stays_a_fifo(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "m.c", MAIN)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    built = lind_cc("-o", "fifo", "m.c", cwd=tmp_path)
    reader.join(timeout=120)
    ok(built)
    assert got == [_reference(tmp_path, "fifo")]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_link_to_a_device_leaves_the_device(sysroot: Path, tmp_path: Path) -> None:
    """``-o /dev/null`` ("does it link?") through a link, so that a regression could only
    replace the link, never the machine's /dev/null."""
    write(tmp_path / "m.c", MAIN)
    (tmp_path / "null").symlink_to("/dev/null")
    ok(lind_cc("-o", "null", "m.c", cwd=tmp_path))
    ok(lind_cc("-o", "plain", "m.c", cwd=tmp_path))
    ok(lind("lind-strip", "-o", "null", "plain", cwd=tmp_path))
    assert (tmp_path / "null").is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["m.c", "null", "plain"]  # no temporary file left


def test_precompile_needs_a_file(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "m.c", MAIN)
    (tmp_path / "null").symlink_to("/dev/null")
    proc = lind_cc("--precompile", "-o", "null", "m.c", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--precompile needs a file" in proc.stderr


def test_the_same_build_gives_the_same_bytes(sysroot: Path, tmp_path: Path) -> None:
    """Nothing of the build's own (a temporary file's name, a pid) ends up in the program:
    the same sources and options give the same output, wherever it is written."""
    write(tmp_path / "m.c", MAIN)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        ok(lind_cc("-o", f"{sub}/prog", "m.c", cwd=tmp_path))
    assert (tmp_path / "a" / "prog").read_bytes() == (tmp_path / "b" / "prog").read_bytes()
    assert sorted(os.listdir(tmp_path / "a")) == ["prog"]
