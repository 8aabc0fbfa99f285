"""Stream blocks from a number onward, then follow new ones: Deliver and event streams share it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from careledger.protos import common_pb2


class BlockSource(Protocol):
    """Anything that holds a growing chain: the orderer's consenter or a peer's ledger."""

    @property
    def height(self) -> int: ...

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...


def follow(source: BlockSource, start: int, is_active: Callable[[], bool],
           stop: int | None = None, poll: float = 0.25) -> Iterator[common_pb2.Block]:
    """Yield blocks start..stop (inclusive), or forever when stop is None, while is_active()."""
    number = start
    while is_active() and (stop is None or number <= stop):
        if number < source.height:
            yield source.get_block(number)
            number += 1
        else:
            source.wait_for_height(number + 1, poll)
