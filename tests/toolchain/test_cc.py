from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.toolchain import cc
from lind_async.wasm.binary import read_interface

from .wasm_runner import run

HELLO = '#include <stdio.h>\nint main(void) { printf("hello, world\\n"); return 0; }\n'

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int constructed;
__attribute__((constructor)) static void init(void) { constructed = 1; }
_Thread_local int tls = 5;

int main(int argc, char **argv) {
    printf("argc=%d argv1=%s home=%s\n", argc, argv[1], getenv("HOME"));
    printf("%d %f %Lf %e\n", -7, 1.5, (long double)1 / 4, 1e10);
    char *big = malloc(8 << 20);
    memset(big, 1, 8 << 20);
    free(big);
    void *p[2000];
    for (int i = 0; i < 2000; i++) p[i] = malloc(1 + i % 300);
    for (int i = 0; i < 2000; i++) free(p[i]);
    int a[5] = {5, 3, 9, 1, 7};
    qsort(a, 5, sizeof a[0], cmp);
    printf("%d%d%d%d%d ctor=%d tls=%d\n", a[0], a[1], a[2], a[3], a[4], constructed, tls);
    return 3;
}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_hello_compiles_validates_and_runs(sysroot: Path, tmp_path: Path) -> None:
    out = cc.compile_program([_write(tmp_path, "hello.c", HELLO)], tmp_path / "hello.wasm")
    imports, exports = read_interface(out.read_bytes())
    assert {(i.module, i.name) for i in imports} == {
        ("env", "memory"),
        ("lind", "syscall"),
        ("lind", "syscall_wait"),
        ("lind", "signal_frame"),  # libc runs signal handlers on the thread's own stack
        ("lind", "signal_return"),
    }
    memory = next(i for i in imports if i.name == "memory")
    assert memory.shared and memory.maximum == (512 << 20) >> 16
    names = {e.name for e in exports}
    assert {"_start", "__stack_pointer", "__heap_base", "__tls_base", "__wasm_init_tls"} <= names
    result = run(out, ["hello"])
    assert (result.exit_code, result.stdout) == (0, b"hello, world\n")


def test_program_uses_libc(sysroot: Path, tmp_path: Path) -> None:
    out = cc.compile_program([_write(tmp_path, "p.c", PROGRAM)], tmp_path / "p.wasm")
    result = run(out, ["p", "first"], ["HOME=/home/me"])
    assert result.exit_code == 3
    assert result.stdout.decode().splitlines() == [
        "argc=2 argv1=first home=/home/me",
        "-7 1.500000 0.250000 1.000000e+10",
        "13579 ctor=1 tls=5",
    ]


@pytest.mark.parametrize(
    "signature, body",
    [
        ("void", "return 11;"),
        ("int argc, char **argv", "return argc + 10;"),
        ("int argc, char **argv, char **envp", "return argc + (envp[0] != 0) + 9;"),
    ],
)
def test_every_main_shape(sysroot: Path, tmp_path: Path, signature: str, body: str) -> None:
    src = _write(tmp_path, "m.c", f"int main({signature}) {{ {body} }}\n")
    out = cc.compile_program([src], tmp_path / "m.wasm")
    assert run(out, ["m"], ["A=1"]).exit_code == 11


def test_cli_compile_then_link_objects(
    sysroot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "lib.c", "int twice(int x) { return 2 * x; }\n")
    _write(tmp_path, "main.c", "int twice(int);\nint main(void) { return twice(21); }\n")
    assert cc.main(["-c", "lib.c"]) == 0
    assert (tmp_path / "lib.o").is_file()
    assert (
        cc.main(
            [
                "-O1",
                "--stack-size",
                "64K",
                "--max-memory=16M",
                "main.c",
                "lib.o",
                "-lm",
                "-lpthread",
            ]
        )
        == 0
    )
    imports, _ = read_interface((tmp_path / "a.out").read_bytes())
    assert next(i for i in imports if i.name == "memory").maximum == 256
    assert run(tmp_path / "a.out", ["a"]).exit_code == 42


def test_compile_error_is_reported_without_traceback(
    sysroot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path, "bad.c", "int main(void) { return missing_variable; }\n")
    assert cc.main(["-o", str(tmp_path / "bad.wasm"), str(src)]) == 1
    err = capsys.readouterr().err
    assert "missing_variable" in err and "Traceback" not in err
    assert not (tmp_path / "bad.wasm").exists()


def test_undefined_function_is_named(
    sysroot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path, "u.c", "int nowhere(void);\nint main(void) { return nowhere(); }\n")
    assert cc.main(["-o", str(tmp_path / "u.wasm"), str(src)]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_foreign_import_is_rejected(
    sysroot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(
        tmp_path,
        "i.c",
        '__attribute__((import_module("evil"), import_name("f"))) int f(void);\n'
        "int main(void) { return f(); }\n",
    )
    assert cc.main(["-o", str(tmp_path / "i.wasm"), str(src)]) == 1
    assert "evil.f" in capsys.readouterr().err


def test_fork_imports_lind_fork(sysroot: Path, tmp_path: Path) -> None:
    src = _write(tmp_path, "f.c", "#include <unistd.h>\nint main(void) { return fork() < 0; }\n")
    out = cc.compile_program([src], tmp_path / "f.wasm")
    imports, _ = read_interface(out.read_bytes())
    assert ("lind", "fork") in {(i.module, i.name) for i in imports}


def test_compile_cached_reuses_the_module(sysroot: Path, tmp_path: Path) -> None:
    src = _write(tmp_path, "hello.c", HELLO)
    first = cc.compile_cached(src)
    assert first.is_file()
    mtime = first.stat().st_mtime_ns
    assert cc.compile_cached(src) == first and first.stat().st_mtime_ns == mtime
    src.write_text(HELLO.replace("hello", "bye"))
    assert cc.compile_cached(src) != first


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cc.main(["--help"]) == 0
    assert "--stack-size" in capsys.readouterr().out


def test_parse_size() -> None:
    assert cc.parse_size("1M") == 1 << 20
    assert cc.parse_size("64k") == 64 << 10
    assert cc.parse_size("0x1000") == 4096
    assert cc.parse_size("123") == 123


def test_precompile_writes_a_cwasm_the_runtime_runs(sysroot: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = '#include <stdio.h>\nint main(void) { puts("precompiled"); return 6; }\n'
    _write(tmp_path, "p.c", source)
    assert cc.main(["--precompile", "-o", "p.wasm", "p.c"]) == 0
    cwasm = tmp_path / "p.cwasm"
    assert cwasm.read_bytes()[:4] == b"\x7fELF"
    result = run(cwasm, ["p"])
    assert (result.exit_code, result.stdout) == (6, b"precompiled\n")
