"""gRPC plumbing shared by every node: TLS servers, node-to-node channels, errors as statuses."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc.experimental import ChannelOptions
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as aio_health

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


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(value: int) -> grpc.StatusCode:
    """The StatusCode of its number, as a batch's outcomes carry it (UNKNOWN if none is)."""
    return _STATUS_CODES.get(value, grpc.StatusCode.UNKNOWN)


# A status message and its details trailer travel as metadata, which clients cap at 16 KiB in all:
# beyond these sizes a refusal would reach the client as RESOURCE_EXHAUSTED instead of itself.
MAX_STATUS_MESSAGE = 4096
MAX_TRAILER_BYTES = 8192


def _status_of(context: Any, exc: RequestError) -> str:
    """Set the refusal's details trailer on the call; the status message to abort with."""
    if exc.trailer and len(exc.trailer) <= MAX_TRAILER_BYTES:
        context.set_trailing_metadata((("careledger-errors-bin", exc.trailer),))
    return status_message(exc)


def status_message(exc: RequestError) -> str:
    """The refusal's message, cut to what a status can carry."""
    message = exc.message
    if len(message) > MAX_STATUS_MESSAGE:
        message = f"{message[:MAX_STATUS_MESSAGE]}... (message of {len(message)} characters cut)"
    return message


def _abort(context: grpc.ServicerContext, exc: RequestError) -> None:
    context.abort(exc.code, _status_of(context, exc))


def unary(fn: F) -> F:
    """Turn RequestError raised by a unary handler into its status; log anything unexpected.

    A coroutine handler (served by a LoopServer) stays a coroutine."""
    if inspect.iscoroutinefunction(fn):
        return _unary_async(fn)

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


def _unary_async(fn: F) -> F:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await fn(self, request, context)
        except RequestError as exc:
            await context.abort(exc.code, _status_of(context, exc))
        except Exception:
            log.exception("%s failed", fn.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__}; see node log")

    return wrapper  # type: ignore[return-value]


def stream(fn: F) -> F:
    """Like `unary` for server-streaming handlers (generators, or async generators on a
    LoopServer: a client that goes away cancels them at their next await)."""
    if inspect.isasyncgenfunction(fn):
        return _stream_async(fn)

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


def _stream_async(fn: F) -> F:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any,
                      context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        try:
            async for item in fn(self, request, context):
                yield item
        except RequestError as exc:
            await context.abort(exc.code, _status_of(context, exc))
        except Exception:
            log.exception("%s failed", fn.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {fn.__name__}; see log")

    return wrapper  # type: ignore[return-value]


def _too_many_streams(max_streams: int) -> str:
    return (f"this node already serves {max_streams} streams; close idle "
            "listeners, or listen through another peer of the organisation")


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
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _too_many_streams(self.max_streams))
            try:
                yield from inner(request, context)
            finally:
                self._slots.release()

        return grpc.unary_stream_rpc_method_handler(
            limited, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


class _PerMethod(grpc.aio.ServerInterceptor):
    """An interceptor whose wrapping of a handler depends only on its method: made once per
    method and kept, since grpc.aio asks the interceptors again on every call (measured: building
    the wrappers cost a few % of a busy gateway peer's samples)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, Any] = {}  # by method: grpc serves a fixed set of handlers

    async def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        wrapped = self._wrapped.get(details.method)
        if wrapped is None:
            handler = await continuation(details)
            if handler is None:  # no such method: not kept, so unknown names cannot grow the dict
                return None
            wrapped = self._wrapped[details.method] = self._wrap(handler, details.method)
        return wrapped

    def _wrap(self, handler: Any, method: str) -> Any:
        raise NotImplementedError


class AsyncStreamLimit(_PerMethod):
    """StreamLimit for a LoopServer's streams, which are coroutines: they hold no thread, but
    memory and a follower each.

    A plain (generator) stream is refused there: grpcio's context for plain handlers on an aio
    server never learns that the client went away, so such a stream would hold one of the few
    worker threads for good, and a handful of abandoned calls would stop every plain handler."""

    def __init__(self, max_streams: int) -> None:
        super().__init__()
        self.max_streams = max_streams
        self._open = 0  # only the loop's thread counts

    def _wrap(self, handler: Any, method: str) -> Any:
        if not handler.response_streaming or handler.request_streaming:
            return handler
        inner = handler.unary_stream

        async def limited(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            if self._open >= self.max_streams:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _too_many_streams(self.max_streams))
            self._open += 1
            try:
                async for item in inner(request, context):
                    yield item
            finally:
                self._open -= 1

        async def written(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            """A stream that writes with context.write (the asyncio health service's Watch)."""
            if self._open >= self.max_streams:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _too_many_streams(self.max_streams))
            self._open += 1
            try:
                return await inner(request, context)
            finally:
                self._open -= 1

        async def plain(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            log.error("stream %s is a plain generator, which a LoopServer cannot end; make it a "
                      "coroutine", method)
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                f"{method} is not served by this node as a stream")

        wrapped = (limited if inspect.isasyncgenfunction(inner)
                   else written if inspect.iscoroutinefunction(inner) else plain)
        return grpc.unary_stream_rpc_method_handler(
            wrapped, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


class _Undecodable:
    """What a request that does not parse turns into, so that its handler can say so."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's malformed bytes
            return _Undecodable(exc)

    return parse


def _malformed(method: str, request: _Undecodable) -> str:
    return (f"malformed request to {method}: {request.error}; send a message built from the "
            "CareLedger protos (the SDK does)")


class MalformedRequests(_PerMethod):
    """An undecodable unary request on a LoopServer gets INVALID_ARGUMENT naming the method.

    Why: grpc.aio answers a request its deserializer cannot parse with UNKNOWN "Unexpected
    DecodeError", which tells a caller nothing; the thread server said INTERNAL."""

    def _wrap(self, handler: Any, method: str) -> Any:
        if handler.request_streaming:
            return handler
        streaming = handler.response_streaming
        inner = handler.unary_stream if streaming else handler.unary_unary
        if inspect.isasyncgenfunction(inner):
            async def checked_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                if isinstance(request, _Undecodable):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _malformed(method, request))
                async for item in inner(request, context):
                    yield item
            wrapped: Callable[..., Any] = checked_stream
        elif inspect.iscoroutinefunction(inner):
            async def checked_call(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _malformed(method, request))
                return await inner(request, context)
            wrapped = checked_call
        else:
            def checked_plain(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, _malformed(method, request))
                return inner(request, context)
            wrapped = checked_plain
        make = (grpc.unary_stream_rpc_method_handler if streaming
                else grpc.unary_unary_rpc_method_handler)
        return make(wrapped, request_deserializer=_tolerant(handler.request_deserializer),
                    response_serializer=handler.response_serializer)


class LoopHealth(aio_health.HealthServicer):
    """The standard health service on a LoopServer: Watch is a coroutine (see AsyncStreamLimit),
    and set_serving may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop  # set() must run there


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed, else asyncio's: grpc.aio runs on either, and on
    uvloop's the nodes spend less CPU per call (pyproject.toml says how much)."""
    try:
        import uvloop
    except ImportError:  # no wheel for Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopServer(grpc.Server):
    """A grpc.aio server on an event loop in a thread of its own, driven like a grpc.Server.

    Why: on a grpc.server every call takes a pool thread, and a call that waits (for another
    peer, the orderer, a commit) holds it; the threads then hand the GIL and the call to one
    another on every step. Coroutine handlers here run on the one loop thread, their outbound
    calls on aio channels of the same loop, so a waiting call costs no thread and no switch.
    Plain (non-coroutine) handlers still run on a pool of `workers` threads."""

    def __init__(self, workers: int, max_streams: int, options: list[tuple[str, int]]) -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc-loop", daemon=True)
        self._thread.start()

        async def create() -> grpc.aio.Server:  # an aio server binds to the loop it is made on
            return grpc.aio.server(
                futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc-worker"),
                interceptors=[MalformedRequests(), AsyncStreamLimit(max_streams)],
                options=options)

        self._server = self.run(create())

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(generic_rpc_handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Any) -> None:
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    def start(self) -> None:
        self.run(self._server.start())

    def stop(self, grace: float | None) -> threading.Event:
        """Stop serving (in-flight calls get `grace` seconds); the event is set once stopped. The
        loop keeps running, so that aio channels can still be closed on it."""
        stopped = threading.Event()
        done = asyncio.run_coroutine_threadsafe(self._server.stop(grace), self.loop)
        done.add_done_callback(lambda _: stopped.set())
        return stopped

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self.run(self._server.wait_for_termination(timeout)))


