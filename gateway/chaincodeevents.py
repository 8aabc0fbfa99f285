"""Chaincode events: the events that committed (VALID) transactions of a contract emitted.

A stream survives its peer: when the connection drops it reconnects with back-off (to the next
of the gateway's peers, if it has fallbacks) and asks for the events after the last one it
received, so the listener sees every event once. EventCursor holds that logic for both SDKs.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from google.protobuf.message import Message

from careledger.gateway.client import ClientBase
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2, query_pb2

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint

_log = logging.getLogger(__name__)
# What a peer going away looks like (killed, restarted, stopped, connection lost); any other
# failure (refused identity, unknown channel) would fail again, so it ends the stream.
_RESUMABLE = (grpc.StatusCode.UNAVAILABLE,)


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a contract emitted, with the block and transaction that committed it."""

    block_number: int
    tx_id: str
    contract: str
    event_name: str
    payload: bytes


class EventCursor:
    """Where a stream stands (the last event received), its open call, and what to do when the
    call fails; the blocking and asyncio iterators only wait on it."""

    def __init__(
        self,
        client: ClientBase[Any],
        channel: str,
        contract: str,
        start_block: int | None,
        after_tx_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> None:
        self._client = client
        self._signer = client.require_signer(f"chaincode events request for {contract}")
        self._channel = channel
        self._contract = contract
        if checkpoint is not None and checkpoint.block_number is not None:
            start_block, after_tx_id = checkpoint.block_number, checkpoint.transaction_id
        self._block = start_block
        self._tx_id = after_tx_id or ""
        self._peer = 0
        self._failures = 0
        self._call: Any = None
        self.closed = False
        self.pending: deque[ChaincodeEvent] = deque()

    @property
    def pinned(self) -> bool:
        """Whether the stream has a block to start from; if not, pin() it to the peer's height
        first, so that a reconnect before the first event still misses nothing."""
        return self._block is not None

    def height_request(self) -> common_pb2.Signed:
        """The signed Query request for the peer's chain height."""
        return self._signed(
            query_pb2.QueryRequest(channel=self._channel, creator=self._client.identity.certificate)
        )

    def pin(self, info: query_pb2.ChainInfo) -> None:
        """Start with the next block the peer will commit."""
        self._block = info.height

    def call(self) -> Any:
        """The open stream, opened now (after the last event received) if there is none."""
        if self._call is None:
            request = gateway_pb2.ChaincodeEventsRequest(
                channel=self._channel,
                contract=self._contract,
                identity=self._client.identity.certificate,
                after_transaction_id=self._tx_id,
                start_block=self._block,
            )
            self._call = self._client.stub(self._peer).ChaincodeEvents(self._signed(request))
            if self.closed:  # close() ran while this call was being opened: it missed it
                self._call.cancel()
        return self._call

    def receive(self, response: gateway_pb2.ChaincodeEventsResponse) -> None:
        """Queue the events of one block and move the resume point past them."""
        self._failures = 0
        for e in response.events:
            self.pending.append(
                ChaincodeEvent(response.block_number, e.tx_id, e.contract, e.event_name, e.payload)
            )
            self._block, self._tx_id = response.block_number, e.tx_id

    def retry_delay(self, err: grpc.RpcError) -> float:
        """Drop the failed call and say how long to wait before resuming at the next peer; 0
        once closed. Raises ChaincodeEventsError if err is not a peer going away or the
        reconnect attempts are used up."""
        self._call = None
        if self.closed:
            return 0.0
        reconnect = self._client.options.reconnect
        self._failures += 1
        out_of_attempts = reconnect.max_attempts is not None and self._failures > reconnect.max_attempts
        if err.code() not in _RESUMABLE or out_of_attempts:
            self.closed = True
            raise self._client.events_error(err, self._peer) from err
        failed = self._client.peers.addresses[self._peer]
        self._peer = (self._peer + 1) % len(self._client.peers.addresses)
        delay = reconnect.delay(self._failures)
        _log.warning(
            "chaincode events of %s from %s dropped (%s); resuming in block %s after tx %r at %s "
            "in %.1fs", self._contract, failed, err.code().name, self._block, self._tx_id,
            self._client.peers.addresses[self._peer], delay,
        )
        return delay

    def close(self) -> None:
        """Cancel the open call; the iterator then stops."""
        self.closed = True
        if self._call is not None:
            self._call.cancel()

    def _signed(self, request: Message) -> common_pb2.Signed:
        payload = request.SerializeToString(deterministic=True)
        return common_pb2.Signed(payload=payload, signature=self._signer(sha256(payload)))


class Wakeup(Protocol):
    """A threading or asyncio Event: set() ends a back-off wait early."""

    def set(self) -> None: ...


class EventsBase:
    """What the blocking and asyncio iterators share: the cursor, and close()."""

    def __init__(self, cursor: EventCursor, wakeup: Wakeup) -> None:
        self._cursor = cursor
        self._wakeup = wakeup

    def close(self) -> None:
        """Cancel the stream; iteration then stops."""
        self._cursor.close()
        self._wakeup.set()


class ChaincodeEvents(EventsBase):
    """An iterator of ChaincodeEvent that blocks for new blocks and resumes when its peer
    restarts or the connection drops; close() (from any thread) ends it."""

    def __init__(self, cursor: EventCursor) -> None:
        self._event = threading.Event()
        super().__init__(cursor, self._event)

    def __iter__(self) -> ChaincodeEvents:
        return self

    def __next__(self) -> ChaincodeEvent:
        cursor = self._cursor
        while not cursor.pending and not cursor.closed:
            try:
                cursor.receive(next(cursor.call()))
            except grpc.RpcError as err:
                self._event.wait(cursor.retry_delay(err))
        if not cursor.pending:
            raise StopIteration
        return cursor.pending.popleft()

    def __enter__(self) -> ChaincodeEvents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
