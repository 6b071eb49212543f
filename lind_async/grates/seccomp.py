"""``seccomp:POLICY``: allow or deny system calls by name, with simple argument conditions.

A policy file, one rule per line, ``#`` comments; the first rule that matches a call decides it,
and calls no rule matches get the default (``default allow`` unless the file says otherwise)::

    default allow
    deny open if arg1 & O_WRONLY -> EACCES
    deny openat if arg2 & O_WRONLY -> EACCES
    deny unlink, unlinkat, rmdir            # errno EPERM
    deny mkdir -> kill                      # the cage dies with SIGSYS
    allow write if arg0 == 1
    deny write -> EPERM

Conditions compare argument N (``arg0``..``arg5``, as in seccomp) with ``==``, ``!=``, ``<``,
``<=``, ``>``, ``>=`` (signed 64-bit) or test bits with ``&`` (any of them set); join several
with ``and``. Values are integers (``0x``, ``0o`` allowed) or symbolic constants (``O_*``,
``AT_*``, ``SEEK_*``), combined with ``|``. Actions: an errno name (default ``EPERM``) or
``kill``.

The grate also sees the confined cage's 3i routing calls (``register_handler``,
``copy_handler_table_to_cage``): one that would re-route a call the policy judges is refused with
``EPERM`` whatever the rules say; the others are judged by the rules like any call.
"""

from __future__ import annotations

import errno
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lind_async.abi import flags as F
from lind_async.threei.python_grates import (
    ROUTING_CALLS,
    Call,
    Forward,
    Grate,
    all_numbers,
    reroutes,
    syscall_number,
)

SIGSYS = 31
KILL = -1  # the action "kill" (errno actions are positive)

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "&": lambda a, b: bool(a & b),
}
_CONSTANTS = {
    name: value
    for name, value in vars(F).items()
    if name.isupper() and isinstance(value, int) and name.startswith(("O_", "AT_", "SEEK_"))
}


class PolicyError(ValueError):
    """A malformed policy file (the message names the line)."""


@dataclass(frozen=True)
class Condition:
    arg: int
    op: str
    value: int

    def holds(self, call: Call) -> bool:
        actual = call.u64(self.arg) if self.op == "&" else call.long(self.arg)
        return _COMPARE[self.op](actual, self.value)


@dataclass(frozen=True)
class Rule:
    allow: bool
    numbers: frozenset[int]  # empty: any call (only the default rule)
    conditions: tuple[Condition, ...] = ()
    action: int = errno.EPERM  # errno, or KILL

    def matches(self, call: Call) -> bool:
        if self.numbers and call.number not in self.numbers:
            return False
        return all(c.holds(call) for c in self.conditions)


class Policy:
    """Parsed rules and the default."""

    def __init__(self, rules: Iterable[Rule], default: Rule) -> None:
        self.rules = list(rules)
        self.default = default

    @classmethod
    def parse(cls, text: str) -> Policy:
        rules: list[Rule] = []
        default = Rule(True, frozenset())
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                if line.split()[0] == "default":
                    default = _parse_default(line)
                else:
                    rules.append(_parse_rule(line))
            except (ValueError, IndexError, KeyError) as exc:
                raise PolicyError(f"policy line {lineno}: {raw.strip()!r}: {exc}") from None
        return cls(rules, default)

    def decide(self, call: Call) -> Rule:
        for rule in self.rules:
            if rule.matches(call):
                return rule
        return self.default

    def numbers(self) -> frozenset[int]:
        """The calls the grate must see: all of them under ``default deny``."""
        if not self.default.allow:
            return all_numbers()
        named: set[int] = set()
        for rule in self.rules:
            named |= rule.numbers
        return frozenset(named)


def _action(words: list[str]) -> int:
    if not words:
        return errno.EPERM
    if len(words) != 1:
        raise ValueError("one action after ->")
    if words[0] == "kill":
        return KILL
    code = getattr(errno, words[0], None)
    if not isinstance(code, int) or not words[0].startswith("E"):
        raise ValueError(f"unknown action {words[0]!r} (an errno name or kill)")
    return code


def _parse_default(line: str) -> Rule:
    head, _, action = line.partition("->")
    words = head.split()
    if len(words) != 2 or words[1] not in ("allow", "deny"):
        raise ValueError("expected: default allow | default deny [-> ACTION]")
    allow = words[1] == "allow"
    if allow and action.strip():
        raise ValueError("allow takes no action")
    return Rule(allow, frozenset(), (), _action(action.split()))


def _parse_rule(line: str) -> Rule:
    head, _, action = line.partition("->")
    verb, _, rest = head.strip().partition(" ")
    if verb not in ("allow", "deny"):
        raise ValueError("a rule starts with allow, deny or default")
    names, _, cond_text = rest.partition(" if ")
    numbers = frozenset(syscall_number(n) for n in names.replace(",", " ").split())
    if not numbers:
        raise ValueError("no system call named")
    conditions = tuple(_parse_condition(c) for c in cond_text.split(" and ")) if cond_text else ()
    if verb == "allow" and action.strip():
        raise ValueError("allow takes no action")
    return Rule(verb == "allow", numbers, conditions, _action(action.split()))


def _parse_condition(text: str) -> Condition:
    words = text.split(maxsplit=2)
    if len(words) != 3 or not words[0].startswith("arg") or words[1] not in _COMPARE:
        raise ValueError(f"bad condition {text.strip()!r} (expected: argN OP VALUE)")
    index = int(words[0][3:])
    if not 0 <= index < 6:
        raise ValueError("arguments are arg0..arg5")
    return Condition(index, words[1], _value(words[2]))


def _value(text: str) -> int:
    total = 0
    for part in text.split("|"):
        word = part.strip()
        total |= _CONSTANTS[word] if word in _CONSTANTS else int(word, 0)
    return total


class Seccomp(Grate):
    """Filter calls by a :class:`Policy`."""

    name = "seccomp"

    def __init__(self, policy: Policy | str | Path) -> None:
        if not isinstance(policy, Policy):
            policy = Policy.parse(Path(policy).read_text(encoding="utf-8"))
        self.policy = policy

    def numbers(self) -> Iterable[int]:
        return self.policy.numbers() | ROUTING_CALLS

    def syscall(self, call: Call) -> int | Forward:
        if call.number in ROUTING_CALLS and reroutes(call, self.policy.numbers()):
            return -errno.EPERM  # the policy's calls stay the policy's, whatever the policy says
        rule = self.policy.decide(call)
        if rule.allow:
            return call.forward()
        if rule.action == KILL:
            return call.kill(SIGSYS)
        return -rule.action

    @classmethod
    def from_arg(cls, arg: str | None) -> Seccomp:
        if not arg:
            raise ValueError("seccomp needs a policy file: --grate seccomp:POLICY")
        return cls(arg)
