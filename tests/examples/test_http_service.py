"""examples/http_service.py: a cage per request, isolation between requests, timeouts, limits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.examples.conftest import PROGRAMS, REPO, load_example

http_service = load_example("http_service")


def config(**kw: object) -> object:
    return http_service.Config(program=PROGRAMS / "service_prog.c", **kw)


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes = b"", args: tuple[str, ...] = ()
) -> tuple[int, bytes]:
    async with session.post(url, data=body, params=[("arg", a) for a in args]) as resp:
        return resp.status, await resp.read()


async def test_concurrent_requests_get_their_own_output() -> None:
    async with http_service.serving(config()) as url, aiohttp.ClientSession() as s:
        bodies = [b"request number %d\n" % i * (i + 1) for i in range(20)]
        answers = await asyncio.gather(*(post(s, url, b) for b in bodies))
    assert answers == [(200, b.upper()) for b in bodies]


async def test_requests_cannot_see_each_others_files() -> None:
    async with http_service.serving(config(concurrency=2)) as url, aiohttp.ClientSession() as s:
        assert await post(s, url, args=("write",)) == (200, b"wrote /secret\n")
        for _ in range(3):  # whichever root of the pool it gets
            assert await post(s, url, args=("read",)) == (
                200,
                b"no /secret: No such file or directory\n",
            )


async def test_spinning_program_times_out_while_others_succeed() -> None:
    async with http_service.serving(config(timeout=1.5)) as url, aiohttp.ClientSession() as s:
        spin = asyncio.create_task(post(s, url, args=("spin",)))
        await asyncio.sleep(0.2)
        others = await asyncio.gather(*(post(s, url, b"ok %d\n" % i) for i in range(5)))
        assert not spin.done()
        assert others == [(200, b"OK %d\n" % i) for i in range(5)]
        status, text = await spin
    assert status == 504 and text.startswith(b"timed out")


def test_a_cage_out_of_cpu_time_is_a_timeout() -> None:
    # --timeout is also the CPU budget: a spinning program may reach it before the wall clock
    # (SIGXCPU), and that is the same 504; any other signal is a failure.
    assert http_service._answer(-signal.SIGXCPU, b"", 1.5) == (504, b"timed out after 1.5s\n")
    assert http_service._answer(-signal.SIGKILL, b"x", 1.5) == (500, b"exit status -9\n")
    assert http_service._answer(3, b"x", 1.5) == (500, b"exit status 3\n")
    assert http_service._answer(0, b"out", 1.5) == (200, b"out")


async def test_errors() -> None:
    cfg = config(max_body=1000, max_output=1 << 20)
    async with http_service.serving(cfg) as url, aiohttp.ClientSession() as s:
        assert await post(s, url, args=("fail",)) == (500, b"exit status 3\n")
        assert (await post(s, url, b"x" * 2000))[0] == 413
        assert (await post(s, url, args=("a\0b",)))[0] == 400
        assert (await post(s, url, args=("x",) * 17))[0] == 400
        assert (await post(s, url, args=("big",)))[0] == 502
        assert await post(s, url, b"still fine\n") == (200, b"STILL FINE\n")


async def test_pool_mode_runs_the_cages_in_worker_processes() -> None:
    async with http_service.serving(config(pool=1)) as url, aiohttp.ClientSession() as s:
        answers = await asyncio.gather(*(post(s, url, b"pooled %d\n" % i) for i in range(4)))
        assert await post(s, url, args=("fail",)) == (500, b"exit status 3\n")
    assert answers == [(200, b"POOLED %d\n" % i) for i in range(4)]


async def test_memory_limit_applies() -> None:
    # 64 KiB cannot hold the program's stack: the cage is killed at start (SIGSEGV).
    async with http_service.serving(config(memory=64 << 10)) as url, aiohttp.ClientSession() as s:
        assert await post(s, url, b"x") == (500, b"exit status -11\n")


def test_bench_http_drives_both_servers_with_the_c_client() -> None:
    from benchmarks import bench_http

    result = bench_http.measure(40, 2, 1)
    assert result["requests"] == 40 and result["connections"] == 2
    for key in ("service_rps", "native_http_rps", "native_rps", "client_cpu_us"):
        assert result[key] > 0, key
    [figure] = bench_http.figures(result)
    assert [b.name for b in figure.baselines] == [
        "HTTP + process per request (gcc)", "process per request (gcc), no HTTP"]


def test_a_program_that_does_not_compile_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text("int main(void) { return undeclared; }\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "http_service.py"), str(bad), "--port", "0"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert proc.returncode == 1
    assert "cannot serve" in proc.stderr and "undeclared" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp.iterdir()) == []  # its roots are gone too


def test_help() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "http_service.py"), "--help"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0 and b"--timeout" in proc.stdout
