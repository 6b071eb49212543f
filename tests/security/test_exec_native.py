"""A cage cannot make the microvisor run native code: ``execve`` of a precompiled ``.cwasm``
(machine code wasmtime would load without validating) found in the root is ``ENOEXEC``, however
the file is named, while the same program as a ``.wasm`` module runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lind_async.wasm.engine import EngineConfig, LindEngine
from tests.e2e.conftest import PROGRAMS as E2E_PROGRAMS
from tests.security.conftest import assert_contained, run_cage


def test_exec_of_a_precompiled_module_is_refused(attack_program: Any, root: Path,
                                                 tmp_path: Path) -> None:
    from lind_async.toolchain.cc import compile_cached

    hello = compile_cached(E2E_PROGRAMS / "hello.c")
    LindEngine(EngineConfig()).precompile(hello, root / "hello.cwasm")  # as `run` would load it
    shutil.copy(root / "hello.cwasm", root / "hello")  # the name does not matter
    shutil.copy(hello, root / "hello.wasm")
    for name in ("hello.cwasm", "hello", "hello.wasm"):
        (root / name).chmod(0o755)
    for name in ("hello.cwasm", "hello"):
        result = run_cage(attack_program("exec_native"), [f"/{name}"], root=root)
        assert_contained(result)
        assert result.stdout == f"execv /{name}: Exec format error\n".encode()
        assert result.status == 1
    ran = run_cage(attack_program("exec_native"), ["/hello.wasm"], root=root)
    assert ran.status == 3 and ran.stdout.startswith(b"hello from a cage\n"), ran
