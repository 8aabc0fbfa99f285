"""Writing blocks into etcd while leading, and keeping the space they take there bounded.

- Writing: block N goes into etcd in one transaction that succeeds only if block N does not exist
  yet, the `tip` key is still where this orderer's block N-1 put it, and the leader key is still
  this orderer's. Two leaders can therefore never fork the chain, and a deposed one writes nothing.
  Broadcast on the leader answers only once the envelope's block is in etcd.
- Space: each orderer reports its store's height under `persisted/<id>`; the leader deletes blocks
  that every orderer has stored and that lie more than `retain_blocks` behind the newest, then
  compacts etcd's history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from careledger.network.identity.signing import Signer
from careledger.network.orderer.blockmaker import make_block
from careledger.network.orderer.consensus.base import LastConfig, OrderingUnavailable, no_config
from careledger.network.orderer.consensus.batcher import Batcher
from careledger.network.orderer.consensus.etcdchain import ChainError, ChainKeys, LocalChain, compare, put
from careledger.network.orderer.consensus.etcdclient import EtcdClient, EtcdError, EtcdUnavailable, prefix_end
from careledger.network.orderer.consensus.etcdleader import Leadership
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.protos import common_pb2

log = logging.getLogger(__name__)

ORDER_WAIT = 10.0  # seconds Broadcast waits on the leader for its envelope's block to be in etcd


def write_block(etcd: EtcdClient, keys: ChainKeys, number: int, raw: bytes, tip_rev: int,
                leader_rev: int) -> int | None:
    """Add block `number` to the chain in etcd; its revision, or None if refused.

    Refused unless the block does not exist yet, the tip is still at `tip_rev` (the revision that
    wrote block number-1, 0 for a new chain) and the leader key is still the one created at
    `leader_rev`. The tip check also holds once old blocks are deleted from etcd.
    """
    reply = etcd.txn([compare(keys.block(number), create_revision=0),
                      compare(keys.tip, mod_revision=tip_rev),
                      compare(keys.leader, create_revision=leader_rev)],
                     [put(keys.block(number), raw), put(keys.tip, b"%d" % number)])
    return reply.header.revision if reply.succeeded else None


@dataclass
class _Ticket:
    """An accepted envelope's wait for its block: done once the block is in etcd, or with why not."""

    done: threading.Event = field(default_factory=threading.Event)
    problem: str = ""


