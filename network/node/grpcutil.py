"""gRPC plumbing shared by every node: TLS servers, node-to-node channels, errors as statuses."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from careledger.network.identity.tls import (
    channel_credentials,
    dynamic_server_credentials,
    server_credentials,
)

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class RequestError(Exception):
    """A request refused for a reason the caller can act on; becomes a gRPC status and message."""

    def __init__(self, code: grpc.StatusCode, message: str, trailer: bytes | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.trailer = trailer  # serialized gateway_pb2.ErrorDetails, sent as careledger-errors-bin


# A status message and its details trailer travel as metadata, which clients cap at 16 KiB in all:
# beyond these sizes a refusal would reach the client as RESOURCE_EXHAUSTED instead of itself.
MAX_STATUS_MESSAGE = 4096
MAX_TRAILER_BYTES = 8192


def _abort(context: grpc.ServicerContext, exc: RequestError) -> None:
    if exc.trailer and len(exc.trailer) <= MAX_TRAILER_BYTES:
        context.set_trailing_metadata((("careledger-errors-bin", exc.trailer),))
    message = exc.message
    if len(message) > MAX_STATUS_MESSAGE:
        message = f"{message[:MAX_STATUS_MESSAGE]}... (message of {len(message)} characters cut)"
    context.abort(exc.code, message)


def unary(fn: F) -> F:
    """Turn RequestError raised by a unary handler into its status; log anything unexpected."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except RequestError as exc:
            _abort(context, exc)
        except Exception:
            log.exception("%s failed", fn.__qualname__)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__}; see node log")

    return wrapper  # type: ignore[return-value]


def stream(fn: F) -> F:
    """Like `unary` for server-streaming handlers (generators)."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from fn(self, request, context)
        except RequestError as exc:
            _abort(context, exc)
        except Exception:
            if context.is_active():
                log.exception("%s failed", fn.__qualname__)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__}; see log")

    return wrapper  # type: ignore[return-value]


class StreamLimit(grpc.ServerInterceptor):
    """Refuse server streams beyond a budget, so that idle or abandoned listeners can never hold
    every worker thread: unary calls (health, endorse, submit) always find a free worker."""

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self._slots = threading.BoundedSemaphore(max_streams)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or not handler.response_streaming or handler.request_streaming:
            return handler
        inner = handler.unary_stream

        def limited(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            if not self._slots.acquire(blocking=False):
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"this node already serves {self.max_streams} streams; close idle "
                              "listeners, or listen through another peer of the organisation")
            try:
                yield from inner(request, context)
            finally:
                self._slots.release()

        return grpc.unary_stream_rpc_method_handler(
            limited, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


# How long a stopping node lets in-flight calls finish; streams notice within blockstream's poll.
STOP_GRACE = 1.0


def message_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max(max_message_bytes, 64 * 1024 * 1024)),
    ]


def new_server(
    identity_dir: Path,
    client_ca_pems: Sequence[bytes] | Callable[[], Sequence[bytes]] | None,
    address: str,
    max_message_bytes: int,
    *,
    workers: int = 160,
    max_streams: int = 128,
) -> tuple[grpc.Server, health.HealthServicer]:
    """A TLS server with the standard health service; with client CAs, mutual TLS (every client
    presents a certificate chaining to one of them).

    At most max_streams of the workers serve streams (Deliver, event streams) at once. Client CAs
    given as a function are read again at each handshake (the channel configuration in force)."""
    if max_streams >= workers:
        raise ValueError(f"max_streams {max_streams} must leave workers ({workers}) for unary calls")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        interceptors=[StreamLimit(max_streams)],
        options=message_options(max_message_bytes),
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_secure_port(
        address,
        dynamic_server_credentials(identity_dir, client_ca_pems) if callable(client_ca_pems)
        else server_credentials(identity_dir, client_ca_pems),
    )
    return server, health_servicer


def set_serving(health_servicer: health.HealthServicer, serving: bool) -> None:
    status = (health_pb2.HealthCheckResponse.SERVING if serving
              else health_pb2.HealthCheckResponse.NOT_SERVING)
    health_servicer.set("", status)


def node_channel(address: str, root_pems: Sequence[bytes], identity_dir: Path,
                 max_message_bytes: int) -> grpc.Channel:
    """A mutual-TLS channel from this node to another node."""
    return grpc.secure_channel(
        address,
        channel_credentials(root_pems, identity_dir),
        options=message_options(max_message_bytes),
    )
