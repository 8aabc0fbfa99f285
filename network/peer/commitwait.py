"""Waiting for one transaction's commit: CommitStatus calls woken by the block that holds it.

A condition notified at each block would wake every waiting call, and each would ask SQLite
again; with a caller per client that is dozens of wake-ups and queries per block. Here each waiting
call has its own event, which the committer's listener sets only for the tx ids of the block it
has just committed: one wake-up per answered call. A coroutine waits the same way on its event
loop (wait_async), woken through the loop; NewBlocks wakes a loop's event streams at each block.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from typing import Protocol

from careledger.network.node.blockstream import BlockSignal
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
        self._waiting: dict[str, list[Callable[[], object]]] = {}  # tx id -> wake-ups
        ledger.add_listener(self._committed)

    def wait(self, tx_id: str, timeout: float) -> tuple[common_pb2.ValidationCode, int] | None:
        """(code, block number) once `tx_id` is committed; None if not within `timeout` seconds."""
        event = threading.Event()
        self._register(tx_id, event.set)
        try:
            deadline = time.monotonic() + timeout
            while (found := self._ledger.tx_status(tx_id)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not event.wait(remaining):
                    return self._ledger.tx_status(tx_id)
                event.clear()
            return found
        finally:
            self._unregister(tx_id, event.set)

    async def wait_async(self, tx_id: str, timeout: float) -> tuple[common_pb2.ValidationCode, int] | None:
        """wait() for a coroutine: the committing thread wakes it through its event loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        wake = functools.partial(loop.call_soon_threadsafe, event.set)
        self._register(tx_id, wake)
        try:
            deadline = loop.time() + timeout
            while (found := self._ledger.tx_status(tx_id)) is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return self._ledger.tx_status(tx_id)
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return self._ledger.tx_status(tx_id)
                event.clear()
            return found
        finally:
            self._unregister(tx_id, wake)

    def _register(self, tx_id: str, wake: Callable[[], object]) -> None:
        with self._lock:  # registered before the first look, so a commit in between still wakes us
            self._waiting.setdefault(tx_id, []).append(wake)

    def _unregister(self, tx_id: str, wake: Callable[[], object]) -> None:
        with self._lock:
            wakes = self._waiting[tx_id]
            wakes.remove(wake)
            if not wakes:
                del self._waiting[tx_id]

    def _committed(self, block: common_pb2.Block, outcomes: list[TxOutcome]) -> None:
        """The ledger's listener (on the committing thread, after the height moved)."""
        with self._lock:
            if not self._waiting:
                return
            woken = [w for o in outcomes for w in self._waiting.get(o.tx_id, ())]
        for wake in woken:
            wake()


class NewBlocks(BlockSignal):
    """Wakes the coroutines of one event loop that wait for the ledger's next block."""

    def __init__(self, ledger: CommittingLedger) -> None:
        super().__init__()
        ledger.add_listener(self.added)
