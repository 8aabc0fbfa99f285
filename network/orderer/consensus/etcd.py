"""etcd consensus: any number of orderer processes keep one chain in an etcd cluster (its Raft, not ours).

- Leadership: one orderer holds the `leader` key, attached to its lease. When it dies, the lease
  expires after `lease_ttl` seconds and another orderer takes the key; only the leader cuts blocks.
  Broadcast on any other orderer is forwarded to the leader, and answers only once the envelope's
  block is in etcd: a leader's crash before then is an error the client can retry, not a loss.
- Writing: block N goes into etcd in one transaction that succeeds only if block N does not exist
  yet, the `tip` key is still where this orderer's block N-1 put it, and the leader key is still
  this orderer's. Two leaders can therefore never fork the chain, and a deposed one writes nothing.
- Following: every orderer (the leader too) reads the block keys from its height on and then
  watches them, checks each block (number, hash chain, orderer signature) and appends it to its own
  BlockStore, from which it serves Deliver.
- Space: each orderer reports its store's height under `persisted/<id>`; the leader deletes blocks
  that every orderer has stored and that lie more than `retain_blocks` behind the newest, then
  compacts etcd's history. An orderer that needs deleted blocks fetches them from another orderer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aetcd import rpc

from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.orderer.blockmaker import make_block
from careledger.network.orderer.consensus.base import OrderingUnavailable, StoredChain
from careledger.network.orderer.consensus.batcher import Batcher
from careledger.network.orderer.consensus.etcdclient import (
    EtcdClient,
    EtcdError,
    EtcdUnavailable,
    KeyValue,
    Watch,
    prefix_end,
)
from careledger.network.orderer.cutter import BlockCutter
from careledger.protos import common_pb2

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 16  # blocks per range read while catching up: bounded, as blocks may be megabytes
ORDER_WAIT = 10.0  # seconds Broadcast waits on the leader for its envelope's block to be in etcd

# (block, previous header, expected number) -> "" or what is wrong with it
BlockCheck = Callable[[common_pb2.Block, common_pb2.BlockHeader | None, int], str]


class ChainError(Exception):
    """A block cannot be appended here (out of sequence or failing its checks); read etcd again."""


@dataclass(frozen=True)
class ChainKeys:
    """The etcd keys of one channel's chain, all under PREFIX/CHANNEL/."""

    root: bytes

    @classmethod
    def of(cls, prefix: str, channel: str) -> ChainKeys:
        return cls(f"{prefix.rstrip('/')}/{channel}/".encode())

    @property
    def leader(self) -> bytes:
        return self.root + b"leader"

    @property
    def tip(self) -> bytes:
        return self.root + b"tip"

    def block(self, number: int) -> bytes:
        return self.root + b"blocks/%020d" % number

    @property
    def blocks_end(self) -> bytes:
        return prefix_end(self.root + b"blocks/")

    def block_number(self, key: bytes) -> int:
        return int(key[len(self.root) + len(b"blocks/"):])

    def persisted(self, orderer_id: str = "") -> bytes:
        return self.root + b"persisted/" + orderer_id.encode()


@dataclass
class _Ticket:
    """An accepted envelope's wait for its block: done once the block is in etcd, or with why not."""

    done: threading.Event = field(default_factory=threading.Event)
    problem: str = ""


class OtherOrderers(Protocol):
    """How an orderer reaches the others: gRPC in the orderer process, direct calls in tests."""

    def forward(self, orderer_id: str, envelope: bytes) -> None:
        """Broadcast the envelope on that orderer; OrderingUnavailable if it cannot be reached."""

    def fetch(self, start: int, stop: int) -> Iterator[common_pb2.Block]:
        """Blocks start..stop-1 from any other orderer's Deliver, as far as one can give them."""


def _compare(key: bytes, **target: int) -> rpc.Compare:
    (field, value), = target.items()
    kind = {"create_revision": rpc.Compare.CREATE, "mod_revision": rpc.Compare.MOD}[field]
    return rpc.Compare(key=key, target=kind, result=rpc.Compare.EQUAL, **{field: value})


def _put(key: bytes, value: bytes, lease: int = 0) -> rpc.RequestOp:
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))


