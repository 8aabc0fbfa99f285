"""Waiting for one transaction's commit: CommitStatus calls woken by the block that holds it.

A condition notified at each block would wake every waiting call, and each would ask SQLite
again; with a caller per client that is dozens of wake-ups and queries per block. Here each waiting
call has its own event, which the committer's listener sets only for the tx ids of the block it
has just committed: one wake-up per answered call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from careledger.network.peer.outcome import TxOutcome
from careledger.protos import common_pb2

Listener = Callable[[common_pb2.Block, list[TxOutcome]], None]


class CommittingLedger(Protocol):
    """What the waiters need of a ledger: a tx's status, and a call after each commit."""

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None: ...

    def add_listener(self, fn: Listener) -> None: ...


class CommitWaiters:
    """Per-transaction commit waits over one ledger."""

    def __init__(self, ledger: CommittingLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._waiting: dict[str, list[threading.Event]] = {}
        ledger.add_listener(self._committed)

    def wait(self, tx_id: str, timeout: float) -> tuple[common_pb2.ValidationCode, int] | None:
        """(code, block number) once `tx_id` is committed; None if not within `timeout` seconds."""
        event = threading.Event()
        with self._lock:  # registered before the first look, so a commit in between still wakes us
            self._waiting.setdefault(tx_id, []).append(event)
        try:
            deadline = time.monotonic() + timeout
            while (found := self._ledger.tx_status(tx_id)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not event.wait(remaining):
                    return self._ledger.tx_status(tx_id)
                event.clear()
            return found
        finally:
            with self._lock:
                events = self._waiting[tx_id]
                events.remove(event)
                if not events:
                    del self._waiting[tx_id]

    def _committed(self, block: common_pb2.Block, outcomes: list[TxOutcome]) -> None:
        """The ledger's listener (on the committing thread, after the height moved)."""
        with self._lock:
            if not self._waiting:
                return
            woken = [e for o in outcomes for e in self._waiting.get(o.tx_id, ())]
        for event in woken:
            event.set()
