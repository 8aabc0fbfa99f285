"""Block events: every block the peer commits, with its transactions' validation codes.

The stream resumes at the block after the last one received when its peer restarts or the
connection drops (see careledger.gateway.eventstream), so the listener sees every block once.
"""

from __future__ import annotations

from collections.abc import Iterator

from careledger.gateway.errors import BlockEventsError
from careledger.gateway.eventstream import EventStream, Feed
from careledger.protos import common_pb2, gateway_pb2


class BlockFeed(Feed[common_pb2.Block]):
    """The committed blocks of a channel (the feed's target), resumed at the next block; a
    checkpoint's transaction id is ignored, as a block is delivered whole."""

    name = "block events"
    method = "BlockEvents"
    error = BlockEventsError

    def request(
        self, channel: str, identity: bytes, block: int | None, tx_id: str
    ) -> gateway_pb2.BlockEventsRequest:
        """The request for the blocks from block on."""
        return gateway_pb2.BlockEventsRequest(channel=channel, identity=identity, start_block=block)

    def unpack(
        self, response: gateway_pb2.BlockEventsResponse
    ) -> Iterator[tuple[common_pb2.Block, int, str]]:
        """The one block of a response; the stream resumes at the block after it."""
        yield response.block, response.block.header.number + 1, ""


class BlockEvents(EventStream[common_pb2.Block]):
    """An iterator of committed blocks (validation codes in block.metadata) that blocks for new
    ones and resumes when its peer restarts or the connection drops; close() ends it."""


class FilteredBlockFeed(BlockFeed):
    """Filtered blocks (number, tx ids, validation codes): what every channel member may read."""

    name = "filtered block events"

    def request(
        self, channel: str, identity: bytes, block: int | None, tx_id: str
    ) -> gateway_pb2.BlockEventsRequest:
        """The request for the filtered blocks from block on."""
        return gateway_pb2.BlockEventsRequest(
            channel=channel, identity=identity, start_block=block, filtered=True)

    def unpack(  # type: ignore[override]
        self, response: gateway_pb2.BlockEventsResponse
    ) -> Iterator[tuple[gateway_pb2.FilteredBlock, int, str]]:
        """The one filtered block of a response; the stream resumes at the block after it."""
        yield response.filtered_block, response.filtered_block.number + 1, ""


class FilteredBlockEvents(EventStream[gateway_pb2.FilteredBlock]):
    """An iterator of filtered blocks (number, and each transaction's id and validation code),
    resuming like BlockEvents; close() ends it."""