def write_block(etcd: EtcdClient, keys: ChainKeys, number: int, raw: bytes, tip_rev: int,
                leader_rev: int) -> int | None:
    """Add block `number` to the chain in etcd; its revision, or None if refused.

    Refused unless the block does not exist yet, the tip is still at `tip_rev` (the revision that
    wrote block number-1, 0 for a new chain) and the leader key is still the one created at
    `leader_rev`. The tip check also holds once old blocks are deleted from etcd.
    """
    reply = etcd.txn([_compare(keys.block(number), create_revision=0),
                      _compare(keys.tip, mod_revision=tip_rev),
                      _compare(keys.leader, create_revision=leader_rev)],
                     [_put(keys.block(number), raw), _put(keys.tip, b"%d" % number)])
    return reply.header.revision if reply.succeeded else None


class EtcdConsenter(StoredChain):
    """One orderer's share of the etcd-backed chain: follows it always, cuts blocks while leading."""

    def __init__(self, etcd: EtcdClient, keys: ChainKeys, store: BlockStore, signer: Signer,
                 cutter: BlockCutter, batch_timeout: float, *, me: str, orderers: Sequence[str],
                 others: OtherOrderers, check: BlockCheck, lease_ttl: int = 2, retain_blocks: int = 100,
                 on_block: Callable[[common_pb2.Block], None] = lambda _: None) -> None:
        if retain_blocks < 1:
            raise ValueError("retain_blocks must be at least 1: the newest block always stays in etcd")
        super().__init__(store)  # _grown also guards _last_header and _tip_rev here
        self._etcd = etcd
        self._keys = keys
        self._signer = signer
        self._me = me
        self._orderers = tuple(orderers)
        self._others = others
        self._check = check
        self._ttl = lease_ttl
        self._retain = retain_blocks
        self._on_block = on_block
        self._batcher = Batcher(cutter, batch_timeout, self._write, "etcd-cutter")
        self._last_header = store.get(store.height - 1).header if store.height else None
        self._tip_rev: int | None = None  # etcd revision that wrote our newest block; None: not known
        self._lease: int | None = None
        self._leader_rev: int | None = None  # create revision of the leader key while we hold it
        self._leader_id: str | None = None  # who leads, as last read
        self._reported = -1
        self._dropped_below = 0
        self._watch: Watch | None = None
        self._tickets: dict[bytes, _Ticket] = {}
        self._tickets_lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._follow, name="etcd-follower", daemon=True),
                         threading.Thread(target=self._leadership, name="etcd-leadership", daemon=True)]
        self._problems: dict[str, str] = {}  # by concern: following, leading, the chain itself

    # -- the Consenter protocol ----------------------------------------------------------------

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._batcher.start()

    def stop(self) -> None:
        """Stop cutting and following; give up the lease at once so another orderer leads now."""
        self._stopping.set()
        self._batcher.stop()
        with self._tickets_lock:
            waiting = list(self._tickets)
        self._settle(waiting, "the orderer is stopping")
        if self._watch is not None:
            self._watch.cancel()
        if self._lease is not None:
            try:
                self._etcd.revoke(self._lease)
            except EtcdError as exc:
                log.warning("could not revoke lease on stopping (it expires by itself): %s", exc)
        for thread in self._threads:
            thread.join(timeout=5)
        self._etcd.close()

    def order(self, envelope: bytes) -> None:
        """Return once the envelope is in a block that a majority of etcd members stored.

        The leader cuts it; any other orderer forwards it there. If the leader dies first, the
        caller gets OrderingUnavailable and may retry, rather than an answer for a lost envelope.
        """
        if not self._forward(envelope, wait=2 * self._ttl + 1):
            self._cut_and_wait(envelope)

    # -- what operators see ----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._batcher.depth

    @property
    def is_leader(self) -> bool:
        return self._leader_rev is not None

    def problem(self) -> str:
        """What keeps this orderer from following or leading; "" when nothing (for /healthz)."""
        return "; ".join(p for p in self._problems.values() if p)

    # -- ordering ------------------------------------------------------------------------------

    def _forward(self, envelope: bytes, wait: float) -> bool:
        """Send the envelope to the leader, waiting up to `wait` s for one; False if we lead."""
        deadline = time.monotonic() + wait
        while True:
            if self.is_leader:
                return False
            leader = self._leader_id
            if leader is not None and leader != self._me:
                try:
                    self._others.forward(leader, envelope)
                    return True
                except OrderingUnavailable as exc:
                    problem = str(exc)
            else:
                problem = "no orderer leads the channel at the moment (an election is under way)"
            if time.monotonic() > deadline or self._stopping.is_set():
                raise OrderingUnavailable(problem)
            self._stopping.wait(0.2)

    def _cut_and_wait(self, envelope: bytes) -> None:
        ticket = _Ticket()
        with self._tickets_lock:
            self._tickets[envelope] = ticket
        self._batcher.put(envelope)
        if not ticket.done.wait(ORDER_WAIT):
            with self._tickets_lock:
                self._tickets.pop(envelope, None)
            raise OrderingUnavailable(f"not in a block after {ORDER_WAIT:.0f}s; its outcome is unknown: "
                                      "check its commit status before submitting it again")
        if ticket.problem:
            raise OrderingUnavailable(ticket.problem)

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
        while not self._stopping.is_set() and (leader_rev := self._leader_rev) is not None:
            with self._grown:
                number, previous, tip_rev = self._store.height, self._last_header, self._tip_rev
            if any(n < number and self._store.get_bytes(n) == raw for n, raw in attempts.items()):
                return True  # an attempt whose reply was lost did land
            if tip_rev is None:
                self.wait_for_height(number + 1, 0.2)  # still catching up with etcd
                continue
            raw = attempts.get(number) or make_block(number, previous, batch, self._signer).SerializeToString(
                deterministic=True)
            attempts[number] = raw
            try:
                revision = write_block(self._etcd, self._keys, number, raw, tip_rev, leader_rev)
            except EtcdUnavailable as exc:
                log.warning("writing block %d: %s; checking whether it landed", number, exc)
                self._stopping.wait(0.2)
                continue
            if revision is not None:
                self._append(common_pb2.Block.FromString(raw), revision)
                log.info("cut block %d with %d transactions", number, len(batch))
                return True
            log.info("etcd refused block %d: another orderer wrote it or leads now; retrying", number)
            self.wait_for_height(number + 1, 0.5)
        return False

    def _hand_over(self, batch: list[bytes]) -> None:
        """Envelopes accepted while leading go to the new leader rather than being dropped."""
        for envelope in batch:
            try:
                forwarded = self._forward(envelope, wait=2 * self._ttl + 1)
            except Exception as exc:  # unreachable or refused by the new leader: the rest still go
                self._settle([envelope], f"this orderer lost the lead and could not hand over: {exc}")
                continue
            if forwarded:
                self._settle([envelope])
            else:
                self._batcher.put(envelope)  # leading again: a later block here takes it

    # -- following the chain in etcd ---------------------------------------------------------

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                revision = self._catch_up()
                self._problems["follow"] = ""
                self._watch = self._etcd.watch(self._keys.block(self.height), self._keys.blocks_end,
                                               revision + 1)
                if self._stopping.is_set():
                    break
                with self._watch:
                    for events in self._watch:
                        for is_put, kv in events:
                            if is_put:
                                self._receive(kv)
            except (EtcdError, ChainError) as exc:
                if self._stopping.is_set():
                    break
                self._problems["follow"] = f"following the chain in etcd: {exc}"
                log.warning("%s; reading it again", self._problems["follow"])
                self._stopping.wait(0.5)

    def _catch_up(self) -> int:
        """Append every block etcd holds past our height; returns the revision read at."""
        while True:
            start = self.height
            kvs, revision, more = self._etcd.range(self._keys.block(start), self._keys.blocks_end,
                                                   CATCH_UP_BATCH)
            if kvs and (first := self._keys.block_number(kvs[0].key)) > start:
                self._fetch(start, first)
                continue
            for kv in kvs:
                self._receive(kv)
            if not more:
                break
        if self._tip_rev is None:
            self._find_tip_revision()
        return revision

    def _find_tip_revision(self) -> None:
        """After a restart: learn at which etcd revision our newest block was written."""
        tip = self._etcd.get(self._keys.tip)
        height = self.height
        if tip is None:
            if height == 0:
                self._tip_rev = 0  # a new chain
            else:
                self._chain_problem(f"etcd holds no chain, yet this orderer stored {height} blocks: "
                                    "was the etcd cluster's data lost? This orderer will not lead")
            return
        if int(tip.value) > height - 1:
            return  # behind: the watch brings the rest, and with it the revision
        if int(tip.value) < height - 1:
            self._chain_problem(f"this orderer stored {height} blocks but etcd's chain ends at block "
                                f"{int(tip.value)}: was the etcd cluster restored from an old backup? "
                                "This orderer will not lead")
            return
        kv = self._etcd.get(self._keys.block(height - 1))
        if kv is not None and kv.value == self._store.get_bytes(height - 1):
            with self._grown:
                if self._store.height == height:
                    self._tip_rev = kv.mod_revision
            self._problems["chain"] = ""
        else:
            self._chain_problem(f"block {height - 1} in etcd differs from this orderer's; it will not lead")

    def _chain_problem(self, problem: str) -> None:
        self._problems["chain"] = problem
        log.error(problem)

    def _receive(self, kv: KeyValue) -> None:
        self._append(common_pb2.Block.FromString(kv.value), kv.mod_revision)

    def _fetch(self, start: int, stop: int) -> None:
        log.info("blocks %d..%d are no longer in etcd; fetching them from another orderer", start, stop - 1)
        for block in self._others.fetch(start, stop):
            self._append(block, None)
        if self.height < stop:
            raise ChainError(f"no other orderer delivered blocks {self.height}..{stop - 1}")

    def _append(self, block: common_pb2.Block, revision: int | None) -> None:
        """Store the block if it is the next one; `revision` is the etcd revision that wrote it."""
        with self._grown:
            number, height = block.header.number, self._store.height
            if number < height:
                return
            if number > height:
                raise ChainError(f"block {number} arrived while the store's height is {height}")
            problem = self._check(block, self._last_header, height)
            if problem:
                raise ChainError(f"block {number} rejected: {problem}")
            self._store.append(block)
            self._last_header = block.header
            self._tip_rev = revision
            self._grown.notify_all()
        self._on_block(block)

    # -- leadership, reports and space --------------------------------------------------------

    def _leadership(self) -> None:
        period = self._ttl / 4
        renewed = time.monotonic()
        while not self._stopping.is_set():
            try:
                self._renew_lease()
                renewed = time.monotonic()
                self._observe_leader()
                self._report_height()
                if self.is_leader:
                    self._drop_old_blocks()
                self._problems["lead"] = ""
            except EtcdError as exc:
                self._problems["lead"] = f"leadership: {exc}"
                log.warning(self._problems["lead"])
                if time.monotonic() - renewed > self._ttl - period:
                    self._step_down("its lease could not be renewed in time")
            self._stopping.wait(period)

    def _renew_lease(self) -> None:
        if self._lease is not None and self._etcd.keepalive(self._lease) > 0:
            return
        if self._lease is not None:
            self._step_down("its lease expired")
        self._lease = self._etcd.grant(self._ttl)

    def _observe_leader(self) -> None:
        current = self._etcd.get(self._keys.leader)
        if current is None:
            self._campaign()
            return
        holder = current.value.decode()
        if current.create_revision == self._leader_rev:
            return
        self._step_down(f"{holder} holds the leader key")
        if holder == self._me:  # left by our previous run: free it rather than wait for its lease
            self._etcd.txn([_compare(self._keys.leader, create_revision=current.create_revision)],
                           [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=self._keys.leader))])
            holder = None
        if holder != self._leader_id:
            log.info("orderer %s leads channel ordering", holder)
        self._leader_id = holder

    def _campaign(self) -> None:
        if self._tip_rev is None or self._lease is None:
            return  # not caught up with etcd: leading now could only fail
        reply = self._etcd.txn([_compare(self._keys.leader, create_revision=0)],
                               [_put(self._keys.leader, self._me.encode(), self._lease)])
        if reply.succeeded:
            self._leader_rev = reply.header.revision
            self._leader_id = self._me
            log.info("this orderer now leads: cutting blocks from number %d", self.height)

    def _step_down(self, reason: str) -> None:
        if self._leader_rev is not None:
            self._leader_rev = None
            log.warning("this orderer no longer leads: %s", reason)

    def _report_height(self) -> None:
        height = self.height
        if height != self._reported:
            self._etcd.put(self._keys.persisted(self._me), b"%d" % height)
            self._reported = height

    def _drop_old_blocks(self) -> None:
        """Delete blocks every orderer has stored, keeping the newest `retain_blocks`."""
        height = self.height
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
