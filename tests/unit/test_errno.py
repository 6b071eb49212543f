"""``abi.errno.to_negative_errno``: the one conversion of a failed call into ``-errno``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lind_async.abi.errno import EBADF, EFAULT, EIO, ENOENT, GuestError, to_negative_errno

PACKAGE = Path(__file__).resolve().parents[2] / "lind_async"


def test_guest_error_is_its_negative_errno() -> None:
    assert to_negative_errno(GuestError(EBADF)) == -EBADF
    assert to_negative_errno(GuestError(EBADF), fallback=EIO) == -EBADF


def test_host_oserror_is_its_negative_errno() -> None:
    assert to_negative_errno(FileNotFoundError(ENOENT, "gone")) == -ENOENT
    assert to_negative_errno(OSError(EBADF, "bad"), fallback=EIO) == -EBADF


def test_oserror_without_errno_is_a_host_bug() -> None:
    exc = OSError("no errno")
    with pytest.raises(OSError) as raised:
        to_negative_errno(exc)
    assert raised.value is exc


def test_fallback_answers_an_errno_less_error() -> None:
    assert to_negative_errno(OSError("no errno"), fallback=EIO) == -EIO
    assert to_negative_errno(GuestError(0), fallback=EFAULT) == -EFAULT  # as ``-(errno or X)``


def _errno_reads(node: ast.AST) -> bool:
    """Does ``node`` read an exception's errno (``x.errno`` or ``getattr(x, "errno")``)?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr == "errno":
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Name)
            and sub.func.id == "getattr"
            and len(sub.args) >= 2
            and isinstance(sub.args[1], ast.Constant)
            and sub.args[1].value == "errno"
        ):
            return True
    return False


def _negations(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        and _errno_reads(node.operand)
    ]


def test_no_module_negates_an_errno_itself() -> None:
    """Only ``abi/errno.py`` turns an exception's errno into ``-errno``; the rest call it."""
    own = PACKAGE / "abi" / "errno.py"
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != own and (lines := _negations(path.read_text()))
    }
    assert found == {}


def test_the_check_sees_what_it_must() -> None:
    assert _negations("r = -exc.errno") == [1]
    assert _negations("r = -(exc.errno or EIO)") == [1]
    assert _negations("r = -int(getattr(exc, 'errno', None))") == [1]
    assert _negations("r = -errno.EPERM") == []
