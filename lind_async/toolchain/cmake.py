"""A CMake toolchain file for cage programs: ``lind-cc --print-cmake-toolchain > lind.cmake``.

The file is printed, with the absolute paths of this installation's console scripts, rather than
shipped: it then works from any install (a wheel, an editable checkout, a virtualenv) and names the
right ``lind-cc``. What it sets:

* ``CMAKE_SYSTEM_NAME Linux`` (so ``CMAKE_CROSSCOMPILING`` is on and ``if(LINUX)``/``UNIX`` hold),
  ``CMAKE_SYSTEM_PROCESSOR wasm32``;
* the compiler and binutils: ``lind-cc``, ``lind-ar``, ``lind-ranlib``, ``lind-strip``;
* no shared libraries (``add_library(… SHARED)`` builds a static one, with CMake's warning);
* headers and libraries are looked up in the lind-musl sysroot only, programs on the host;
* ``CMAKE_CROSSCOMPILING_EMULATOR``: ``lind-async run``, so ``try_run``, ``check_c_source_runs``
  and ``add_test`` run the programs in a cage.
"""

from __future__ import annotations

from lind_async.toolchain.binutils import script_path
from lind_async.toolchain.sysroot import ensure_sysroot

TEMPLATE = """\
# CMake toolchain file for lind_async cage programs (wasm32 + lind-musl), written by
# `lind-cc --print-cmake-toolchain`.  Use: cmake -DCMAKE_TOOLCHAIN_FILE=lind.cmake -S . -B build
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR wasm32)

set(CMAKE_C_COMPILER "{cc}")
set(CMAKE_AR "{ar}" CACHE FILEPATH "lind-ar")
set(CMAKE_RANLIB "{ranlib}" CACHE FILEPATH "lind-ranlib")
set(CMAKE_STRIP "{strip}" CACHE FILEPATH "lind-strip")

# Cage programs are linked statically: SHARED libraries are built as STATIC ones.
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)

set(CMAKE_FIND_ROOT_PATH "{sysroot}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run(), check_c_source_runs() and add_test() run the programs in a cage.
set(CMAKE_CROSSCOMPILING_EMULATOR "{run}" run)
"""


def toolchain_file() -> str:
    """The toolchain file's text for this installation."""
    return TEMPLATE.format(
        cc=script_path("lind-cc"), ar=script_path("lind-ar"), ranlib=script_path("lind-ranlib"),
        strip=script_path("lind-strip"), run=script_path("lind-async"),
        sysroot=ensure_sysroot(),
    )
