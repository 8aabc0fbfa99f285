"""The asyncio RPC layer: ClientBase's signing, stubs and error mapping over grpc.aio channels.

Calls of one kind that an application makes while an earlier one is still unanswered share one
Batch RPC (a lone call goes as its own RPC, at once): one RPC costs the gateway peer far more than
the few kilobytes it carries, so 32 concurrent callers cost it a handful of RPCs. Each call keeps
its own signature, deadline class, answer and error, exactly as if sent alone.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc

from careledger.gateway.client import (
    ENDORSE,
    EVALUATE,
    SUBMIT,
    SUBMIT_AND_WAIT,
    ClientBase,
    Options,
    Peers,
    Stage,
)
from careledger.gateway.coalesce import Coalescer
from careledger.gateway.errors import ERROR_DETAILS_KEY
from careledger.gateway.identity import Identity, Signer
from careledger.protos import gateway_pb2

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

# The stages that may share a Batch, by the GatewayCall field that carries them, and how many
# batches of each may be unanswered at once. A burst of calls (the clients one block released)
# goes as several small batches, not one big one. Endorse batches go one at a time: the gateway
# finishes the first before it starts on the next, so those transactions are signed and reach
# the orderer, and its batch timeout starts, while the rest are still endorsed (a trace at 32
# clients: first envelope 39 ms after the cut instead of 52 with 4 in flight;
# committed tx/s 326, 315, 343 against 286, 307, 322 with 4 in flight, interleaved). Evaluates
# and unwaited submits start no ordering, so 4 of theirs may be in flight. A submit that waits for
# its block lasts a batch timeout, so those go in any number.
BATCHED: dict[Stage[Any, Any], tuple[str, int]] = {
    EVALUATE: ("evaluate", 4),
    ENDORSE: ("endorse", 1),
    SUBMIT: ("submit", 4),
    SUBMIT_AND_WAIT: ("submit", 1 << 20),
}
BATCH_ITEMS = 8  # calls in one batch
# Bytes of requests in one batch: under a peer's message limit (1 MiB by default; a batch it
# refuses as too big is sent again call by call). A call bigger than this goes alone, as its own
# RPC, and meets the peer's own limit. 128 KiB holds ~30 submits or ~80 evaluates.
BATCH_BYTES = 128 * 1024


class _Refused(grpc.RpcError):
    """One call of a batch refused by the gateway: the status its own RPC would have ended with."""

    def __init__(self, outcome: gateway_pb2.GatewayOutcome) -> None:
        super().__init__(outcome.message)
        self._code = _STATUS_CODES.get(outcome.code, grpc.StatusCode.UNKNOWN)
        self._message = outcome.message
        self._details = outcome.error_details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    # grpc returns (key, value) pairs here; the stub's _Metadatum type describes no real object.
    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:  # type: ignore[override]
        return ((ERROR_DETAILS_KEY, self._details),) if self._details else ()


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


class AsyncGatewayClient(ClientBase[grpc.aio.Channel]):
    """The asyncio client: each call is awaited."""

    def __init__(
        self, peers: Peers[grpc.aio.Channel], identity: Identity, signer: Signer | None, options: Options
    ) -> None:
        super().__init__(peers, identity, signer, options)
        self._batches: dict[Stage[Any, Any], Coalescer[Any, Any]] = {}
        self._batch_unknown = False  # the gateway peer has no Batch (an older version): call alone

    async def call(self, stage: Stage[_Request, _Response], request: _Request, tx_id: str) -> _Response:
        """Await the unary call of stage and return its answer, or raise the stage's error."""
        method, timeout = self._start(stage, tx_id)
        try:
            if stage not in BATCHED or self._batch_unknown:
                response: _Response = await method(request, timeout=timeout)
                return response
            answer = await self._batcher(stage, method, timeout).call(request)
        except grpc.RpcError as err:
            raise self.rpc_error(err, stage, tx_id, timeout) from err
        if isinstance(answer, grpc.RpcError):
            raise self.rpc_error(answer, stage, tx_id, timeout) from answer
        return answer  # type: ignore[no-any-return]

    def _batcher(
        self, stage: Stage[Any, Any], method: Callable[..., Any], timeout: float
    ) -> Coalescer[Any, Any]:
        batches = self._batches.get(stage)
        if batches is None:
            kind, in_flight = BATCHED[stage]
            batches = self._batches[stage] = Coalescer(
                functools.partial(self._send, kind, method, timeout), _size, BATCH_BYTES,
                max_in_flight=in_flight, max_items=BATCH_ITEMS)
        return batches

    async def _send(self, kind: str, method: Callable[..., Any], timeout: float,
                    requests: list[Any]) -> Sequence[Any]:
        """The answers to requests (a response, or the _Refused error of a refused call): alone as
        its own RPC, several in one Batch."""
        if len(requests) == 1 or self._batch_unknown:
            return await self._each(method, timeout, requests)
        batch = gateway_pb2.GatewayBatch(calls=[gateway_pb2.GatewayCall(**{kind: r}) for r in requests])
        try:
            reply = await self.stub().Batch(batch, timeout=timeout)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                self._batch_unknown = True
            elif err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # too big for the peer: one by one
                raise
            return await self._each(method, timeout, requests)
        return [getattr(o, kind) if o.code == 0 else _Refused(o) for o in reply.outcomes]

    @staticmethod
    async def _each(method: Callable[..., Any], timeout: float, requests: list[Any]) -> list[Any]:
        """Each request as its own RPC; a failed one answers with its error."""
        if len(requests) == 1:
            return [await method(requests[0], timeout=timeout)]
        answers = await asyncio.gather(*(method(r, timeout=timeout) for r in requests),
                                       return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, grpc.RpcError):
                raise answer
        return answers

    async def close(self) -> None:
        """Close every channel; open event streams end."""
        for channel in self.peers.opened():
            await channel.close()


def _size(request: Any) -> int:
    return int(request.ByteSize())
