"""Chaincode event streams that outlive their peer, and the checkpointers that place them."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import grpc
import pytest
import test_gateway_sdk as sdk
from test_gateway_sdk import CHANNEL, HOLD, FakeGateway, _gateway

from careledger.gateway import (
    ChaincodeEvent,
    ChaincodeEventsError,
    FileCheckpointer,
    InMemoryCheckpointer,
    Reconnect,
)
from careledger.protos import common_pb2, gateway_pb2

server, fake = sdk.server, sdk.fake  # the fake gateway's fixtures


def block(number: int, *tx_ids: str) -> gateway_pb2.ChaincodeEventsResponse:
    """The events a peer sends for one block: one per transaction."""
    events = [common_pb2.ChaincodeEvent(contract="basic", tx_id=t, event_name="E") for t in tx_ids]
    return gateway_pb2.ChaincodeEventsResponse(block_number=number, events=events)


def asked(fake: FakeGateway) -> list[tuple[int, str]]:
    """(start_block, after_transaction_id) of every ChaincodeEvents request, in order."""
    return [
        (r.start_block, r.after_transaction_id)
        for r in (
            gateway_pb2.ChaincodeEventsRequest.FromString(signed.payload)
            for stage, signed in fake.requests
            if stage == "ChaincodeEvents"
        )
    ]


def test_stream_resumes_after_the_last_event_received_when_the_peer_goes_away(server, fake) -> None:
    fake.streams = [
        [block(4, "t1", "t2"), grpc.StatusCode.UNAVAILABLE],
        [grpc.StatusCode.UNAVAILABLE],
        [block(4, "t3"), block(6, "t4")],
    ]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_chaincode_events("basic", 3) as events:
        assert [(e.block_number, e.tx_id) for e in events] == [
            (4, "t1"), (4, "t2"), (4, "t3"), (6, "t4")
        ]
    assert asked(fake) == [(3, ""), (4, "t2"), (4, "t2")]


def test_stream_ends_with_an_error_it_cannot_resume_from(server, fake) -> None:
    fake.streams = [[block(4, "t1"), grpc.StatusCode.PERMISSION_DENIED]]
    with _gateway(server[1]) as gw, gw.get_network(CHANNEL).get_chaincode_events("basic", 0) as events:
        assert next(events).tx_id == "t1"
        with pytest.raises(ChaincodeEventsError) as caught:
            next(events)
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert len(asked(fake)) == 1


def test_stream_gives_up_after_max_attempts_in_a_row(server, fake) -> None:
    fake.streams = [[grpc.StatusCode.UNAVAILABLE]] * 3
    with _gateway(server[1], reconnect=Reconnect(0.01, 0.01, max_attempts=2)) as gw:
        events = gw.get_network(CHANNEL).get_chaincode_events("basic", 0)
        with pytest.raises(ChaincodeEventsError, match="UNAVAILABLE"):
            next(events)
    assert len(asked(fake)) == 3


def test_stream_moves_to_a_fallback_peer_when_its_peer_is_unreachable(server, fake) -> None:
    fake.events = [block(2, "t1")]
    with _gateway("127.0.0.1:1", fallbacks=(server[1],)) as gw:
        with gw.get_network(CHANNEL).get_chaincode_events("basic", 0) as events:
            assert [e.tx_id for e in events] == ["t1"]


def test_close_ends_a_stream_waiting_for_blocks_or_for_its_next_attempt(server, fake) -> None:
    fake.streams = [[block(1, "t1"), HOLD], [grpc.StatusCode.UNAVAILABLE]]
    slow = Reconnect(initial_delay=60.0, max_delay=60.0)
    with _gateway(server[1], reconnect=slow) as gw:
        for _ in fake.streams[:]:
            events = gw.get_network(CHANNEL).get_chaincode_events("basic", 0)
            threading.Timer(0.2, events.close).start()
            started = time.monotonic()
            assert [e.tx_id for e in events] in (["t1"], [])
            assert time.monotonic() - started < 5


def test_checkpoint_takes_precedence_over_start_block_once_it_has_a_block(server, fake) -> None:
    with _gateway(server[1]) as gw:
        network = gw.get_network(CHANNEL)
        list(network.get_chaincode_events("basic", 2, checkpoint=InMemoryCheckpointer()))
        list(network.get_chaincode_events("basic", 2, checkpoint=InMemoryCheckpointer(6, "t9")))
        list(network.get_chaincode_events("basic", 2, checkpoint=InMemoryCheckpointer(7)))
    assert asked(fake) == [(2, ""), (6, "t9"), (7, "")]


def test_in_memory_checkpointer_records_blocks_and_events() -> None:
    checkpointer = InMemoryCheckpointer()
    assert (checkpointer.block_number, checkpointer.transaction_id) == (None, None)
    checkpointer.checkpoint_chaincode_event(ChaincodeEvent(5, "t3", "basic", "E", b""))
    assert (checkpointer.block_number, checkpointer.transaction_id) == (5, "t3")
    checkpointer.checkpoint_block(5)
    assert (checkpointer.block_number, checkpointer.transaction_id) == (6, None)


def test_file_checkpointer_survives_a_restart_and_replaces_its_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "listener.json"
    assert FileCheckpointer(path).block_number is None and not path.exists()
    first = FileCheckpointer(path)
    first.checkpoint_transaction(8, "t5")
    first.checkpoint_chaincode_event(ChaincodeEvent(9, "t6", "basic", "E", b""))
    again = FileCheckpointer(path)
    assert (again.block_number, again.transaction_id) == (9, "t6")
    assert json.loads(path.read_text()) == {"block_number": 9, "transaction_id": "t6"}
    assert [p.name for p in tmp_path.iterdir()] == ["listener.json"]
