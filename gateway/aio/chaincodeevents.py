"""Chaincode events for asyncio: the blocking SDK's resuming stream, iterated with `async for`."""

from __future__ import annotations

from careledger.gateway.aio.eventstream import AsyncEventStream
from careledger.gateway.chaincodeevents import ChaincodeEvent


class ChaincodeEvents(AsyncEventStream[ChaincodeEvent]):
    """An async iterator of ChaincodeEvent that waits for new blocks and resumes when its peer
    restarts or the connection drops; close() ends it."""
