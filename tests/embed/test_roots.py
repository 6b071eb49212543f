"""``RootPool``: roots a cage left something in are emptied before the next run gets them, with
inotify saying which (and the directory looked at when inotify is not there)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lind_async
from lind_async.embed import roots as roots_mod
from tests.embed.conftest import Runner

WRITER = b"""
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
    if (argc > 1) { chmod("/", 0755); return 0; }
    mkdir("/d", 0700);
    FILE *f = fopen("/d/secret", "w");
    if (!f) return 1;
    fputs("mine\\n", f);
    fclose(f);
    chmod("/d", 0);
    return 0;
}
"""


@pytest.mark.parametrize("watched", [True, False])
def test_what_a_cage_leaves_is_gone_before_the_next_run(
    run: Runner, tmp_path: Path, watched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not watched:
        def no_inotify(roots: list[str]) -> None:
            raise OSError("no inotify here")

        monkeypatch.setattr(roots_mod, "_Watch", no_inotify)
    source = tmp_path / "writer.c"
    source.write_bytes(WRITER)
    base = tmp_path / "roots"
    base.mkdir()

    async def main() -> None:
        pool = lind_async.RootPool(base, 2)
        assert pool.watched is watched
        async with lind_async.Microvisor(root=base) as mv:
            module = await mv.load(source)
            for args in [(), ("chmod",), (), ()]:
                async with pool.root() as root:
                    assert os.listdir(root) == [] and os.stat(root).st_mode & 0o777 == 0o700
                    done = await mv.run(module, *args, root=root)
                    assert done.returncode == 0
                    assert os.listdir(root) == ([] if args else ["d"])
            async with pool.root() as a, pool.root() as b:
                assert {a, b} == {str(base / "root0"), str(base / "root1")}
                assert os.listdir(a) == os.listdir(b) == []
        pool.close()

    run(main)
