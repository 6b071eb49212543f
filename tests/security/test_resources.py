"""Resource starvation: cages exhausting the host's fds must not stop the microvisor or a
neighbour; a cage's own fd limit behaves as Linux's RLIMIT_NOFILE.

The fd-exhaustion tests run the microvisor in a child process whose host ``RLIMIT_NOFILE`` the
test sets (``resource_driver.py``), so the numbers do not depend on the machine's limits."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lind_async.core.hostfds import reserve_for
from tests.security.conftest import REPO, assert_contained, run_cage
from tests.security.native import native_result


@pytest.fixture(scope="module")
def hog(attack_program: Any) -> Path:
    return attack_program("res_hog")  # type: ignore[no-any-return]


def _drive(hog: Path, root: Path, hogs: int, host_limit: tuple[int, int], fds: int | None = None
           ) -> dict[str, Any]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, host_limit)

    cmd = [sys.executable, "-m", "tests.security.resource_driver", str(hog), str(root), str(hogs)]
    if fds is not None:
        cmd.append(str(fds))
    proc = subprocess.run(cmd, preexec_fn=limit, capture_output=True, timeout=120, cwd=REPO)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _opened(line: str) -> tuple[int, str]:
    words = line.split()  # "opened N then ERRNO"
    return int(words[1]), words[3]


def test_hogs_at_their_fd_limit_leave_the_microvisor_and_a_neighbour_working(
    hog: Path, root: Path
) -> None:
    report = _drive(hog, root, 6, (1024, 4096))
    assert report["limit_after"] == [4096, 4096]  # soft raised to hard at microvisor start
    got = [_opened(line) for line in report["hogs"]]
    assert got[:3] == [(1021, "EMFILE")] * 3  # each cage's own default limit: 1024 (0-2 stdio)
    assert all(errno == "ENFILE" for _, errno in got[3:])  # then the host budget runs out
    ceiling = 4096 - reserve_for(4096)
    assert sum(n for n, _ in got) < ceiling
    assert report["host_fds_held"] <= ceiling + 1  # (+1: the listing's own fd)
    assert report["neighbour"].startswith("neighbour runs: opened ")
    assert report["neighbour_status"] == 0
    assert report["hog_status"] == [0]
    assert report["after"] == "neighbour runs: opened 10 of 10"


def test_the_issue_numbers_22_cages_of_1000_files(hog: Path, root: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = min(8192, hard)
    report = _drive(hog, root, 22, (limit, limit), fds=1000)
    got = [_opened(line) for line in report["hogs"]]
    assert got[0] == (997, "EMFILE")
    assert {errno for _, errno in got} == {"EMFILE", "ENFILE"}
    assert report["neighbour_status"] == 0
    assert report["after"] == "neighbour runs: opened 10 of 10"


def test_rlimit_nofile_matches_native(hog: Path, attack_program: Any, root: Path,
                                      tmp_path: Path) -> None:
    expected = native_result("res_nofile", [], tmp_path, root)
    got = run_cage(attack_program("res_nofile"), [], root=root)
    assert_contained(got)
    assert got.stdout == expected.stdout, got.stderr
    assert got.status == expected.status == 0
    assert b"opened 29 more, then EMFILE" in got.stdout


def test_run_limit_option(hog: Path, root: Path) -> None:
    got = run_cage(hog, [], root=root, extra=["--limit", "fds=16"])
    assert_contained(got)
    assert got.stdout == b"opened 13 then EMFILE\n"
    bad = run_cage(hog, [], root=root, extra=["--limit", "fds=many"])
    assert bad.status == 2
    assert b"--limit" in bad.stderr and b"Traceback" not in bad.stderr
