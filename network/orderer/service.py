"""The orderer's gRPC services: Broadcast admits envelopes, Deliver streams blocks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from careledger.network.config import FULL_BLOCK_READERS
from careledger.network.identity.membership import Membership
from careledger.network.ledger import txtime
from careledger.network.ledger.channelconfig import (
    ChannelConfig,
    ConfigUpdateError,
    is_config,
    read_config_tx,
    validate_update,
)
from careledger.network.node import blockstream, readers
from careledger.network.node.envelope import Admitted, admit
from careledger.network.node.grpcutil import RequestError, status_code, stream, unary
from careledger.network.node.operations import OrdererMetrics
from careledger.network.node.signedrequest import open_signed, still_member
from careledger.network.orderer.consensus.base import Consenter
from careledger.network.orderer.replays import RecentTxIds, replay_window
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc

log = logging.getLogger(__name__)


class OrdererService(orderer_pb2_grpc.OrdererServicer):
    def __init__(self, channel: str, membership: Membership, consenter: Consenter,
                 metrics: OrdererMetrics, deliver_readers: Sequence[str] = FULL_BLOCK_READERS,
                 config: Callable[[], ChannelConfig | None] = lambda: None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_envelope_bytes: int | None = None) -> None:
        self._channel = channel
        self._max_envelope = max_envelope_bytes  # the most that fits in a block of its own
        self._clock = clock  # proposals are judged by it, within the clock skew in force
        self._readers = deliver_readers  # may follow the configuration in force (LiveRoles)
        self._config = config
        self._membership = membership
        self._consenter = consenter
        self._metrics = metrics
        # tx ids in the blocks of the replay window (replays.py: 2 x the clock skew; an older tx
        # is refused by its time): only those are refused as replays, so start-up reads the
        # chain's tail, not the chain. An envelope that is merely in flight (or was dropped by a
        # leader that failed) may be ordered again; the committers count a tx id once
        # (DUPLICATE_TXID), so nothing is counted twice.
        self._new_blocks = blockstream.BlockSignal()
        self._recent = RecentTxIds(lambda: replay_window(self._clock_skew()), clock)
        began = time.monotonic()
        read = self._recent.load(consenter.height, consenter.get_block)
        log.info("replay window of %s: the newest %d of %d blocks hold %d tx ids (read in %.2fs)",
                 replay_window(self._clock_skew()), read, consenter.height, len(self._recent),
                 time.monotonic() - began)

    def remember(self, block: common_pb2.Block) -> None:
        """Note the block's tx ids, so that a replay is refused even if another orderer cut it;
        wake the Deliver streams."""
        self._recent.add(block)
        self._new_blocks.added()

    @unary
    async def Broadcast(self, request: common_pb2.Envelope,
                        context: grpc.aio.ServicerContext[Any, Any]) -> orderer_pb2.BroadcastResponse:
        outcome = (await self._order([request]))[0]
        if outcome.code:
            raise RequestError(status_code(outcome.code), outcome.message)
        return orderer_pb2.BroadcastResponse(status=200, info="accepted for ordering")

    @unary
    async def BroadcastBatch(
        self, request: orderer_pb2.EnvelopeBatch, context: grpc.aio.ServicerContext[Any, Any]
    ) -> orderer_pb2.BroadcastBatchResponse:
        return orderer_pb2.BroadcastBatchResponse(outcomes=await self._order(request.envelopes))

    def _clock_skew(self) -> timedelta:
        current = self._config()
        return current.clock_skew if current is not None else txtime.DEFAULT_CLOCK_SKEW

    async def _order(self, envelopes: Sequence[common_pb2.Envelope]) -> list[orderer_pb2.BroadcastOutcome]:
        """Check each envelope, then order those that pass, together (their blocks are awaited at
        once on etcd); an outcome per envelope, code 0 when accepted."""
        outcomes: list[orderer_pb2.BroadcastOutcome | None] = []
        checked: list[tuple[int, str, bytes, bool]] = []
        for envelope in envelopes:
            try:
                tx_id, alone = self._check(envelope)
            except RequestError as exc:
                outcomes.append(self._refused(exc.code, exc.message))
                continue
            raw = envelope.SerializeToString()
            if self._max_envelope is not None and len(raw) > self._max_envelope:
                outcomes.append(self._refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"transaction {tx_id} is {len(raw)} bytes; a block of its own must fit in this "
                    f"network's messages, which leaves {self._max_envelope} (max_message_bytes); keep "
                    "large data off the ledger (careledger records put)"))
                continue
            checked.append((len(outcomes), tx_id, raw, alone))
            outcomes.append(None)
        items = [(raw, alone) for _, _, raw, alone in checked]
        if not items:
            ordered: list[Exception | None] = []
        elif self._consenter.waits_for_blocks:  # on threads, so that the loop goes on serving
            ordered = await asyncio.get_running_loop().run_in_executor(None, self._consenter.order_all, items)
        else:
            ordered = self._consenter.order_all(items)
        for (index, tx_id, _, _), problem in zip(checked, ordered, strict=True):
            if isinstance(problem, RequestError):
                outcomes[index] = self._refused(problem.code, problem.message)
            elif problem is not None:
                outcomes[index] = self._refused(grpc.StatusCode.UNAVAILABLE,
                                                f"cannot order transaction {tx_id} now: {problem}; retry")
            else:
                self._metrics.broadcasts.labels("ACCEPTED").inc()
                log.debug("accepted tx %s", tx_id)
                outcomes[index] = orderer_pb2.BroadcastOutcome()
        return [o for o in outcomes if o is not None]

    def _refused(self, code: grpc.StatusCode, message: str) -> orderer_pb2.BroadcastOutcome:
        self._metrics.broadcasts.labels(code.name).inc()
        return orderer_pb2.BroadcastOutcome(code=code.value[0], message=message)

    def _check(self, request: common_pb2.Envelope) -> tuple[str, bool]:
        """The envelope's tx id, and whether it is a configuration update (ordered alone); or
        RequestError saying why it is refused."""
        admitted = admit(request, self._channel, self._membership, self._clock_skew(),
                         clock="the orderer's clock", now=self._clock())
        if admitted.tx_id in self._recent:
            raise RequestError(grpc.StatusCode.ALREADY_EXISTS,
                               f"transaction {admitted.tx_id} is already in a block; check its "
                               "commit status instead of submitting it again")
        alone = is_config(admitted.proposal)
        if alone:
            self._check_config(admitted)
        return admitted.tx_id, alone

    def _check_config(self, admitted: Admitted) -> None:
        """Refuse a configuration update that would not be valid after the configuration in force;
        a valid one is ordered alone in its block, after the pending batch."""
        current = self._config()
        if current is None:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"config transaction {admitted.tx_id} refused: this orderer has no channel "
                               "configuration (no genesis block)")
        if admitted.creator.role != "admin":
            raise RequestError(grpc.StatusCode.PERMISSION_DENIED,
                               f"config transaction {admitted.tx_id} refused: its creator "
                               f"{admitted.creator.id} is a {admitted.creator.role}; an organisation "
                               "admin submits updates")
        try:
            tx = read_config_tx(admitted.transaction, admitted.proposal)
            validate_update(current, tx.update_bytes, tx.signatures)
        except ConfigUpdateError as exc:
            code = grpc.StatusCode.PERMISSION_DENIED if exc.denied else grpc.StatusCode.FAILED_PRECONDITION
            raise RequestError(code, f"config transaction {admitted.tx_id} refused: {exc}") from exc

    @stream
    async def Deliver(self, request: common_pb2.Signed,
                      context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[common_pb2.Block]:
        seek, who = open_signed(request, orderer_pb2.SeekRequest, self._membership)
        if seek.channel != self._channel:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"no channel {seek.channel!r} on this orderer; it orders {self._channel!r}")
        readers.require_full_blocks(
            self._readers, who, "Deliver", "deliver",
            "Applications follow blocks through a peer's gateway: filtered block events for every "
            "member.")
        await blockstream.start_when_there(self._consenter, seek.start, "Deliver", context.time_remaining())
        stop = None if seek.follow else max(seek.start, seek.stop)
        async for block in blockstream.follow_async(self._consenter, seek.start, self._new_blocks.wait,
                                                    stop=stop):
            still_member(self._membership, who, block, "Deliver")  # a revocation since it opened ends it
            yield block
