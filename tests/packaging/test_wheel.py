"""The built wheel is complete: installed (not editable) into a fresh virtualenv, it runs a C
program under a built-in grate from a directory unrelated to the source checkout, its C grates
and typing marker are inside, and a user's ``mypy --strict`` sees the API's types.

The virtualenv gets the wheel alone; its dependencies (wasmtime, uvloop, ziglang…) come from
this test run's environment through a path entry, so nothing is downloaded and the source
checkout is never on the new interpreter's path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (setuptools' build/ would keep stale files)."""
    source = tmp_path_factory.mktemp("src") / "lind_async"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".lind-cache", "tests"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (built,) = out.glob("lind_async-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its python."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(site)  # a wheel is installed by unpacking it (its scripts are not needed)
    # the dependencies, from this environment's site-packages, after the wheel's own files
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_wheel_contains_grates_and_typing(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("lind_async/py.typed", "lind_async/grates/strace.py",
                 "lind_async/grates/namespace.py", "lind_async/grates/imfs.c",
                 "lind_async/grates/strace.c", "lind_async/guest/crt/crt1.c"):
        assert name in names, name
    # the compiled helpers' sources, their included parts and headers: built at first use
    native = REPO / "lind_async" / "native"
    for part in sorted(native.glob("*.[ch]")):
        assert f"lind_async/native/{part.name}" in names, part.name


def test_runs_a_program_under_strace_from_anywhere(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "hi.c").write_text(
        '#include <stdio.h>\n#include <fcntl.h>\n#include <unistd.h>\n'
        'int main(void) { int fd = open("/data.txt", O_RDONLY); char b[8];\n'
        '  ssize_t n = read(fd, b, sizeof b); printf("read %zd\\n", n); return 0; }\n')
    (work / "data.txt").write_text("abc")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(installed), "-c", "import lind_async; print(lind_async.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert not where.stdout.startswith(str(REPO)), where.stdout
    proc = subprocess.run(
        [str(installed), "-m", "lind_async", "run", "--grate", "strace", "hi.c"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "read 3\n"
    assert 'open("/data.txt", O_RDONLY' in proc.stderr or \
        'openat(AT_FDCWD, "/data.txt", O_RDONLY' in proc.stderr, proc.stderr
    clamped = subprocess.run(
        [str(installed), "-m", "lind_async", "run", "--grate", "namespace:/tmp=imfs.c",
         "--grate", "readonly:/data.txt", "hi.c"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert clamped.returncode == 0 and clamped.stdout == "read 3\n", clamped.stderr


def _mypy(installed: Path, code: str, where: Path) -> str:
    user = where / "user.py"
    user.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(installed),
         "--no-incremental", "--cache-dir", os.devnull, str(user)],
        cwd=where, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc.stdout


def test_mypy_sees_the_api_types(installed: Path, tmp_path: Path) -> None:
    """With py.typed shipped, a user's strict mypy checks calls against the API's annotations:
    correct code passes, a wrong type is caught (without the marker, every use is `Any`, and
    strict mode reports the missing marker instead)."""
    head = (
        "import lind_async\n\n"
        "async def main() -> int:\n"
        "    proc = await lind_async.create_cage_exec('p.wasm', stdout=lind_async.PIPE)\n"
        "    out, _ = await proc.communicate()\n"
    )
    good = _mypy(installed, head + "    return proc.returncode or len(out or b'')\n", tmp_path)
    assert good.startswith("Success"), good
    bad = _mypy(installed, head + "    name: str = proc.returncode\n    return 0\n", tmp_path)
    assert 'Incompatible types in assignment (expression has type "int | None"' in bad, bad
