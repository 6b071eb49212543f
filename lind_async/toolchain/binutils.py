"""The console scripts: ``lind-cc``, ``lind-ar``, ``lind-ranlib``, ``lind-strip``.

``lind-cc`` is :func:`lind_async.toolchain.driver.main` (the same code as ``python -m lind_async
cc``). ``lind-ar`` and ``lind-ranlib`` are LLVM's ``llvm-ar``/``llvm-ranlib`` as the ziglang wheel
ships them (``zig ar``, ``zig ranlib``): they index wasm objects' symbols, so wasm-ld can pull
members out of the archives they make. ``lind-strip`` is :mod:`lind_async.toolchain.wasmstrip`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from lind_async.toolchain.zig import ToolchainError, zig


def script_path(name: str) -> str:
    """The installed console script ``name`` (beside this Python's scripts or the running one,
    else on PATH), or the bare name when it is not installed."""
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.argv[0]).parent)):
        candidate = Path(directory) / name
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name) or name


def _zig_tool(tool: str, argv: Sequence[str]) -> int:
    try:
        return subprocess.run(zig(tool, *argv), check=False).returncode
    except ToolchainError as e:
        sys.stderr.write(f"lind-{tool}: {e}\n")
    except OSError as e:
        sys.stderr.write(f"lind-{tool}: cannot run zig: {e}\n")
    except KeyboardInterrupt:
        return 130
    return 1


def cc() -> int:
    from lind_async.toolchain.driver import main

    return main(sys.argv[1:])


def cxx() -> int:
    from lind_async.toolchain.driver import main

    return main(sys.argv[1:], cxx=True)


def ar() -> int:
    return _zig_tool("ar", sys.argv[1:])


def ranlib() -> int:
    return _zig_tool("ranlib", sys.argv[1:])


def strip() -> int:
    from lind_async.toolchain.wasmstrip import main

    return main(sys.argv[1:])
