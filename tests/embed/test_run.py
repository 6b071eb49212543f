"""``Microvisor.run``: a cage to its end with input in and stdout captured, as ``subprocess.run``;
outputs and exit statuses compared with the same program built natively by gcc."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import lind_async
from tests.embed.conftest import Build, Runner, open_fds

UPPER = Path(__file__).parents[2] / "examples" / "upper.c"


@pytest.mark.parametrize("size", [0, 5, 4096, 65536, 65537, 300_000])
def test_output_and_status_match_native(
    run: Runner, program: Build, root: Path, native_upper: Path, size: int
) -> None:
    # Inputs that fit the pipe (put there before the start) and larger ones (fed as it reads);
    # outputs past the pipe's 64 KiB (moved out while it writes).
    data = bytes(b"abcdefghij\n"[i % 11] for i in range(size))
    native = subprocess.run([str(native_upper), "4"], input=data, capture_output=True)

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            done = await mv.run(program("echo_upper"), "4", input=data)
            assert (done.returncode, done.stdout) == (native.returncode, native.stdout)
            assert mv.running() == []

    run(main)


def test_stderr_into_stdout_and_argv0(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            done = await mv.run(program("echo_upper"), input=b"hi\n", stderr=lind_async.STDOUT,
                                argv0="upper")
            assert done == lind_async.CompletedCage(0, b"HI\nechoed 3 bytes\n")
            with pytest.raises(ValueError, match="stdout only"):
                await mv.run(program("echo_upper"), stderr=lind_async.PIPE)
            assert mv.running() == []

    run(main)


def test_timeout_kills_the_family(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            with pytest.raises(TimeoutError):
                await mv.run(program("waiter"), "fork", timeout=0.3)
            assert mv.running() == []  # the cage and the child it forked are gone
            done = await mv.run(program("echo_upper"), "2", input=b"after\n", timeout=5)
            assert done == lind_async.CompletedCage(2, b"AFTER\n")

    run(main)


CLOSES_STDOUT = b"""
#include <unistd.h>
int main(void) {
    write(1, "bye\\n", 4);
    close(1);
    for (volatile unsigned long x = 0;; x++) {}
}
"""


def test_timeout_after_the_output_ended(run: Runner, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "closes_stdout.c"
    source.write_bytes(CLOSES_STDOUT)

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            with pytest.raises(TimeoutError):
                await mv.run(source, timeout=0.3)
            assert mv.running() == []

    run(main)


def test_output_limit_kills_it(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            with pytest.raises(lind_async.OutputTooLarge):
                await mv.run(program("flood"), "1024", max_output=100_000)  # 1 MiB
            assert mv.running() == []
            done = await mv.run(program("flood"), "64", max_output=65536)  # exactly the limit
            assert done == lind_async.CompletedCage(0, b"x" * 65536)

    run(main)


def test_cancelled_run_kills_and_leaves_nothing(run: Runner, program: Build, root: Path) -> None:
    import anyio

    async def main() -> None:
        before = open_fds()
        async with lind_async.Microvisor(root=root) as mv:
            with anyio.move_on_after(0.3):
                await mv.run(program("waiter"), "fork")
            assert mv.running() == []
            for _ in range(20):
                assert (await mv.run(program("echo_upper"), input=b"x")).stdout == b"X"
        assert open_fds() == before

    run(main)


def test_a_later_cage_finds_nothing_of_an_earlier_ones_memory(
    run: Runner, program: Build, root: Path
) -> None:
    """A cage's linear memory, once the cage is gone, is kept zeroed for the next cage of the
    same memory type and size (wasm/instance_memory.py): the next one takes it, and not one
    word the first wrote is there to find."""
    import gc

    from lind_async.wasm.instance_memory import spare_count

    limits = lind_async.Limits(memory=16 << 20)
    residue = program("mem_residue")

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            engine = mv._host.engine  # type: ignore[union-attr]  # (its runtime side's)
            for key in ("12345", "67890"):
                done = await mv.run(residue, "fill", key, limits=limits)
                assert done == lind_async.CompletedCage(0, b"filled\n")
                gc.collect()
                kept = spare_count(engine)
                assert kept >= 1  # the filled memory, zeroed
                done = await mv.run(residue, "scan", key, limits=limits)
                assert spare_count(engine) <= kept  # (taken, then given back at its end)
                assert done.returncode == 0
                assert done.stdout == b"found 0 of the earlier cage's words in %d bytes\n" % (
                    16 << 20)

    run(main)


def test_cages_of_every_root_share_the_imports_and_a_memorys_instance_pre(
    run: Runner, program: Build, tmp_path: Path
) -> None:
    """The worlds of one microvisor (one per root) share one set of ``lind`` imports, so the
    InstancePre a memory keeps (wasm/instance_memory.py) serves the next cage that takes the
    memory as a spare whatever its root: no new one is made (a service with a root per request
    made one per request, ~20 us)."""
    import gc

    from lind_async.wasm import instance_memory

    roots = [tmp_path / f"root{i}" for i in range(3)]
    for r in roots:
        r.mkdir()
    echo = program("echo_upper")

    async def main() -> None:
        async with lind_async.Microvisor(root=roots[0]) as mv:
            done = await mv.run(echo, input=b"a", root=roots[0])
            assert done == lind_async.CompletedCage(0, b"A")
            gc.collect()  # (its memory retired, with its InstancePre)
            kept = {key: pre for key, (_, pre) in instance_memory._pres.items()}
            for r in roots[1:]:
                done = await mv.run(echo, input=b"b", root=r)
                assert done == lind_async.CompletedCage(0, b"B")
                gc.collect()
            assert {key: pre for key, (_, pre) in instance_memory._pres.items()} == kept
            host = mv._host  # type: ignore[union-attr]  # (its runtime side's)
            assert len({id(world.imports) for world in host.worlds.values()}) == 1

    run(main)


def test_a_runs_output_written_without_waking_python(
    run: Runner, program: Build, root: Path
) -> None:
    """The C trampoline writes a cage's output into Microvisor.run's pipe without calling back
    into Python while the capture has nothing to do (rawposix/readiness.py's RoomWake), and
    still ends the run at the output's end and drains a pipe that fills up."""
    from lind_async.runtime import syscall_entry

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            served, woken = syscall_entry.fast_pipes(), syscall_entry.fast_pipe_wakes()
            done = await mv.run(program("echo_upper"), input=b"small input\n")
            assert done == lind_async.CompletedCage(0, b"SMALL INPUT\n")
            if syscall_entry.native():  # read, write, read (end-of-file)
                assert syscall_entry.fast_pipes() == served + 3
                assert syscall_entry.fast_pipe_wakes() == woken
            body = b"hello, benchmark\n" * 64  # (bench_http's request: stdio's 3 reads,
            served = syscall_entry.fast_pipes()  # 3 writevs and the TIOCGWINSZ ioctl)
            done = await mv.run(UPPER, input=body)
            assert done == lind_async.CompletedCage(0, body.upper())
            if syscall_entry.native():
                assert syscall_entry.fast_pipes() == served + 7
                assert syscall_entry.fast_pipe_wakes() == woken
            big = bytes(range(97, 123)) * 10_000  # 260,000 bytes: the pipe fills many times
            done = await mv.run(program("echo_upper"), input=big)
            assert done == lind_async.CompletedCage(0, big.upper())

    run(main)
