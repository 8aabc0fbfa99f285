"""LoopServer (the peer's gRPC server): abandoned health watches never use up its few worker
threads, streams are capped, a plain generator stream is refused instead of holding a thread."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from careledger.network.node.grpcutil import LOOP_WORKERS, LoopHealth, LoopServer, set_serving

MAX_STREAMS = 3


@pytest.fixture
def served() -> Iterator[tuple[grpc.Channel, LoopHealth]]:
    server = LoopServer(LOOP_WORKERS, MAX_STREAMS, [])
    health = LoopHealth(server.loop)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    def plain_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield request

    async def check(request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext) -> bytes:
        return request.service.encode()

    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Plain": grpc.unary_stream_rpc_method_handler(plain_stream),
        "Parse": grpc.unary_unary_rpc_method_handler(
            check, request_deserializer=health_pb2.HealthCheckRequest.FromString),
    }),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, health
    finally:
        channel.close()
        server.stop(0).wait(5)


def test_abandoned_watches_leave_the_plain_handlers_served(served: tuple[grpc.Channel, LoopHealth]) -> None:
    channel, _ = served
    stub = health_pb2_grpc.HealthStub(channel)
    for _ in range(LOOP_WORKERS + 2):  # each would hold a worker thread for good if it were plain
        call = stub.Watch(health_pb2.HealthCheckRequest(), timeout=5)
        assert next(call).status == health_pb2.HealthCheckResponse.SERVING
        call.cancel()
    time.sleep(0.2)
    assert channel.unary_unary("/t.T/Echo")(b"still served", timeout=5) == b"still served"


def test_streams_are_capped_and_watchers_hear_set_serving(served: tuple[grpc.Channel, LoopHealth]) -> None:
    channel, health = served
    stub = health_pb2_grpc.HealthStub(channel)
    watching = [stub.Watch(health_pb2.HealthCheckRequest(), timeout=5) for _ in range(MAX_STREAMS)]
    for call in watching:
        next(call)
    with pytest.raises(grpc.RpcError) as refused:
        next(stub.Watch(health_pb2.HealthCheckRequest(), timeout=5))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"already serves {MAX_STREAMS} streams" in (refused.value.details() or "")
    set_serving(health, False)  # from this (non-loop) thread
    assert [next(c).status for c in watching] == [health_pb2.HealthCheckResponse.NOT_SERVING] * MAX_STREAMS
    for call in watching:
        call.cancel()


def test_a_plain_generator_stream_is_refused_naming_it(served: tuple[grpc.Channel, LoopHealth]) -> None:
    channel, _ = served
    with pytest.raises(grpc.RpcError) as refused:
        list(channel.unary_stream("/t.T/Plain")(b"x", timeout=5))
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "/t.T/Plain" in (refused.value.details() or "")


def test_an_undecodable_request_is_invalid_argument_naming_the_method(
        served: tuple[grpc.Channel, LoopHealth]) -> None:
    channel, _ = served
    parse = channel.unary_unary("/t.T/Parse")
    assert parse(health_pb2.HealthCheckRequest(service="ok").SerializeToString(), timeout=5) == b"ok"
    with pytest.raises(grpc.RpcError) as refused:
        parse(b"\x0a\x05ab", timeout=5)  # a string field cut short
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed request to /t.T/Parse" in (refused.value.details() or "")
