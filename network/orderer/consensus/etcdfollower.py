"""Following the chain in etcd, and forwarding Broadcast to the orderer that leads.

Every orderer (the leader too) reads the block keys from its height on and then watches them,
checks each block (number, hash chain, orderer signature) and appends it to its LocalChain, from
which it serves Deliver. Blocks that the leader already deleted from etcd come from another
orderer's Deliver instead. Broadcast on an orderer that does not lead goes to the leader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Protocol

from careledger.network.orderer.consensus.base import OrderingUnavailable
from careledger.network.orderer.consensus.etcdchain import ChainError, ChainKeys, LocalChain, seed_genesis
from careledger.network.orderer.consensus.etcdclient import EtcdClient, EtcdError, KeyValue, Watch
from careledger.network.orderer.consensus.etcdleader import Leadership
from careledger.protos import common_pb2

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 16  # blocks per range read while catching up: bounded, as blocks may be megabytes


class OtherOrderers(Protocol):
    """How an orderer reaches the others: gRPC in the orderer process, direct calls in tests."""

    def forward(self, orderer_id: str, envelope: bytes) -> None:
        """Broadcast the envelope on that orderer; OrderingUnavailable if it cannot be reached."""

    def fetch(self, start: int, stop: int) -> Iterator[common_pb2.Block]:
        """Blocks start..stop-1 from any other orderer's Deliver, as far as one can give them."""


class ChainFollower:
    """Keeps the LocalChain level with etcd on its own thread, and forwards envelopes to the leader."""

    def __init__(self, etcd: EtcdClient, keys: ChainKeys, chain: LocalChain, leadership: Leadership,
                 others: OtherOrderers, *, stopping: threading.Event, genesis: bytes = b"") -> None:
        self._etcd = etcd
        self._keys = keys
        self._chain = chain
        self._leadership = leadership
        self._others = others
        self._stopping = stopping
        self._genesis = genesis  # block 0 of a new channel, put into etcd if it holds no chain yet
        self._watch: Watch | None = None
        self._problems: dict[str, str] = {}  # by concern: following, the chain itself
        self._thread = threading.Thread(target=self._follow, name="etcd-follower", daemon=True)

    def problem(self) -> str:
        """What keeps this orderer from following the chain, or from trusting it; "" when nothing."""
        return "; ".join(p for p in self._problems.values() if p)

    def start(self) -> None:
        """Start following on its own thread."""
        self._thread.start()

    def stop(self) -> None:
        """End the watch and wait for the thread; the consenter sets `stopping` first."""
        if self._watch is not None:
            self._watch.cancel()
        self._thread.join(timeout=5)

    def forward(self, envelope: bytes, wait: float) -> bool:
        """Send the envelope to the leader, waiting up to `wait` s for one; False if we lead.

        Raises OrderingUnavailable when no leader took it in time.
        """
        deadline = time.monotonic() + wait
        while True:
            if self._leadership.is_leader:
                return False
            leader = self._leadership.leader_id
            if leader is not None and leader != self._leadership.me:
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

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._genesis and self._chain.height == 0 and seed_genesis(self._etcd, self._keys,
                                                                              self._genesis):
                    log.info("put the genesis block into etcd as block 0 of a new chain")
                revision = self._catch_up()
                self._problems["follow"] = ""
                self._watch = self._etcd.watch(self._keys.block(self._chain.height), self._keys.blocks_end,
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
            start = self._chain.height
            kvs, revision, more = self._etcd.range(self._keys.block(start), self._keys.blocks_end,
                                                   CATCH_UP_BATCH)
            if kvs and (first := self._keys.block_number(kvs[0].key)) > start:
                self._fetch(start, first)
                continue
            for kv in kvs:
                self._receive(kv)
            if not more:
                break
        if self._chain.tip_revision is None:
            self._find_tip_revision()
        return revision

    def _find_tip_revision(self) -> None:
        """After a restart: learn at which etcd revision our newest block was written."""
        tip = self._etcd.get(self._keys.tip)
        height = self._chain.height
        if tip is None:
            if height == 0:
                self._chain.learn_tip_revision(0, 0)  # a new chain
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
        if kv is not None and kv.value == self._chain.get_bytes(height - 1):
            self._chain.learn_tip_revision(height, kv.mod_revision)
            self._problems["chain"] = ""
        else:
            self._chain_problem(f"block {height - 1} in etcd differs from this orderer's; it will not lead")

    def _chain_problem(self, problem: str) -> None:
        self._problems["chain"] = problem
        log.error(problem)

    def _receive(self, kv: KeyValue) -> None:
        self._chain.append(common_pb2.Block.FromString(kv.value), kv.mod_revision)

    def _fetch(self, start: int, stop: int) -> None:
        log.info("blocks %d..%d are no longer in etcd; fetching them from another orderer", start, stop - 1)
        for block in self._others.fetch(start, stop):
            self._chain.append(block, None)
        if self._chain.height < stop:
            raise ChainError(f"no other orderer delivered blocks {self._chain.height}..{stop - 1}")
