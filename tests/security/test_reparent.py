"""Authority by re-parenting: the first cage of a world gains nothing over another family's
orphan (it is not that family's init), and the orphan runs on intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lind_async


async def test_the_first_cage_gets_no_authority_over_an_orphan(
    attack_program: Any, tmp_path: Path
) -> None:
    program = attack_program("reparent")
    async with lind_async.Microvisor(root=tmp_path) as mv:
        attacker = await mv.create_cage_exec(program, "attacker", stdout=lind_async.PIPE)
        victim = await mv.create_cage_exec(program, "victim", stdout=lind_async.PIPE)
        attacked, _ = await attacker.communicate()
        orphan, _ = await victim.communicate()
    lines = attacked.decode().splitlines()
    for attempt in ("copy from the orphan", "copy into the orphan", "call as the orphan",
                    "route the orphan", "kill the orphan"):
        assert f"{attempt}: Operation not permitted" in lines, lines
    assert "wait for the orphan: No child process" in lines, lines
    assert attacker.returncode == 0 and victim.returncode == 0
    assert orphan.decode() == "orphan intact, parent 0\n"
