"""The default root's overlay (``rawposix/overlay.py``) gives no way out of the root: ``..`` from
the overlaid names, symlinks made in the private ``/tmp`` (relative, absolute, to ``/``), a
symlink in the root towards the overlay, ``/proc/self/fd`` of an overlaid file; and its entries
cannot be changed (``EROFS``, ``EBUSY`` for ``/tmp`` itself) nor linked into the root
(``EXDEV``). The private ``/tmp`` lives next to a host secret (``TMPDIR``), which no attempt
reaches, and is removed with the microvisor; nothing is written into the user's root."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.security.conftest import REPO, Result, assert_contained, run_cage


def _run(wasm: Path, args: list[str], root: Path, tmpdir: Path) -> Result:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), *args]
    proc = subprocess.run(
        cmd, capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_no_escape_and_no_change_through_the_overlay(
    attack_program: Any, root: Path, tmp_path: Path
) -> None:
    host_tmp = tmp_path / "host-tmp"  # where the private /tmp is made: next to the secret
    host_tmp.mkdir()
    secret = host_tmp / "secret"
    secret.write_text("HOST-SECRET\n")
    result = _run(attack_program("overlay_escape"), [str(secret)], root, host_tmp)
    assert_contained(result)
    assert result.status == 0, result.stderr
    out = result.stdout.decode()
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert "SECRET" not in out and "OPENED" not in out and "DONE" not in out, out
    for label in ("/tmp/../secret", "/tmp/../../.. host path", "/etc/../.. host path",
                  "/dev/../secret", "host path itself", "through /tmp/up", "through /tmp/deep",
                  "through /tmp/abs (absolute host path)", "through /tmp/slash/..",
                  "relative ../../secret from /tmp/d", "root symlink to /etc/passwd",
                  "root symlink /tmp/../../.. + host path"):
        assert lines[label] == f"refused {errno.ENOENT}", (label, out)
    assert lines["cwd after fchdir /tmp and .."] == "/"
    rofs = f"refused {errno.EROFS}"
    for label in ("open /etc/passwd O_RDWR", "creat /etc/shadow", "unlink /etc/passwd",
                  "rmdir /etc", "rename /tmp file over /etc/passwd", "symlink in /etc",
                  "mkdir /dev/x", "chmod /etc/hosts", "chown /etc/hosts", "utime /etc/hosts",
                  "truncate /etc/hosts"):
        assert lines[label] == rofs, (label, out)
    assert lines["reopen overlaid fd for writing"] in (rofs, f"refused {errno.EACCES}"), out
    assert lines["write to overlaid fd"] in (rofs, f"refused {errno.EBADF}"), out
    assert lines["ftruncate overlaid fd"].startswith("refused"), out
    assert lines["mknod /dev/sda"].startswith("refused"), out
    assert lines["link /etc/passwd into /tmp"] == f"refused {errno.EXDEV}", out
    assert lines["rmdir /tmp"] == f"refused {errno.EBUSY}", out
    assert lines["rename /tmp away"] == f"refused {errno.EBUSY}", out
    # the root holds only what the attack made there itself (its symlinks), the secret is intact
    assert sorted(p.name for p in root.iterdir()) == ["lpass", "lup"]
    assert secret.read_text() == "HOST-SECRET\n"
    assert sorted(p.name for p in host_tmp.iterdir()) == ["secret"]  # the private /tmp is gone
    # a neighbour started afterwards in the same root still sees a working default root
    again = run_cage(attack_program("overlay_escape"), [str(secret)], root=root)
    assert_contained(again)
    assert b"SECRET" not in again.stdout and again.status == 0
