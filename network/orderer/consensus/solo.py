"""Solo consensus: one orderer process cuts, signs and persists every block.

Blocks are fsynced to the block store before any peer can fetch them, so a block a peer has seen
survives a crash of the orderer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.orderer.blockmaker import make_block
from careledger.network.orderer.consensus.base import LastConfig, StoredChain, no_config
from careledger.network.orderer.consensus.batcher import Batcher
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.protos import common_pb2

log = logging.getLogger(__name__)


class SoloConsenter(StoredChain):
    waits_for_blocks = False
    def __init__(self, store: BlockStore, signer: Signer, cutter: BlockCutter,
                 batch_timeout: float,
                 on_block: Callable[[common_pb2.Block], None] = lambda _: None,
                 last_config: LastConfig = no_config) -> None:
        super().__init__(store)
        self._signer = signer
        self._on_block = on_block
        self._cutter = cutter
        self._last_config = last_config
        self._batcher = Batcher(cutter, batch_timeout, self._write, "solo-orderer")
        self._last_header = store.get(store.height - 1).header if store.height else None

    def start(self) -> None:
        self._batcher.start()

    def stop(self) -> None:
        self._batcher.stop()

    def order_all(self, items: Sequence[tuple[bytes, bool]]) -> list[Exception | None]:
        self._batcher.put_all(items)
        return [None] * len(items)

    def set_batch(self, limits: BatchLimits, batch_timeout: float) -> None:
        self._cutter.set_limits(limits)
        self._batcher.set_timeout(batch_timeout)

    @property
    def queue_depth(self) -> int:
        """Envelopes accepted but not yet in a block (approximate: read without locking)."""
        return self._batcher.depth

    def _write(self, batch: list[bytes]) -> None:
        number = self._store.height
        block = make_block(number, self._last_header, batch, self._signer,
                           last_config=self._last_config(number, batch))
        self._store.append(block)
        self._last_header = block.header
        with self._grown:
            self._appended(block)
        self._on_block(block)
        log.info("cut block %d with %d transactions", block.header.number, len(batch))  # once delivering
