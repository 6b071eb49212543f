"""lind_async/abi/layouts.py must agree with the C structs of the lind-musl sysroot.

A C file of _Static_asserts (one per size and field offset/size) is generated from layouts.py and
compiled against the sysroot: a disagreement fails compilation and names the field.
"""

from __future__ import annotations

import struct
from pathlib import Path

from lind_async.abi import layouts
from lind_async.toolchain import cc
from lind_async.toolchain.sysroot import ARCH_DIR

HEADERS = """\
#define _GNU_SOURCE
#include <stddef.h>
#include <signal.h>
#include <poll.h>
#include <fcntl.h>
#include <dirent.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/statfs.h>
#include <sys/select.h>
#include <sys/timerfd.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/file.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <sys/msg.h>
#define hidden
#include "ksigaction.h"
"""


def _asserts() -> list[str]:
    lines = []
    for lay in layouts.ALL:
        if not lay.c_checked:
            continue
        t = lay.c_name
        flexible = any(f.code == "0s" for f in lay.fields)
        if not flexible:
            lines.append(f'_Static_assert(sizeof({t}) == {lay.size}, "sizeof {t}");')
        for f in lay.fields:
            if f.is_padding:
                continue
            lines.append(
                f'_Static_assert(offsetof({t}, {f.name}) == {f.offset}, "offsetof {t}.{f.name}");'
            )
            if f.code != "0s":
                lines.append(
                    f"_Static_assert(sizeof((({t} *)0)->{f.name}) == {f.size}, "
                    f'"sizeof {t}.{f.name}");'
                )
    lines.append('_Static_assert(_NSIG / 8 == 8, "kernel sigset is 64 bits");')
    lines.append(
        f"_Static_assert(sizeof(long) == 4 && sizeof(time_t) == 8 && sizeof(off_t) == 8 "
        f'&& PAGESIZE == {layouts.PAGE_SIZE}, "ILP32, 64-bit time_t/off_t");'
    )
    return lines


def test_layouts_match_the_c_headers(sysroot: Path, tmp_path: Path) -> None:
    src = tmp_path / "layouts.c"
    src.write_text(HEADERS + "#include <limits.h>\n" + "\n".join(_asserts()) + "\n")
    cc.compile_object(src, tmp_path / "layouts.o", flags=["-I", str(ARCH_DIR)])


def test_layout_formats_are_consistent() -> None:
    for lay in layouts.ALL:
        assert struct.calcsize(lay.fmt) == lay.size, lay.c_name
        end = 0
        for f in lay.fields:
            assert f.offset == end, (lay.c_name, f.name)
            end += f.size
        assert end == lay.size


def test_pack_and_unpack_round_trip() -> None:
    buf = bytearray(200)
    layouts.STAT.pack_into(
        buf,
        8,
        st_ino=77,
        st_mode=0o100644,
        st_size=1 << 40,
        **{"st_mtim.tv_sec": 1_700_000_000, "st_mtim.tv_nsec": 5},
    )
    assert struct.unpack_from("<Q", buf, 8 + 8)[0] == 77
    got = layouts.STAT.unpack_from(buf, 8)
    assert got["st_size"] == 1 << 40 and got["st_mtim.tv_nsec"] == 5
    assert "__pad0" not in got
    assert layouts.TIMESPEC.pack(tv_sec=1, tv_nsec=2) == struct.pack("<qq", 1, 2)
