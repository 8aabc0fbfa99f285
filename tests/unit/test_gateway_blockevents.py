"""Block event streams that outlive their peer: the same resuming cursor as chaincode events,
resuming at the block after the last one received, placed by checkpoint_block."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
import test_gateway_sdk as sdk
from test_gateway_aio import run
from test_gateway_sdk import CHANNEL, HOLD, FakeGateway, _gateway, _verifies

from careledger.gateway import BlockEventsError, InMemoryCheckpointer, OfflineSigningError, Reconnect, aio
from careledger.protos import common_pb2, gateway_pb2

server, fake = sdk.server, sdk.fake  # the fake gateway's fixtures


def _block_events(self: FakeGateway, request: common_pb2.Signed, context: grpc.ServicerContext):
    """BlockEvents of the fake gateway: it plays the same scripts (streams, events) as ChaincodeEvents."""
    self.requests.append(("BlockEvents", request))
    yield from FakeGateway.ChaincodeEvents(self, request, context)


FakeGateway.BlockEvents = _block_events  # type: ignore[method-assign]  # before the server registers it


def block(number: int, *codes: int) -> gateway_pb2.BlockEventsResponse:
    """What a peer sends for one committed block with these validation codes."""
    committed = common_pb2.Block(header=common_pb2.BlockHeader(number=number))
    committed.metadata.validation_codes.extend(codes)
    return gateway_pb2.BlockEventsResponse(block=committed)


def asked(fake: FakeGateway) -> list[int | None]:
    """start_block of every BlockEvents request, in order (None where it had none)."""
    requests = [
        gateway_pb2.BlockEventsRequest.FromString(signed.payload)
        for stage, signed in fake.requests
        if stage == "BlockEvents"
    ]
    return [r.start_block if r.HasField("start_block") else None for r in requests]


def test_blocks_arrive_whole_with_their_validation_codes_and_the_request_is_signed(server, fake) -> None:
    fake.events = [block(4, common_pb2.VALID, common_pb2.MVCC_READ_CONFLICT), block(5)]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_block_events(4) as blocks:
        seen = [(b.header.number, list(b.metadata.validation_codes)) for b in blocks]
    assert seen == [(4, [common_pb2.VALID, common_pb2.MVCC_READ_CONFLICT]), (5, [])]
    _, signed = fake.requests[0]
    assert _verifies(signed.payload, signed.signature)
    request = gateway_pb2.BlockEventsRequest.FromString(signed.payload)
    assert (request.channel, request.identity) == (CHANNEL, sdk.IDENTITY.certificate)


def test_stream_resumes_at_the_block_after_the_last_one_received_when_the_peer_goes_away(
    server, fake
) -> None:
    fake.streams = [
        [block(3), block(4), grpc.StatusCode.UNAVAILABLE],
        [grpc.StatusCode.UNAVAILABLE],
        [block(5), block(6)],
    ]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_block_events(3) as blocks:
        assert [b.header.number for b in blocks] == [3, 4, 5, 6]
    assert asked(fake) == [3, 5, 5]


def test_without_start_block_the_stream_is_pinned_to_the_height_before_it_opens(server, fake) -> None:
    fake.height = 7
    fake.streams = [[grpc.StatusCode.UNAVAILABLE], [block(7)]]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_block_events() as blocks:
        assert [b.header.number for b in blocks] == [7]
    assert fake.requests[0][0] == "GetChainInfo"
    assert asked(fake) == [7, 7]  # a reconnect before the first block still starts at 7


def test_checkpoint_places_the_stream_and_its_transaction_id_is_ignored(server, fake) -> None:
    checkpointer = InMemoryCheckpointer()
    fake.events = [block(2), block(3)]
    with _gateway(server[1]) as gw:
        network = gw.get_network(CHANNEL)
        for committed in network.get_block_events(2, checkpoint=checkpointer):
            checkpointer.checkpoint_block(committed.header.number)
        assert checkpointer.block_number == 4
        fake.events = []
        list(network.get_block_events(0, checkpoint=checkpointer))
        list(network.get_block_events(0, checkpoint=InMemoryCheckpointer(6, "t9")))
    assert asked(fake) == [2, 4, 6]


def test_stream_ends_with_a_block_events_error_it_cannot_resume_from(server, fake) -> None:
    fake.streams = [[block(1), grpc.StatusCode.PERMISSION_DENIED]]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_block_events(1) as blocks:
        assert next(blocks).header.number == 1
        with pytest.raises(BlockEventsError, match="block events failed") as caught:
            next(blocks)
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert asked(fake) == [1]


def test_stream_gives_up_after_max_attempts_in_a_row(server, fake) -> None:
    fake.streams = [[grpc.StatusCode.UNAVAILABLE]] * 3
    with _gateway(server[1], reconnect=Reconnect(0.01, 0.01, max_attempts=2)) as gw:
        blocks = gw.get_network(CHANNEL).get_block_events(0)
        with pytest.raises(BlockEventsError, match="UNAVAILABLE"):
            next(blocks)
    assert asked(fake) == [0, 0, 0]


def test_stream_moves_to_a_fallback_peer_when_its_peer_is_unreachable(server, fake) -> None:
    fake.events = [block(2)]
    with _gateway("127.0.0.1:1", fallbacks=(server[1],)) as gw:
        with gw.get_network(CHANNEL).get_block_events(0) as blocks:
            assert [b.header.number for b in blocks] == [2]


def test_close_from_another_thread_ends_a_stream_waiting_for_blocks(server, fake) -> None:
    fake.streams = [[block(1), HOLD]]
    with _gateway(server[1]) as gw:
        blocks = gw.get_network(CHANNEL).get_block_events(1)
        threading.Timer(0.2, blocks.close).start()
        started = time.monotonic()
        assert [b.header.number for b in blocks] == [1]
        assert time.monotonic() - started < 5


def test_offline_gateway_cannot_open_block_events(server, fake) -> None:
    with _gateway(server[1], signer=None) as gw, pytest.raises(
        OfflineSigningError, match="block events request for healthcare"
    ):
        gw.get_network(CHANNEL).get_block_events()
    assert fake.requests == []


def test_async_stream_resumes_like_the_blocking_one_and_close_ends_it(server, fake) -> None:
    fake.height = 3
    fake.streams = [[block(3), grpc.StatusCode.UNAVAILABLE], [block(4), HOLD]]

    async def listen(gateway: aio.Gateway) -> list[int]:
        blocks = await gateway.get_network(CHANNEL).get_block_events()
        asyncio.get_running_loop().call_later(0.3, blocks.close)
        async with blocks:
            return [b.header.number async for b in blocks]

    assert run(server[1], listen) == [3, 4]
    assert asked(fake) == [3, 4]
