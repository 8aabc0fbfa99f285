"""Block events for asyncio: the blocking SDK's resuming stream, iterated with `async for`."""

from __future__ import annotations

from careledger.gateway.aio.eventstream import AsyncEventStream
from careledger.protos import common_pb2, gateway_pb2


class BlockEvents(AsyncEventStream[common_pb2.Block]):
    """An async iterator of committed blocks (validation codes in block.metadata) that waits for
    new ones and resumes when its peer restarts or the connection drops; close() ends it."""


class FilteredBlockEvents(AsyncEventStream[gateway_pb2.FilteredBlock]):
    """An async iterator of filtered blocks (number, tx ids, validation codes), resuming like
    BlockEvents; close() ends it."""