# A LoopServer's threads for plain (non-coroutine) handlers. Few: they share one GIL, and every
# extra runnable thread adds hand-offs (measured: 8 against up to 160 cut the endorsing peer's CPU
# and switches per tx a little); its streams are coroutines and hold none.
LOOP_WORKERS = 8

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
    on_loop: bool = False,
) -> tuple[grpc.Server, health.HealthServicer | LoopHealth]:
    """A TLS server with the standard health service; with client CAs, mutual TLS (every client
    presents a certificate chaining to one of them). With on_loop, a LoopServer: coroutine
    handlers run on its event loop, plain ones on LOOP_WORKERS threads (not `workers`).

    At most max_streams of the workers serve streams (Deliver, event streams) at once. Client CAs
    given as a function are read again at each handshake (the channel configuration in force)."""
    if on_loop:
        server: grpc.Server = LoopServer(LOOP_WORKERS, max_streams, message_options(max_message_bytes))
    elif max_streams >= workers:
        raise ValueError(f"max_streams {max_streams} must leave workers ({workers}) for unary calls")
    else:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers),
            interceptors=[StreamLimit(max_streams)],
            options=message_options(max_message_bytes),
        )
    health_servicer: health.HealthServicer | LoopHealth = (
        LoopHealth(server.loop) if isinstance(server, LoopServer) else health.HealthServicer())
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_secure_port(
        address,
        dynamic_server_credentials(identity_dir, client_ca_pems) if callable(client_ca_pems)
        else server_credentials(identity_dir, client_ca_pems),
    )
    return server, health_servicer


def set_serving(health_servicer: health.HealthServicer | LoopHealth, serving: bool) -> None:
    status = (health_pb2.HealthCheckResponse.SERVING if serving
              else health_pb2.HealthCheckResponse.NOT_SERVING)
    if isinstance(health_servicer, LoopHealth):
        asyncio.run_coroutine_threadsafe(health_servicer.set("", status), health_servicer.loop).result()
    else:
        health_servicer.set("", status)


def node_channel(address: str, root_pems: Sequence[bytes], identity_dir: Path,
                 max_message_bytes: int, *, aio: bool = False) -> Any:
    """A mutual-TLS channel from this node to another node: a grpc.Channel, or with aio a
    grpc.aio.Channel (open it on the event loop that uses it).

    A blocking channel's server streams (the committer's Deliver) are read on the reading thread
    itself rather than handed over by grpc's channel thread: one thread wake-up less per block."""
    if aio:
        return grpc.aio.secure_channel(address, channel_credentials(root_pems, identity_dir),
                                       options=message_options(max_message_bytes))
    return grpc.secure_channel(
        address, channel_credentials(root_pems, identity_dir),
        options=[*message_options(max_message_bytes), (ChannelOptions.SingleThreadedUnaryStream, 1)],
    )
