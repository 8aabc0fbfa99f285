"""Waiting for one transaction's commit: CommitStatus calls woken by the block that holds it.

A condition notified at each block would wake every waiting call, and each would ask SQLite
again; with a caller per client that is dozens of wake-ups and queries per block. Here each waiting
call has its own future, which the committer's listener settles, with the outcome the block gives
its tx, only for the tx ids of the block it has just committed: no second look at SQLite. The
coroutines of one event loop (wait_async) are settled with one wake-up of that loop per block;
NewBlocks wakes a loop's event streams at each block.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, Protocol

from careledger.network.node.blockstream import BlockSignal
from careledger.network.peer.outcome import TxOutcome
from careledger.protos import common_pb2

Listener = Callable[[common_pb2.Block, list[TxOutcome]], None]


class CommittingLedger(Protocol):
    """What the waiters need of a ledger: a tx's status, and a call after each commit."""

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None: ...

    def add_listener(self, fn: Listener) -> None: ...


Status = tuple[common_pb2.ValidationCode, int]  # (validation code, block number)
# a waiting call: its event loop (None for a thread) and the future its block settles
_Waiter = tuple[asyncio.AbstractEventLoop | None, asyncio.Future[Status] | futures.Future[Status]]


class CommitWaiters:
    """Per-transaction commit waits over one ledger."""

    def __init__(self, ledger: CommittingLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Waiter]] = {}  # tx id -> waiting calls
        ledger.add_listener(self._committed)

    def wait(self, tx_id: str, timeout: float) -> Status | None:
        """(code, block number) once `tx_id` is committed; None if not within `timeout` seconds."""
        future: futures.Future[Status] = futures.Future()
        waiter: _Waiter = (None, future)
        self._register(tx_id, waiter)
        try:
            found = self._ledger.tx_status(tx_id)
            if found is not None:
                return found
            try:
                return future.result(timeout)
            except TimeoutError:
                return self._ledger.tx_status(tx_id)
        finally:
            self._unregister(tx_id, waiter)

    async def wait_async(self, tx_id: str, timeout: float) -> Status | None:
        """wait() for a coroutine: the committing thread settles its future through its loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Status] = loop.create_future()
        waiter: _Waiter = (loop, future)
        self._register(tx_id, waiter)
        try:
            found = self._ledger.tx_status(tx_id)
            if found is not None:
                return found
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                return self._ledger.tx_status(tx_id)
        finally:
            self._unregister(tx_id, waiter)

    def _register(self, tx_id: str, waiter: _Waiter) -> None:
        with self._lock:  # registered before the first look, so a commit in between still settles it
            self._waiting.setdefault(tx_id, []).append(waiter)

    def _unregister(self, tx_id: str, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiting[tx_id]
            waiters.remove(waiter)
            if not waiters:
                del self._waiting[tx_id]

    def _committed(self, block: common_pb2.Block, outcomes: list[TxOutcome]) -> None:
        """The ledger's listener (on the committing thread, after the height moved): settles each
        waiting call with its tx's outcome, the first if the block holds the tx id twice, as the
        ledger records it; one wake-up per event loop, however many of its calls the block answers."""
        with self._lock:
            if not self._waiting:
                return
            settled = [(waiter, (o.code, block.header.number))
                       for o in outcomes for waiter in self._waiting.get(o.tx_id, ())]
        on_loops: dict[asyncio.AbstractEventLoop, list[tuple[Any, Status]]] = {}
        for (loop, future), status in settled:
            if loop is None:
                _settle([(future, status)])
            else:
                on_loops.setdefault(loop, []).append((future, status))
        for loop, items in on_loops.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # its loop closed: nobody waits there any more
                pass


def _settle(items: list[tuple[Any, Status]]) -> None:
    """Give each future its status, unless it has one (or timed out) already."""
    for future, status in items:
        if not future.done():
            future.set_result(status)


class NewBlocks(BlockSignal):
    """Wakes the coroutines of one event loop that wait for the ledger's next block."""

    def __init__(self, ledger: CommittingLedger) -> None:
        super().__init__()
        ledger.add_listener(self.added)
