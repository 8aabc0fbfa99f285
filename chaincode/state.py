"""What a simulation reads committed state through: the peer's state database implements StateView."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Version = tuple[int, int]
"""A committed value's version: (block number, transaction number in the block)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One committed change of a key: which transaction wrote it, when, and the value it left."""

    tx_id: str
    value: bytes
    is_delete: bool
    timestamp: datetime
    block_num: int
    tx_num: int


class StateView(Protocol):
    """Committed world state, read-only, per namespace (= contract name)."""

    def get_state(self, ns: str, key: str) -> tuple[bytes, Version] | None:
        """The committed value and version of `key`, or None when it does not exist."""
        ...

    def get_range(
        self, ns: str, start: str, end: str, limit: int = 0
    ) -> Iterable[tuple[str, bytes, Version]]:
        """Keys in [start, end) sorted by key; an empty `start` or `end` leaves that side open; a
        positive `limit` stops after that many keys (a page must not read the whole range)."""
        ...

    def get_history(self, ns: str, key: str) -> list[HistoryEntry]:
        """Every committed change of `key`, oldest first."""
        ...
