"""CommitWaiters: a CommitStatus wait wakes for the block holding its tx, and only for that one."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

from careledger.network.peer.commitwait import CommitWaiters, Listener, NewBlocks
from careledger.network.peer.outcome import TxOutcome
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode


class FakeLedger:
    """Committed tx ids and the listeners of a ledger; counts status lookups."""

    def __init__(self) -> None:
        self.committed: dict[str, tuple[common_pb2.ValidationCode, int]] = {}
        self.listeners: list[Listener] = []
        self.lookups = 0

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None:
        self.lookups += 1
        return self.committed.get(tx_id)

    def add_listener(self, fn: Listener) -> None:
        self.listeners.append(fn)

    def commit(self, number: int, *tx_ids: str) -> None:
        outcomes = [TxOutcome(t, VC.VALID, "basic", (), None, datetime.now(UTC)) for t in tx_ids]
        for t in tx_ids:
            self.committed[t] = (VC.VALID, number)
        block = common_pb2.Block(header=common_pb2.BlockHeader(number=number))
        for fn in self.listeners:
            fn(block, outcomes)


def _waiting(waiters: CommitWaiters, tx_id: str, out: dict[str, object]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.update({tx_id: waiters.wait(tx_id, 5)}))
    thread.start()
    time.sleep(0.05)  # let it register and look once
    return thread


def test_a_wait_wakes_at_its_block_only() -> None:
    ledger = FakeLedger()
    waiters = CommitWaiters(ledger)
    out: dict[str, object] = {}
    thread = _waiting(waiters, "tx-b", out)
    looked = ledger.lookups
    ledger.commit(0, "tx-a")  # another block: no wake-up, no lookup
    time.sleep(0.05)
    assert ledger.lookups == looked and thread.is_alive()
    ledger.commit(1, "tx-c", "tx-b")
    thread.join(2)
    assert out == {"tx-b": (VC.VALID, 1)}
    assert not waiters._waiting  # nothing left behind


def test_committed_before_the_wait_answers_at_once_and_timeout_gives_none() -> None:
    ledger = FakeLedger()
    waiters = CommitWaiters(ledger)
    ledger.commit(0, "tx-a")
    assert waiters.wait("tx-a", 0) == (VC.VALID, 0)
    began = time.monotonic()
    assert waiters.wait("tx-never", 0.1) is None
    assert time.monotonic() - began >= 0.1
    assert not waiters._waiting


def test_many_waits_for_one_tx_all_wake() -> None:
    ledger = FakeLedger()
    waiters = CommitWaiters(ledger)
    out: list[object] = []
    threads = [threading.Thread(target=lambda: out.append(waiters.wait("tx-a", 5))) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    ledger.commit(4, "tx-a")
    for t in threads:
        t.join(2)
    assert out == [(VC.VALID, 4)] * 3


def test_a_coroutine_wait_is_woken_through_its_loop_by_the_committing_thread() -> None:
    ledger = FakeLedger()
    waiters = CommitWaiters(ledger)
    blocks = NewBlocks(ledger)

    async def main() -> tuple[object, object, bool]:
        waiting = asyncio.ensure_future(waiters.wait_async("tx-b", 5))
        next_block = asyncio.ensure_future(blocks.wait(5))
        await asyncio.sleep(0.05)
        committer = threading.Thread(target=ledger.commit, args=(0, "tx-a"))
        committer.start()  # another tx: the block wakes event streams, not this commit wait
        await asyncio.wait_for(next_block, 2)
        early = waiting.done()
        threading.Thread(target=ledger.commit, args=(1, "tx-b")).start()
        return await asyncio.wait_for(waiting, 2), await waiters.wait_async("tx-none", 0.05), early

    found, missing, early = asyncio.run(main())
    assert (found, missing, early) == ((VC.VALID, 1), None, False)
    assert not waiters._waiting
