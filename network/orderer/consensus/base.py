"""What the orderer needs from a consenter: order envelopes, expose the resulting chain."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from careledger.network.ledger.blockstore import BlockStore
from careledger.network.orderer.cutter import BatchLimits
from careledger.protos import common_pb2


class OrderingUnavailable(Exception):
    """The consenter cannot take envelopes now (e.g. no leader yet); the client may retry elsewhere."""


class Consenter(Protocol):
    """Solo (one process) or etcd (a replicated chain); the orderer's services use only these methods."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    # whether order_all returns only once the envelopes' blocks are stored (etcd), not at once (solo)
    waits_for_blocks: bool

    def order_all(self, items: Sequence[tuple[bytes, bool]]) -> list[Exception | None]:
        """Accept checked envelopes for ordering, each (envelope, alone) to appear in a later block
        (of its own if `alone`: a configuration update); what each raised (None: accepted), e.g.
        OrderingUnavailable when it cannot be accepted now. One BroadcastBatch's envelopes wait
        for their blocks together, not one after another."""

    def set_batch(self, limits: BatchLimits, batch_timeout: float) -> None:
        """Cut blocks by these limits and timeout from now on (the channel configuration)."""

    @property
    def height(self) -> int: ...

    @property
    def queue_depth(self) -> int:
        """Envelopes accepted here but not yet in a block."""

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...


# (number, batch) -> the number of the block whose configuration is in force after that block
LastConfig = Callable[[int, Sequence[bytes]], int]


def no_config(number: int, batch: Sequence[bytes]) -> int:
    """For chains without configuration blocks (unit tests): block 0."""
    return 0


class StoredChain:
    """The chain as this orderer has stored it: what every consenter serves Deliver from.

    Subclasses append under `_grown`, then call `_appended(block)` so that waiters wake.
    """

    def __init__(self, store: BlockStore) -> None:
        self._store = store
        self._grown = threading.Condition()
        # the newest block as written: every Deliver stream asks for it at once, so it is served
        # without reading and parsing the file again (read-only: nothing here changes a block)
        self._tip: common_pb2.Block | None = None

    def _appended(self, block: common_pb2.Block) -> None:
        """Called under `_grown` once `block` is stored."""
        self._tip = block
        self._grown.notify_all()

    @property
    def height(self) -> int:
        return self._store.height

    def get_block(self, number: int) -> common_pb2.Block:
        tip = self._tip
        return tip if tip is not None and tip.header.number == number else self._store.get(number)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        with self._grown:
            return self._grown.wait_for(lambda: self._store.height >= height, timeout)