class BlockWriter:
    """Cuts the envelopes given to it into blocks and writes each into etcd while this orderer leads.

    Envelopes still queued when it stops leading go to the new leader through `hand_over` (which
    answers False if this orderer leads again by then).
    """

    def __init__(self, etcd: EtcdClient, keys: ChainKeys, chain: LocalChain, leadership: Leadership,
                 signer: Signer, cutter: BlockCutter, *, batch_timeout: float, stopping: threading.Event,
                 hand_over: Callable[[bytes], bool], last_config: LastConfig = no_config) -> None:
        self._etcd = etcd
        self._keys = keys
        self._chain = chain
        self._leadership = leadership
        self._signer = signer
        self._stopping = stopping
        self._hand_over_one = hand_over
        self._cutter = cutter
        self._last_config = last_config
        self._batcher = Batcher(cutter, batch_timeout, self._write, "etcd-cutter")
        self._tickets: dict[bytes, _Ticket] = {}
        self._tickets_lock = threading.Lock()

    @property
    def queue_depth(self) -> int:
        """Envelopes accepted here but not yet in a block."""
        return self._batcher.depth

    def start(self) -> None:
        """Start cutting on the batcher's thread."""
        self._batcher.start()

    def stop(self) -> None:
        """Stop cutting; Broadcasts still waiting get OrderingUnavailable.

        The consenter sets `stopping` first.
        """
        self._batcher.stop()
        with self._tickets_lock:
            waiting = list(self._tickets)
        self._settle(waiting, "the orderer is stopping")

    def set_batch(self, limits: BatchLimits, batch_timeout: float) -> None:
        """Cut by these limits and timeout from now on (the channel configuration)."""
        self._cutter.set_limits(limits)
        self._batcher.set_timeout(batch_timeout)

    def cut_and_wait(self, envelope: bytes, alone: bool = False) -> None:
        """Queue the envelope (for a block of its own if `alone`) and return once its block is in
        etcd; OrderingUnavailable if it is not."""
        problem = self.cut_all_and_wait([(envelope, alone)])[0]
        if problem:
            raise OrderingUnavailable(problem)

    def cut_all_and_wait(self, items: Sequence[tuple[bytes, bool]]) -> list[str]:
        """cut_and_wait for each (envelope, alone), waiting for all at once: why each is not in a
        block ("" once it is)."""
        tickets = [_Ticket() for _ in items]
        with self._tickets_lock:
            for (envelope, _), ticket in zip(items, tickets, strict=True):
                self._tickets[envelope] = ticket
        self._batcher.put_all(items)
        deadline = time.monotonic() + ORDER_WAIT
        problems = []
        for (envelope, _), ticket in zip(items, tickets, strict=True):
            if ticket.done.wait(max(0.0, deadline - time.monotonic())):
                problems.append(ticket.problem)
                continue
            with self._tickets_lock:
                self._tickets.pop(envelope, None)
            problems.append(f"not in a block after {ORDER_WAIT:.0f}s; its outcome is unknown: "
                            "check its commit status before submitting it again")
        return problems

    def _settle(self, envelopes: list[bytes], problem: str = "") -> None:
        """Answer the Broadcasts waiting for these envelopes."""
        with self._tickets_lock:
            tickets = [self._tickets.pop(e, None) for e in envelopes]
        for ticket in tickets:
            if ticket is not None:
                ticket.problem = problem
                ticket.done.set()

    def _write(self, batch: list[bytes]) -> None:
        """Batcher callback: put the batch in the chain, or pass it on if we no longer lead."""
        try:
            if self._publish(batch):
                self._settle(batch)
            else:
                self._hand_over(batch)
        except (EtcdError, ChainError) as exc:  # what retrying cannot cure, such as a block too large
            log.error("a block of %d transactions could not be written and is dropped: %s (is etcd's "
                      "--max-request-bytes below the orderer's batch_max_bytes?)", len(batch), exc)
            self._settle(batch, f"the block could not be written: {exc}")

    def _publish(self, batch: list[bytes]) -> bool:
        """Write the batch as the next block; False if this orderer stopped leading first."""
        attempts: dict[int, bytes] = {}  # block bytes we sent per number, outcome possibly unknown
        while not self._stopping.is_set() and (leader_rev := self._leadership.leader_revision) is not None:
            number, previous, tip_rev = self._chain.next_block()
            if any(n < number and self._chain.get_bytes(n) == raw for n, raw in attempts.items()):
                return True  # an attempt whose reply was lost did land
            if tip_rev is None:
                self._chain.wait_for_height(number + 1, 0.2)  # still catching up with etcd
                continue
            raw = attempts.get(number) or make_block(
                number, previous, batch, self._signer,
                last_config=self._last_config(number, batch)).SerializeToString(deterministic=True)
            attempts[number] = raw
            try:
                revision = write_block(self._etcd, self._keys, number, raw, tip_rev, leader_rev)
            except EtcdUnavailable as exc:
                log.warning("writing block %d: %s; checking whether it landed", number, exc)
                self._stopping.wait(0.2)
                continue
            if revision is not None:
                self._chain.append(common_pb2.Block.FromString(raw), revision)
                log.info("cut block %d with %d transactions", number, len(batch))
                return True
            log.info("etcd refused block %d: another orderer wrote it or leads now; retrying", number)
            self._chain.wait_for_height(number + 1, 0.5)
        return False

    def _hand_over(self, batch: list[bytes]) -> None:
        """Envelopes accepted while leading go to the new leader rather than being dropped."""
        for envelope in batch:
            try:
                forwarded = self._hand_over_one(envelope)
            except Exception as exc:  # unreachable or refused by the new leader: the rest still go
                self._settle([envelope], f"this orderer lost the lead and could not hand over: {exc}")
                continue
            if forwarded:
                self._settle([envelope])
            else:
                self._batcher.put(envelope)  # leading again: a later block here takes it


class BlockRetention:
    """Bounds the chain's space in etcd: old blocks go once every orderer has stored them."""

    def __init__(self, etcd: EtcdClient, keys: ChainKeys, chain: LocalChain, *, me: str,
                 orderers: Sequence[str], retain_blocks: int) -> None:
        self._etcd = etcd
        self._keys = keys
        self._chain = chain
        self._me = me
        self._orderers = tuple(orderers)
        self._retain = retain_blocks
        self._reported = -1
        self._dropped_below = 0

    def report_height(self) -> None:
        """Put this orderer's stored height under `persisted/<id>` when it changed."""
        height = self._chain.height
        if height != self._reported:
            self._etcd.put(self._keys.persisted(self._me), b"%d" % height)
            self._reported = height

    def drop_old_blocks(self) -> None:
        """Delete blocks every orderer has stored, keeping the newest `retain_blocks`; the leader's duty."""
        height = self._chain.height
        if height - self._dropped_below < self._retain + max(1, self._retain // 4):
            return
        kvs, _, _ = self._etcd.range(self._keys.persisted(), prefix_end(self._keys.persisted()))
        stored = {kv.key[len(self._keys.persisted()):].decode(): int(kv.value) for kv in kvs}
        below = min(min(stored.get(o, 0) for o in self._orderers), height - self._retain)
        if below <= self._dropped_below:
            return
        first_kept = self._etcd.get(self._keys.block(below))
        if first_kept is None:
            return
        self._etcd.delete_range(self._keys.block(0), self._keys.block(below))
        self._etcd.compact(first_kept.mod_revision)
        self._dropped_below = below
        log.info("dropped blocks below %d from etcd (every orderer stored them) and compacted its history",
                 below)
