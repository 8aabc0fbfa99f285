"""The Contract base class and the decorators that mark its callable functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal, TypeVar

FunctionKind = Literal["submit", "evaluate"]
KIND_ATTRIBUTE = "__careledger_kind__"

F = TypeVar("F", bound=Callable[..., object])


class Contract:
    """Subclass it, set `name`, and mark functions with @submit or @evaluate.

    Each function is `def fn(self, ctx: Context, *args: str)` and returns str, bytes, dict, list,
    int, bool or None. Raise ContractError to refuse a request. No clocks, randomness or I/O:
    every endorser must compute the same result (use ctx.stub.get_tx_timestamp()).
    """

    name: ClassVar[str]


def submit(fn: F) -> F:
    """Mark a contract function that changes state: clients submit it for ordering."""
    setattr(fn, KIND_ATTRIBUTE, "submit")
    return fn


def evaluate(fn: F) -> F:
    """Mark a read-only contract function: clients evaluate it on one peer, nothing is ordered."""
    setattr(fn, KIND_ATTRIBUTE, "evaluate")
    return fn
