"""The tx ids an orderer refuses as replays: those in the blocks of the replay window.

Broadcast refuses a proposal dated further than the channel's clock skew from the orderer's clock
(network/node/envelope.py), so a tx id can pass admission again only while its proposal time lies
within the skew of now. When it was ordered, it was admitted within the skew of its proposal time,
and its block was cut after that:

    block time >= admission time >= proposal time - skew >= now - 2 x skew

So an orderer needs the tx ids of the blocks cut in the last 2 x skew (plus a margin for orderers'
clocks that differ), not of the whole chain: start-up reads the chain back from its tail until a
block older than that, O(transactions of the last minutes) instead of O(chain) (7.6 s at 1 M
transactions before), and ids whose blocks leave the window are forgotten, so memory stays bounded
too. A replay the orderer lets through anyway (a block cut by an orderer whose clock lagged
further than the margin) is still counted once: committers mark it DUPLICATE_TXID.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from careledger.network.ledger import txtime
from careledger.protos import common_pb2

CLOCK_MARGIN = timedelta(seconds=60)  # how far orderers' clocks may differ, beyond the window


def replay_window(clock_skew: timedelta) -> timedelta:
    """How long an ordered tx id must be remembered under this clock skew."""
    return 2 * clock_skew + CLOCK_MARGIN


def tx_ids(block: common_pb2.Block) -> tuple[str, ...]:
    """The tx ids of a block's envelopes, in order."""
    ids = []
    for env_bytes in block.data.envelopes:
        tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env_bytes).payload)
        ids.append(common_pb2.Proposal.FromString(tx.proposal).header.tx_id)
    return tuple(ids)


class RecentTxIds:
    """The tx ids of the blocks cut within the window of now; thread-safe."""

    def __init__(self, window: Callable[[], timedelta],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._window = window  # follows the clock skew in force
        self._clock = clock
        self._lock = threading.Lock()
        self._blocks: deque[tuple[int, datetime, tuple[str, ...]]] = deque()  # oldest first
        self._newest: dict[str, int] = {}  # tx id -> the newest block holding it

    def load(self, height: int, get_block: Callable[[int], common_pb2.Block]) -> int:
        """Remember the chain's blocks within the window, read back from block `height - 1`;
        returns how many were read."""
        oldest = self._clock() - self._window()
        recent = []  # newest first; only the ids are kept, not the parsed blocks
        for number in range(height - 1, -1, -1):
            block = get_block(number)
            at = txtime.block_time(block.header)
            if at is None or at < oldest:  # block times never decrease: all before are older
                break
            recent.append((number, at, tx_ids(block)))
        for number, at, ids in reversed(recent):
            self._add(number, at, ids)
        return len(recent)

    def add(self, block: common_pb2.Block) -> None:
        """Remember a stored block's tx ids; forget those of blocks that left the window."""
        self._add(block.header.number, txtime.block_time(block.header) or self._clock(), tx_ids(block))

    def _add(self, number: int, at: datetime, ids: tuple[str, ...]) -> None:
        with self._lock:
            self._blocks.append((number, at, ids))
            self._newest.update(dict.fromkeys(ids, number))
            oldest = self._clock() - self._window()
            while self._blocks and self._blocks[0][1] < oldest:
                number, _, gone = self._blocks.popleft()
                for tx_id in gone:
                    if self._newest.get(tx_id) == number:
                        del self._newest[tx_id]

    def __contains__(self, tx_id: object) -> bool:
        with self._lock:
            return tx_id in self._newest

    def __len__(self) -> int:
        with self._lock:
            return len(self._newest)
