"""Event streams that outlive their peer: what chaincode-event and block-event streams share.

A stream remembers where it stands: the next block to ask for and the last transaction received
in it. When the connection drops it reconnects with back-off (to the next of the gateway's peers,
if it has fallbacks) and asks again from there, so the listener sees everything once. EventCursor
holds that logic for both SDKs and both kinds of stream; a Feed says what one kind asks a peer for
and how it reads the answers.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

import grpc
from google.protobuf.message import Message

from careledger.gateway.client import ClientBase, Stage
from careledger.gateway.errors import GatewayError
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, query_pb2

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint

_log = logging.getLogger(__name__)
_Item = TypeVar("_Item")
# What a peer going away looks like (killed, restarted, stopped, connection lost); any other
# failure (refused identity, unknown channel) would fail again, so it ends the stream.
_RESUMABLE = (grpc.StatusCode.UNAVAILABLE,)


class Feed(Generic[_Item]):
    """One kind of stream: its Gateway method, the request that starts it at a position, and the
    items of each response with the position to resume from after each of them."""

    name: str  # in errors and logs, e.g. "block events"
    method: str  # the Gateway service method
    error: type[GatewayError]  # raised when the stream cannot be resumed

    def __init__(self, target: str) -> None:
        self.target = target  # what the stream is for, in errors and logs: a contract or a channel

    def request(self, channel: str, identity: bytes, block: int | None, tx_id: str) -> Message:
        """The request for everything after transaction tx_id of block (all of it if tx_id is "")."""
        raise NotImplementedError

    def unpack(self, response: Any) -> Iterable[tuple[_Item, int, str]]:
        """Each item of response with the (block, tx id) to resume from once it was received."""
        raise NotImplementedError


class EventCursor(Generic[_Item]):
    """Where a stream stands (the last item received), its open call, and what to do when the
    call fails; the blocking and asyncio iterators only wait on it."""

    def __init__(
        self,
        client: ClientBase[Any],
        channel: str,
        feed: Feed[_Item],
        start_block: int | None,
        after_tx_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> None:
        self._client = client
        self._signer = client.require_signer(f"{feed.name} request for {feed.target}")
        self._channel = channel
        self._feed = feed
        if checkpoint is not None and checkpoint.block_number is not None:
            start_block, after_tx_id = checkpoint.block_number, checkpoint.transaction_id
        self._block = start_block
        self._tx_id = after_tx_id or ""
        self._peer = 0
        self._failures = 0
        self._call: Any = None
        self.closed = False
        self.pending: deque[_Item] = deque()

    @property
    def pinned(self) -> bool:
        """Whether the stream has a block to start from; if not, pin() it to the peer's height
        first, so that a reconnect before the first item still misses nothing."""
        return self._block is not None

    @property
    def height_stage(self) -> Stage[common_pb2.Signed, query_pb2.ChainInfo]:
        """The Query call for the chain height, failing with this stream's error."""
        return Stage("chain height", "GetChainInfo", self._feed.error, "evaluate", query=True)

    def height_request(self) -> common_pb2.Signed:
        """The signed Query request for the peer's chain height."""
        return self._signed(
            query_pb2.QueryRequest(channel=self._channel, creator=self._client.identity.certificate)
        )

    def pin(self, info: query_pb2.ChainInfo) -> None:
        """Start with the next block the peer will commit."""
        self._block = info.height

    def call(self) -> Any:
        """The open stream, opened now (after the last item received) if there is none."""
        if self._call is None:
            request = self._feed.request(
                self._channel, self._client.identity.certificate, self._block, self._tx_id
            )
            method = getattr(self._client.stub(self._peer), self._feed.method)
            self._call = method(self._signed(request))
            if self.closed:  # close() ran while this call was being opened: it missed it
                self._call.cancel()
        return self._call

    def receive(self, response: Any) -> None:
        """Queue the items of one response and move the resume point past them."""
        self._failures = 0
        for item, block, tx_id in self._feed.unpack(response):
            self.pending.append(item)
            self._block, self._tx_id = block, tx_id

    def retry_delay(self, err: grpc.RpcError) -> float:
        """Drop the failed call and say how long to wait before resuming at the next peer; 0
        once closed. Raises the feed's error if err is not a peer going away or the reconnect
        attempts are used up."""
        self._call = None
        if self.closed:
            return 0.0
        reconnect = self._client.options.reconnect
        self._failures += 1
        out_of_attempts = reconnect.max_attempts is not None and self._failures > reconnect.max_attempts
        if err.code() not in _RESUMABLE or out_of_attempts:
            self.closed = True
            raise self._client.events_error(err, self._peer, self._feed.error, self._feed.name) from err
        failed = self._client.peers.addresses[self._peer]
        self._peer = (self._peer + 1) % len(self._client.peers.addresses)
        delay = reconnect.delay(self._failures)
        _log.warning(
            "%s for %s from %s dropped (%s); resuming in block %s after tx %r at %s in %.1fs",
            self._feed.name, self._feed.target, failed, err.code().name, self._block, self._tx_id,
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


class EventsBase(Generic[_Item]):
    """What the blocking and asyncio iterators share: the cursor, and close()."""

    def __init__(self, cursor: EventCursor[_Item], wakeup: Wakeup) -> None:
        self._cursor = cursor
        self._wakeup = wakeup

    def close(self) -> None:
        """Cancel the stream; iteration then stops."""
        self._cursor.close()
        self._wakeup.set()


class EventStream(EventsBase[_Item]):
    """A blocking iterator over a cursor's items that waits for new blocks and resumes when its
    peer restarts or the connection drops; close() (from any thread) ends it."""

    def __init__(self, cursor: EventCursor[_Item]) -> None:
        self._event = threading.Event()
        super().__init__(cursor, self._event)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _Item:
        cursor = self._cursor
        while not cursor.pending and not cursor.closed:
            try:
                cursor.receive(next(cursor.call()))
            except grpc.RpcError as err:
                self._event.wait(cursor.retry_delay(err))
        if not cursor.pending:
            raise StopIteration
        return cursor.pending.popleft()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
