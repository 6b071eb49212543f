"""Networking conformance (AF_UNIX pairs and buffers, socket options, interfaces, name lookup):
C programs compared with the same source built natively, and libc behaviour checked against
musl's own source where glibc (the native build's libc) differs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import STACKS, MatchesNative, run_cage, run_native


@pytest.mark.parametrize("stack", STACKS)
def test_socketpair(stack: str, matches_native: MatchesNative) -> None:
    """Every AF_UNIX type as a pair: flags, names, data, peek, rights, shutdown, fork, errors;
    seqpacket through a listener too."""
    matches_native("net_socketpair", stack, quiet=True)


def test_unix_flow_control(matches_native: MatchesNative) -> None:
    """A non-blocking sender fills exactly what Linux lets it (by type, write size, SO_SNDBUF),
    SO_SNDBUF/SO_RCVBUF read back as Linux sets them, the largest datagram."""
    matches_native("net_sockbuf", "plain", quiet=True)


def test_socket_options(matches_native: MatchesNative) -> None:
    """get/setsockopt on AF_UNIX (every type), TCP, UDP and UDPv6 sockets: values, doubling,
    booleans, unknown options (ENOPROTOOPT) and levels (EOPNOTSUPP/ENOPROTOOPT), bad lengths."""
    matches_native("net_sockopt", "plain", quiet=True)


def test_interfaces(matches_native: MatchesNative) -> None:
    """getifaddrs, if_nameindex, if_nametoindex/if_indextoname and SIOCGIF* list the host's
    interfaces as natively; a netlink route socket dumps links and refuses changes."""
    matches_native("net_ifaddrs", "plain", quiet=True)


# -- name lookup: musl reads the cage root's /etc -----------------------------------------------
def _host_names() -> list[str]:
    """The names the host's /etc/hosts lists (both builds read the same copy of it)."""
    names: list[str] = []
    for line in Path("/etc/hosts").read_text().splitlines():
        fields = line.partition("#")[0].split()
        names += [n for n in fields[1:] if n not in names]
    return names[:8] or ["localhost"]


def _etc_root(root: Path, hosts: str | None = None) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_text(hosts or Path("/etc/hosts").read_text())
    if Path("/etc/services").exists():
        shutil.copyfile("/etc/services", root / "etc" / "services")


@pytest.mark.skipif(not Path("/etc/hosts").exists(), reason="the host has no /etc/hosts")
def test_resolve_matches_native(cage_program: Any, native_program: Any, tmp_path: Path) -> None:
    """getaddrinfo/gethostbyname/getnameinfo for the names of /etc/hosts (the cage reads a copy
    in its root), numeric hosts, AI_PASSIVE, AI_NUMERICHOST, services, errors."""
    names = _host_names()
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    _etc_root(cage_root)
    expected = run_native(native_program("net_resolve"), names, root=native_root)
    got = run_cage(cage_program("net_resolve"), names, root=cage_root)
    assert got.stdout == expected.stdout, got.stderr.decode(errors="replace")
    assert got.status == expected.status == 0
    assert got.stderr == b""


def test_resolve_reads_the_cage_roots_hosts(cage_program: Any, tmp_path: Path) -> None:
    """Names come from the root's /etc/hosts, not the host's: a name only that file lists
    resolves to its address, with the line's first name as canonical name; a name it does
    not list (and no DNS server answering) does not resolve."""
    root = tmp_path / "root"
    _etc_root(root, "# test\n10.20.30.40  lind-conf-a.example lind-conf-alias\n")
    resolv = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
    (root / "etc" / "resolv.conf").write_text(resolv)
    got = run_cage(cage_program("net_resolve"), ["lind-conf-alias", "localhost"], root=root)
    out = got.stdout.decode()
    address = "fam 2 type 1 proto 6 addrlen 16 10.20.30.40 port 80"
    assert f"lind-conf-alias stream port 80: rc 0\n  {address}\n" in out
    assert "10.20.30.40 port 0 canon lind-conf-a.example" in out
    by_name = "gethostbyname lind-conf-alias: name lind-conf-a.example type 2 len 4"
    assert f"{by_name} first 10.20.30.40" in out
    assert "localhost stream port 80: rc 0\n" not in out  # not in this root's hosts file
    assert got.status == 0, got.stderr.decode(errors="replace")


