"""Chaincode events: the events that committed (VALID) transactions of a contract emitted.

The stream resumes after the last event received when its peer restarts or the connection drops
(see careledger.gateway.eventstream), so the listener sees every event once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from careledger.gateway.errors import ChaincodeEventsError
from careledger.gateway.eventstream import EventStream, Feed
from careledger.protos import gateway_pb2


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a contract emitted, with the block and transaction that committed it."""

    block_number: int
    tx_id: str
    contract: str
    event_name: str
    payload: bytes


class ChaincodeEventFeed(Feed[ChaincodeEvent]):
    """The events of one contract (the feed's target), resumed after the last one received."""

    name = "chaincode events"
    method = "ChaincodeEvents"
    error = ChaincodeEventsError

    def request(
        self, channel: str, identity: bytes, block: int | None, tx_id: str
    ) -> gateway_pb2.ChaincodeEventsRequest:
        """The request for the contract's events after tx_id of block."""
        return gateway_pb2.ChaincodeEventsRequest(
            channel=channel, contract=self.target, identity=identity,
            after_transaction_id=tx_id, start_block=block,
        )

    def unpack(
        self, response: gateway_pb2.ChaincodeEventsResponse
    ) -> Iterator[tuple[ChaincodeEvent, int, str]]:
        """Each event of one block; the stream resumes after its transaction."""
        for e in response.events:
            event = ChaincodeEvent(response.block_number, e.tx_id, e.contract, e.event_name, e.payload)
            yield event, response.block_number, e.tx_id


class ChaincodeEvents(EventStream[ChaincodeEvent]):
    """An iterator of ChaincodeEvent that blocks for new blocks and resumes when its peer
    restarts or the connection drops; close() (from any thread) ends it."""
