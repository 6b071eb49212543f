"""stdin/stdout/stderr as in asyncio: PIPE, DEVNULL, STDOUT, host files; env and cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

import lind_async
from tests.embed.conftest import Build, Runner


def test_communicate_through_pipes(run: Runner, program: Build, root: Path) -> None:
    data = b"".join(b"line %d of the input\n" % i for i in range(5000))  # > a pipe's 64 KiB

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("echo_upper"),
                "7",
                stdin=lind_async.PIPE,
                stdout=lind_async.PIPE,
                stderr=lind_async.PIPE,
            )
            assert proc.pid > 0 and proc.returncode is None
            out, err = await proc.communicate(data)
            assert out == data.upper()
            assert err == b"echoed %d bytes\n" % len(data)
            assert proc.returncode == 7
            assert await proc.wait() == 7

    run(main)


def test_streams_interactively(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("echo_upper"), stdin=lind_async.PIPE, stdout=lind_async.PIPE
            )
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is None
            proc.stdin.write(b"first\n")
            await proc.stdin.drain()
            assert await proc.stdout.readline() == b"FIRST\n"
            proc.stdin.writelines([b"sec", b"ond\n"])
            assert await proc.stdout.readexactly(7) == b"SECOND\n"
            proc.stdin.close()
            assert proc.stdin.is_closing()
            await proc.stdin.wait_closed()
            assert await proc.stdout.read() == b""
            assert proc.stdout.at_eof()
            assert await proc.wait() == 0

    run(main)


def test_devnull(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("echo_upper"),
                stdin=lind_async.DEVNULL,
                stdout=lind_async.PIPE,
                stderr=lind_async.DEVNULL,
            )
            assert await proc.communicate() == (b"", None)
            assert proc.returncode == 0

    run(main)


def test_stderr_into_stdout(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("echo_upper"),
                stdin=lind_async.PIPE,
                stdout=lind_async.PIPE,
                stderr=lind_async.STDOUT,
            )
            out, err = await proc.communicate(b"abc\n")
            assert (out, err) == (b"ABC\nechoed 4 bytes\n", None)

    run(main)


def test_host_files_as_stdio(run: Runner, program: Build, root: Path, tmp_path: Path) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_bytes(b"from a host file\n")

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            with source.open("rb") as fin, target.open("wb") as fout:
                proc = await mv.create_cage_exec(
                    program("echo_upper"), stdin=fin, stdout=fout, stderr=fout.fileno()
                )
                assert await proc.wait() == 0

    run(main)
    assert target.read_bytes() == b"FROM A HOST FILE\nechoed 17 bytes\n"


def test_bad_stdio_arguments(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            with pytest.raises(ValueError, match="STDOUT"):
                await mv.create_cage_exec(program("echo_upper"), stdout=lind_async.STDOUT)
            with pytest.raises(TypeError):
                await mv.create_cage_exec(program("echo_upper"), stdout="out.txt")  # type: ignore[arg-type]
            assert mv.running() == []

    run(main)


def test_env_and_cwd(run: Runner, program: Build, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "data.txt").write_text("inside sub\n")

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("env_cwd"), env={"GREETING": "hello"}, cwd="sub", stdout=lind_async.PIPE
            )
            out, _ = await proc.communicate()
            assert out == (
                b"GREETING=hello\nHOME=(unset)\ncwd=/sub\ndata.txt: inside sub\n"
            )  # no host variable leaks in
            proc = await mv.create_cage_exec(
                program("env_cwd"), env=["GREETING=list form"], stdout=lind_async.PIPE
            )
            out, _ = await proc.communicate()
            assert out == b"GREETING=list form\nHOME=(unset)\ncwd=/\ndata.txt: (missing)"
            with pytest.raises(FileNotFoundError, match="nowhere"):
                await mv.create_cage_exec(program("env_cwd"), cwd="/nowhere")

    run(main)


def test_modules_are_loaded_once(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv, lind_async.Microvisor() as other:
            module = await mv.load(program("echo_upper"))
            assert await mv.load(program("echo_upper")) is module
            proc = await mv.create_cage_exec(module, stdin=lind_async.PIPE, stdout=lind_async.PIPE)
            assert await proc.communicate(b"x") == (b"X", None)
            with pytest.raises(ValueError, match="not loaded by this microvisor"):
                await other.create_cage_exec(module)
            source = await mv.load(Path(__file__).parent / "programs" / "echo_upper.c")
            proc = await mv.create_cage_exec(source, stdin=lind_async.PIPE, stdout=lind_async.PIPE)
            assert await proc.communicate(b"c") == (b"C", None)

    run(main)


def test_module_level_create_cage_exec(run: Runner, program: Build, root: Path) -> None:
    (root / "sub").mkdir()

    async def main() -> None:
        proc = await lind_async.create_cage_exec(
            program("env_cwd"), root=root, cwd="sub", stdout=lind_async.PIPE
        )
        out, _ = await proc.communicate()
        assert out is not None and b"cwd=/sub\n" in out
        mv = await lind_async.default_microvisor()
        assert mv is await lind_async.default_microvisor()
        await mv.aclose()

    run(main)
