"""Endorsement policies: which organisations must sign a contract's results.

Grammar (operators case-insensitive, org names bare or quoted, nesting allowed):
    policy := name | OP "(" policy ("," policy)* ")" | OUTOF "(" n "," policy ("," policy)* ")"
    OP     := AND | OR
Internally AND and OR are OutOf(n, ...) and OutOf(1, ...), so one evaluator serves all three.
"""

from __future__ import annotations

import functools
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass


class PolicyError(Exception):
    """A policy text does not parse; the message gives the position of the error."""


class Policy(ABC):
    """A parsed endorsement policy; str() gives text that parses back to an equal policy."""

    @abstractmethod
    def satisfied_by(self, orgs: Collection[str]) -> bool:
        """True if endorsements from these distinct orgs meet the policy."""

    @abstractmethod
    def orgs(self) -> frozenset[str]:
        """Every org the policy names."""


@dataclass(frozen=True)
class Org(Policy):
    """Satisfied by an endorsement of this one organisation."""

    name: str

    def satisfied_by(self, orgs: Collection[str]) -> bool:
        return self.name in orgs

    def orgs(self) -> frozenset[str]:
        return frozenset({self.name})

    def __str__(self) -> str:
        if _BARE.fullmatch(self.name) and not _is_keyword(self.name):
            return self.name
        escaped = self.name.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"


@dataclass(frozen=True)
class OutOf(Policy):
    """Satisfied when at least `n` of the sub-policies are."""

    n: int
    rules: tuple[Policy, ...]

    def satisfied_by(self, orgs: Collection[str]) -> bool:
        return sum(1 for rule in self.rules if rule.satisfied_by(orgs)) >= self.n

    def orgs(self) -> frozenset[str]:
        return frozenset().union(*(rule.orgs() for rule in self.rules))

    def __str__(self) -> str:
        inner = ", ".join(str(rule) for rule in self.rules)
        if self.n == len(self.rules):
            return f"AND({inner})"
        if self.n == 1:
            return f"OR({inner})"
        return f"OutOf({self.n}, {inner})"


_BARE = re.compile(r"[A-Za-z0-9_.\-]+")
_TOKEN = re.compile(
    r"\s*(?:(?P<punct>[(),])|(?P<quoted>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<bare>[A-Za-z0-9_.\-]+))"
)
_KEYWORDS = ("and", "or", "outof")


def _is_keyword(name: str) -> bool:
    return name.lower() in _KEYWORDS


@dataclass(frozen=True)
class _Token:
    kind: str  # "punct", "quoted", "bare", "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            tokens.append(_Token("end", "", pos))
            return tokens
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PolicyError(f"policy {text!r}: unexpected character {text[pos]!r} at {pos}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Token(kind, value, m.start(kind)))
        pos = m.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def error(self, token: _Token, expected: str) -> PolicyError:
        found = "end of text" if token.kind == "end" else repr(token.text)
        return PolicyError(
            f"policy {self.text!r}: expected {expected} at position {token.pos}, found {found}"
        )

    def next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, punct: str) -> None:
        token = self.next()
        if token.kind != "punct" or token.text != punct:
            raise self.error(token, repr(punct))

    def policy(self) -> Policy:
        token = self.next()
        if token.kind == "quoted":
            if not token.text:
                raise self.error(token, "an org name")
            return Org(token.text)
        if token.kind != "bare":
            raise self.error(token, "an org name or AND/OR/OutOf")
        op = token.text.lower()
        following = self.tokens[self.i]
        if op not in _KEYWORDS or following.kind != "punct" or following.text != "(":
            return Org(token.text)
        self.expect("(")
        n = self.threshold() if op == "outof" else None
        rules = [self.policy()]
        while (sep := self.next()).text == "," and sep.kind == "punct":
            rules.append(self.policy())
        if sep.kind != "punct" or sep.text != ")":
            raise self.error(sep, "',' or ')'")
        if n is None:
            n = len(rules) if op == "and" else 1
        elif n > len(rules):
            raise PolicyError(
                f"policy {self.text!r}: OutOf at position {token.pos} needs {n} of only "
                f"{len(rules)} sub-policies and can never be satisfied"
            )
        return OutOf(n, tuple(rules))

    def threshold(self) -> int:
        token = self.next()
        if token.kind != "bare" or not token.text.isdigit() or int(token.text) < 1:
            raise self.error(token, "a positive count as the first argument of OutOf")
        self.expect(",")
        return int(token.text)


def parse(text: str) -> Policy:
    """Parse a policy text such as "AND(hospital, OR(insurer, board))"."""
    parser = _Parser(text)
    policy = parser.policy()
    end = parser.next()
    if end.kind != "end":
        raise parser.error(end, "end of text")
    return policy


def choose_endorsers(policy: Policy, available: Sequence[str]) -> list[str] | None:
    """The smallest set of distinct available orgs satisfying the policy, earlier entries first.

    Among sets of the smallest size, the one whose members come earliest in `available` wins
    (combinations are tried in lexicographic order of positions). None if no set satisfies it.
    """
    chosen = _choose(policy, tuple(available))
    return None if chosen is None else list(chosen)


@functools.lru_cache(maxsize=256)
def _choose(policy: Policy, available: tuple[str, ...]) -> tuple[str, ...] | None:
    """choose_endorsers, remembered: a gateway asks it for every endorsement with the same few
    policies and peers (policies are frozen, so equal ones share an entry)."""
    named = policy.orgs()
    candidates = [org for org in dict.fromkeys(available) if org in named]
    for size in range(len(candidates) + 1):
        for combo in itertools.combinations(candidates, size):
            if policy.satisfied_by(combo):
                return combo
    return None
