"""etcd consensus: any number of orderer processes keep one chain in an etcd cluster (its Raft, not ours).

Each orderer's EtcdConsenter is three parts over one LocalChain (etcdchain.py), the copy of the
chain that the orderer stores and serves Deliver from:

- Leadership (etcdleader.py): one orderer holds the `leader` key, attached to its lease. When it
  dies, the lease expires after `lease_ttl` seconds and another orderer takes the key; only the
  leader cuts blocks.
- Following (etcdfollower.py): every orderer (the leader too) reads the chain's blocks from etcd,
  checks and stores them; one that needs blocks already deleted from etcd fetches them from another
  orderer. Broadcast on any orderer but the leader is forwarded to the leader.
- Writing (etcdwriter.py): the leader writes each block by compare-and-set, fenced on the tip and
  its leader key, so two leaders can never fork the chain; Broadcast answers only once the
  envelope's block is in etcd, so a leader's crash before then is an error the client can retry,
  not a loss. The leader also deletes blocks every orderer stored and compacts etcd's history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.orderer.consensus.base import LastConfig, OrderingUnavailable, no_config
from careledger.network.orderer.consensus.etcdchain import BlockCheck, ChainKeys, LocalChain
from careledger.network.orderer.consensus.etcdclient import EtcdClient
from careledger.network.orderer.consensus.etcdfollower import ChainFollower, OtherOrderers
from careledger.network.orderer.consensus.etcdleader import Leadership
from careledger.network.orderer.consensus.etcdwriter import BlockRetention, BlockWriter
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.protos import common_pb2


@dataclass(frozen=True)
class EtcdConsenterSettings:
    """How one orderer takes part in a channel's etcd-backed chain."""

    keys: ChainKeys
    me: str  # this orderer's id
    orderers: tuple[str, ...]  # every orderer of the channel: old blocks stay until each stored them
    batch_timeout: float  # seconds a partial batch waits before it is cut
    lease_ttl: int = 2  # seconds until a dead leader's key expires
    retain_blocks: int = 100  # blocks kept in etcd behind the newest, once every orderer stored them

    def __post_init__(self) -> None:
        if self.retain_blocks < 1:
            raise ValueError("retain_blocks must be at least 1: the newest block always stays in etcd")

    @property
    def forward_wait(self) -> float:
        """Seconds a Broadcast waits for a leader to forward to: long enough for one election."""
        return 2 * self.lease_ttl + 1


class EtcdConsenter:
    """One orderer's share of the etcd-backed chain: follows it always, cuts blocks while leading."""

    waits_for_blocks = True

    def __init__(self, etcd: EtcdClient, store: BlockStore, signer: Signer, cutter: BlockCutter,
                 settings: EtcdConsenterSettings, *, others: OtherOrderers, check: BlockCheck,
                 on_block: Callable[[common_pb2.Block], None] = lambda _: None,
                 last_config: LastConfig = no_config, genesis: bytes = b"") -> None:
        self._etcd = etcd
        self._settings = settings
        self._stopping = threading.Event()
        self._chain = LocalChain(store, check, on_block)
        self._retention = BlockRetention(etcd, settings.keys, self._chain, me=settings.me,
                                         orderers=settings.orderers, retain_blocks=settings.retain_blocks)
        self._leadership = Leadership(etcd, settings.keys, self._chain, me=settings.me,
                                      lease_ttl=settings.lease_ttl, stopping=self._stopping,
                                      duties=self._duties)
        self._follower = ChainFollower(etcd, settings.keys, self._chain, self._leadership, others,
                                       stopping=self._stopping, genesis=genesis)
        self._writer = BlockWriter(etcd, settings.keys, self._chain, self._leadership, signer, cutter,
                                   batch_timeout=settings.batch_timeout, stopping=self._stopping,
                                   hand_over=self._forward, last_config=last_config)

    # -- the Consenter protocol ----------------------------------------------------------------

    def start(self) -> None:
        """Start following, the leadership rounds and cutting, each on its own thread."""
        self._follower.start()
        self._leadership.start()
        self._writer.start()

    def stop(self) -> None:
        """Stop cutting and following; give up the lease at once so another orderer leads now."""
        self._stopping.set()
        self._writer.stop()
        self._leadership.stop()
        self._follower.stop()
        self._etcd.close()

    def order(self, envelope: bytes, alone: bool = False) -> None:
        """Return once the envelope is in a block that a majority of etcd members stored.

        The leader cuts it; any other orderer forwards it there. If the leader dies first, the
        caller gets OrderingUnavailable and may retry, rather than an answer for a lost envelope.
        """
        if not self._forward(envelope):
            self._writer.cut_and_wait(envelope, alone)

    def order_all(self, items: Sequence[tuple[bytes, bool]]) -> list[Exception | None]:
        """order() for each envelope: the leader waits for all their blocks at once; another
        orderer forwards each to the leader, on threads of its own (the rare path: gateways
        send to an orderer that mostly leads)."""
        if self._leadership.is_leader:
            return [OrderingUnavailable(p) if p else None for p in self._writer.cut_all_and_wait(items)]
        with ThreadPoolExecutor(len(items), thread_name_prefix="forward") as pool:
            return list(pool.map(self._outcome, items))

    def _outcome(self, item: tuple[bytes, bool]) -> Exception | None:
        try:
            self.order(*item)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, item by item
            return exc
        return None

    def set_batch(self, limits: BatchLimits, batch_timeout: float) -> None:
        """Cut blocks by these limits and timeout whenever this orderer leads."""
        self._writer.set_batch(limits, batch_timeout)

    @property
    def height(self) -> int:
        """Blocks stored on this orderer."""
        return self._chain.height

    def get_block(self, number: int) -> common_pb2.Block:
        """Block `number` as stored on this orderer."""
        return self._chain.get_block(number)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Wait until this orderer stored `height` blocks; False on timeout."""
        return self._chain.wait_for_height(height, timeout)

    # -- what operators see ----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Envelopes accepted here but not yet in a block."""
        return self._writer.queue_depth

    @property
    def is_leader(self) -> bool:
        """Whether this orderer leads, as of its last leadership round."""
        return self._leadership.is_leader

    def problem(self) -> str:
        """What keeps this orderer from following or leading; "" when nothing (for /healthz)."""
        return "; ".join(p for p in (self._follower.problem(), self._leadership.problem()) if p)

    # -- wiring --------------------------------------------------------------------------------

    def _forward(self, envelope: bytes) -> bool:
        return self._follower.forward(envelope, wait=self._settings.forward_wait)

    def _duties(self, leading: bool) -> None:
        """Each leadership round: report our height; the leader also frees space in etcd."""
        self._retention.report_height()
        if leading:
            self._retention.drop_old_blocks()