# -- libc strings and locales: musl's, read from the source the sysroot is built from -------------
def _musl(path: str) -> str:
    from lind_async.toolchain.zig import musl_source_dir

    return (musl_source_dir() / path).read_text()


def _literal(source: str, name: str) -> bytes:
    """The bytes of the concatenated C string literal ``name[] = "..." "...";`` (with its NUL)."""
    body = source.split(f"{name}[] =", 1)[1].split(";", 1)[0]
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return "".join(parts).encode().decode("unicode_escape").encode("latin-1") + b"\0"


def _musl_walk(msgs: bytes, code: int, step: int) -> str:
    """musl's gai_strerror/hstrerror: skip ``code`` strings (counting by ``step`` towards 0)
    unless the empty string comes first; past it, the fallback after it."""
    s, code = 0, code + step
    while code and msgs[s]:
        s = msgs.index(0, s) + 1
        code += step
    if not msgs[s]:
        s += 1
    return msgs[s : msgs.index(0, s)].decode()


def _musl_strerror() -> dict[int, str]:
    defines = re.findall(r"#define\s+(E\w+)\s+(E\w+|\d+)", _musl("arch/generic/bits/errno.h"))
    numbers = {"0": 0}
    for name, value in defines:  # aliases (ENOTSUP, EWOULDBLOCK...) name an earlier number
        numbers[name] = numbers[value] if value.startswith("E") else int(value)
    pairs = re.findall(r'E\((\w+),\s*"((?:[^"\\]|\\.)*)"\)', _musl("src/errno/__strerror.h"))
    return {numbers[name]: text for name, text in pairs}  # a later entry wins, as in C


def test_libc_strings_and_locales_are_musls(cage_program: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    got = run_cage(cage_program("net_strings"), [], root=root, env={"LANG": "fr_FR.UTF-8"})
    assert got.status == 0, got.stderr.decode(errors="replace")
    lines = got.stdout.decode().splitlines()
    table = _musl_strerror()
    for e in [*range(-2, 141), 4096]:  # unlisted and out-of-range numbers: the catch-all entry
        assert f"strerror {e}: {table.get(e, table[0])}" in lines
    gai = _literal(_musl("src/network/gai_strerror.c"), "msgs")
    for code in [*range(2, -17, -1), -100]:
        assert f"gai_strerror {code}: {_musl_walk(gai, code, 1)}" in lines
    herr = _literal(_musl("src/network/hstrerror.c"), "msgs")
    for code in range(6):
        assert f"hstrerror {code}: {_musl_walk(herr, code, -1)}" in lines
    # setlocale: musl keeps any well-formed name (locale_map.c: "make a locale map object anyway
    # to store the name"), with C.UTF-8's character handling; only "C"/"POSIX" are byte locales
    comment = "make a locale map\n\t * object anyway to store the name"
    assert comment in _musl("src/locale/locale_map.c")
    locale_lines = [line for line in lines if not line.startswith(("strerror", "gai_", "hstr"))]
    assert locale_lines == [
        "setlocale query at start -> C",
        "setlocale LC_ALL xx_YY -> xx_YY",  # glibc: (null)
        "setlocale query -> xx_YY",
        "MB_CUR_MAX 4",
        "setlocale LC_ALL C -> C",
        "MB_CUR_MAX 1",
        "setlocale LC_ALL POSIX -> C",
        "setlocale LC_ALL C.UTF-8 -> C.UTF-8;C;C;C;C;C",  # only LC_CTYPE differs from C
        "MB_CUR_MAX 4",
        "setlocale LC_MESSAGES de_DE.UTF-8 -> de_DE.UTF-8",
        "setlocale query mixed -> C.UTF-8;C;C;C;C;de_DE.UTF-8",
        'setlocale LC_ALL "" (environment) -> fr_FR.UTF-8',  # LANG
        "setlocale LC_CTYPE with a slash -> C.UTF-8",  # names with '/' are refused for C.UTF-8
        "setlocale bad category -> (null)",
    ]
    assert "strerror after locales 2: " + table[2] in lines
