"""Authority attacks (threei/authority.py): forged pointer segments, escaping one's grate, naming a
grate's functions, signalling the grate that serves you. Each runs as the confined client of a
C grate; afterwards the same grate must still serve a second client (the neighbour)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

import lind_async
from tests.security.conftest import assert_contained, run_cage


@pytest.fixture
def confined(attack_program: Any, root: Path) -> Any:
    """``confined(mode)``: authz_app MODE under authz_grate; returns (result, lines)."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shutil.copyfile(attack_program("authz_app"), bin_dir / "app.wasm")
    (bin_dir / "app.wasm").chmod(0o755)

    def go(mode: str) -> tuple[Any, list[str]]:
        result = run_cage(attack_program("authz_grate", grate=True), ["/bin/app.wasm", mode],
                          root=root)
        assert_contained(result)
        return result, result.stdout.decode().splitlines()

    return go


def test_a_grate_cannot_register_a_handler_it_does_not_have(confined: Any) -> None:
    _, lines = confined("neighbour")
    assert lines[:2] == [
        "bogus handler id: Invalid argument",
        "data address as handler id: Invalid argument",
    ], lines


def _neighbour_intact(lines: list[str]) -> None:
    assert lines[-3:] == ["neighbour served", "geteuid=4242", "neighbour status 0"], lines


def test_a_guest_value_never_selects_another_cages_memory(confined: Any, root: Path) -> None:
    _, lines = confined("segments")
    for k in range(1, 9):
        assert f"segment {k}: Bad address" in lines, lines
    assert "high pointer: Bad address" in lines, lines
    assert not any("LEAKED" in name for name in os.listdir(root)), os.listdir(root)
    assert "geteuid=4242" in lines and "attacker status 0" in lines
    _neighbour_intact(lines)


def test_a_cage_cannot_take_its_grates_routes_away(confined: Any) -> None:
    _, lines = confined("escape")
    for attempt in ("deregister", "deregister naming the grate", "route to self",
                    "child deregisters", "child table over mine"):
        assert f"{attempt}: Operation not permitted" in lines, lines
    assert "copy own table over itself: ok" in lines  # a no-op changes nothing
    assert "child geteuid=4242" in lines and "geteuid=4242" in lines, lines
    _neighbour_intact(lines)


def test_only_the_grate_names_its_functions(confined: Any) -> None:
    _, lines = confined("code")
    for attempt in ("name the grate's function", "name the grate's real handler",
                    "route a number to the grate"):
        assert f"{attempt}: Operation not permitted" in lines, lines
    assert "geteuid=4242" in lines
    _neighbour_intact(lines)


def test_a_client_cannot_signal_its_grate(confined: Any) -> None:
    _, lines = confined("signal")
    for attempt in ("SIGSTOP the grate", "SIGKILL the grate", "SIGTERM the grate",
                    "tkill the grate"):
        assert f"{attempt}: Operation not permitted" in lines, lines
    assert "attacker status 0" in lines
    _neighbour_intact(lines)


@pytest.mark.parametrize("grate", ["readonly:/ro", "seccomp"])
def test_policy_grates_keep_their_calls(grate: str, attack_program: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "ro").mkdir(parents=True)
    if grate == "seccomp":
        policy = tmp_path / "policy"
        policy.write_text("deny open if arg1 & O_WRONLY -> EROFS\n"
                          "deny openat if arg2 & O_WRONLY -> EROFS\n")
        grate = f"seccomp:{policy}"
    result = run_cage(attack_program("escape_policy"), [], root=root, extra=["--grate", grate])
    assert_contained(result)
    lines = result.stdout.decode().splitlines()
    for attempt in ("deregister open", "deregister openat", "route openat to self",
                    "copy table"):
        assert f"{attempt}: Operation not permitted" in lines, lines
    assert "write under the policy: Read-only file system" in lines, lines
    assert not (root / "ro" / "file").exists()


async def test_a_stopped_grate_still_serves_its_clients(attack_program: Any, root: Path) -> None:
    """The grate's creator (here the embedder) stops it: its handlers keep serving the client;
    the grate's own program halts until SIGCONT."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shutil.copyfile(attack_program("authz_app"), bin_dir / "app.wasm")
    (bin_dir / "app.wasm").chmod(0o755)
    grate = attack_program("authz_grate", grate=True)
    async with lind_async.Microvisor(root=root) as mv:
        proc = await mv.create_cage_exec(grate, "/bin/app.wasm", "slow", stdout=lind_async.PIPE)
        assert proc.stdout is not None
        while (line := await proc.stdout.readline()) != b"slow started\n":
            assert line, "the client never started"
        proc.send_signal(signal.SIGSTOP)
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        assert line == b"slow done, served 10\n"  # while the grate was stopped
        await asyncio.sleep(0.2)
        assert proc.returncode is None  # its own program is still halted
        proc.send_signal(signal.SIGCONT)
        rest, _ = await proc.communicate()
    assert rest.decode().splitlines()[0] == "geteuid=4242"
    assert proc.returncode == 0
