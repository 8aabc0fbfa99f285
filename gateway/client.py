"""The RPC layer every step object shares: stages, deadlines, signing, error mapping, peer channels.

The blocking GatewayClient here and the asyncio one in careledger.gateway.aio differ only in how
they wait for an answer; what both need (signing, stubs, error mapping) lives in ClientBase.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NotRequired, Required, TypedDict, TypeVar

import grpc

from careledger.gateway.errors import (
    CommitStatusError,
    EndorseError,
    EvaluateError,
    GatewayError,
    OfflineSigningError,
    SubmitError,
    from_rpc_error,
)
from careledger.gateway.identity import Identity, Signer
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc, query_pb2_grpc

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Channel = TypeVar("_Channel")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds per gateway call; commit status waits for a block, so it is longest."""

    evaluate: float = 30.0
    endorse: float = 30.0
    submit: float = 30.0
    commit_status: float = 60.0


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class Reconnect:
    """How an event stream comes back after its peer went away: exponential back-off between
    attempts, each attempt at the next peer of the list; max_attempts=None keeps trying forever."""

    initial_delay: float = 0.2
    max_delay: float = 5.0
    max_attempts: int | None = None

    def delay(self, failures: int) -> float:
        """Seconds to wait after the given number of consecutive failures (1 or more)."""
        return min(self.max_delay, self.initial_delay * 2.0 ** (failures - 1))

    def channel_options(self) -> list[tuple[str, int]]:
        """gRPC's own reconnect back-off capped alike, so a restarted peer is dialled again soon."""
        return [
            ("grpc.initial_reconnect_backoff_ms", int(self.initial_delay * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(self.initial_delay * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(self.max_delay * 1000)),
        ]


DEFAULT_RECONNECT = Reconnect()


@dataclass(frozen=True)
class Stage(Generic[_Request, _Response]):
    """One unary call: its name in errors and logs, its stub method, error class and deadline."""

    name: str
    method: str
    error: type[GatewayError]
    timeout_field: str
    query: bool = False  # served by the peer's Query service rather than its Gateway service

    def timeout(self, timeouts: Timeouts) -> float:
        """The deadline Timeouts sets for this stage."""
        return float(getattr(timeouts, self.timeout_field))


EVALUATE: Stage[gateway_pb2.EvaluateRequest, gateway_pb2.EvaluateResponse] = Stage(
    "evaluate", "Evaluate", EvaluateError, "evaluate"
)
ENDORSE: Stage[gateway_pb2.EndorseRequest, gateway_pb2.EndorseResponse] = Stage(
    "endorse", "Endorse", EndorseError, "endorse"
)
SUBMIT: Stage[gateway_pb2.SubmitRequest, gateway_pb2.SubmitResponse] = Stage(
    "submit", "Submit", SubmitError, "submit"
)
# Submit with wait_for_commit: the orderer's refusals are SubmitErrors, as for SUBMIT, but the call
# lasts until the block commits, so it has the commit status deadline.
SUBMIT_AND_WAIT: Stage[gateway_pb2.SubmitRequest, gateway_pb2.SubmitResponse] = Stage(
    "submit", "Submit", SubmitError, "commit_status"
)
COMMIT_STATUS: Stage[common_pb2.Signed, gateway_pb2.CommitStatusResponse] = Stage(
    "commit status", "CommitStatus", CommitStatusError, "commit_status"
)


class Peers(Generic[_Channel]):
    """The gateway peer first, then fallbacks that event streams move to; channels open on first use."""

    def __init__(self, addresses: Sequence[str], open_channel: Callable[[str], _Channel]) -> None:
        self.addresses = list(addresses)
        self._open = open_channel
        self._channels: dict[int, _Channel] = {}

    def channel(self, index: int) -> _Channel:
        """The channel to peer number index, opened now if it was not yet."""
        if index not in self._channels:
            self._channels[index] = self._open(self.addresses[index])
        return self._channels[index]

    def opened(self) -> list[_Channel]:
        """Every channel opened so far, for closing."""
        return list(self._channels.values())


@dataclass(frozen=True)
class Options:
    """Per-gateway choices: deadlines, MVCC retries of submit_transaction, event reconnection."""

    timeouts: Timeouts = DEFAULT_TIMEOUTS
    retry_mvcc: int = 0
    reconnect: Reconnect = DEFAULT_RECONNECT


class GatewayOptions(TypedDict, total=False):
    """Keyword options of connect and connect_local (both SDKs): see Options."""

    timeouts: Timeouts
    retry_mvcc: int
    reconnect: Reconnect


class ConnectSettings(GatewayOptions, total=False):
    """Keyword arguments of connect (both SDKs): the TLS roots that issued the peers' serving
    certificates, the TLS client certificate and key (PEM) that CareLedger peers require (mutual
    TLS; any certificate a channel org's CA issued, usually the identity's own), a TLS name for
    the first address, and peers of the same org that event streams move to when the first is
    unreachable."""

    tls_root_certificates: Required[bytes]
    tls_client_certificate: NotRequired[bytes]
    tls_client_key: NotRequired[bytes]
    server_name: NotRequired[str | None]
    fallback_addresses: NotRequired[Sequence[str]]


def secure_peers(
    open_secure: Callable[..., _Channel], address: str, settings: ConnectSettings
) -> tuple[Peers[_Channel], Options]:
    """The peers of connect(address, **settings), dialled by open_secure (grpc or grpc.aio's
    secure_channel), and the gateway's options."""
    options = Options(
        settings.get("timeouts", DEFAULT_TIMEOUTS),
        settings.get("retry_mvcc", 0),
        settings.get("reconnect", DEFAULT_RECONNECT),
    )
    credentials = grpc.ssl_channel_credentials(
        root_certificates=settings["tls_root_certificates"],
        private_key=settings.get("tls_client_key"),
        certificate_chain=settings.get("tls_client_certificate"),
    )
    server_name = settings.get("server_name")
    channel_options = options.reconnect.channel_options()

    def open_channel(target: str) -> _Channel:
        named = [("grpc.ssl_target_name_override", server_name)] if server_name and target == address else []
        return open_secure(target, credentials, options=[*channel_options, *named])

    return Peers([address, *settings.get("fallback_addresses", ())], open_channel), options


class ClientBase(Generic[_Channel]):
    """Calls the Gateway service of a peer on behalf of one identity; no I/O happens here."""

    def __init__(
        self, peers: Peers[_Channel], identity: Identity, signer: Signer | None, options: Options
    ) -> None:
        self.peers = peers
        self.identity = identity
        self.options = options
        self._signer = signer
        self._stubs: dict[tuple[int, bool], Any] = {}
        self._calls: dict[Stage[Any, Any], tuple[Callable[..., Any], float]] = {}

    @property
    def address(self) -> str:
        """The gateway peer every unary call goes to."""
        return self.peers.addresses[0]

    def sign(self, digest: bytes, step: str, tx_id: str) -> bytes:
        """Sign digest with the gateway's signer; without one, say how to sign step offline."""
        if self._signer is None:
            raise OfflineSigningError(
                f"{step} of transaction {tx_id} is not signed and the gateway has no signer: "
                f"sign its digest() and pass bytes() and the signature to "
                f"Gateway.new_signed_{step}"
            )
        return self._signer(digest)

    def require_signer(self, what: str) -> Signer:
        """The signer for read requests (no offline path): the gateway must have been given one."""
        if self._signer is None:
            raise OfflineSigningError(
                f"{what} must be signed but the gateway has no signer: connect with a signer"
            )
        return self._signer

    def stub(self, peer: int = 0, query: bool = False) -> Any:
        """The Gateway (or Query) stub of peer number peer."""
        key = (peer, query)
        if key not in self._stubs:
            stub_class = query_pb2_grpc.QueryStub if query else gateway_pb2_grpc.GatewayStub
            self._stubs[key] = stub_class(self.peers.channel(peer))
        return self._stubs[key]

    def _start(self, stage: Stage[Any, Any], tx_id: str) -> tuple[Callable[..., Any], float]:
        """The stub method and deadline of stage, looked up on its first call only."""
        _log.debug("%s of tx %s via gateway %s", stage.name, tx_id, self.address)
        call = self._calls.get(stage)
        if call is None:
            method = getattr(self.stub(query=stage.query), stage.method)
            call = self._calls[stage] = method, stage.timeout(self.options.timeouts)
        return call

    def rpc_error(
        self, err: grpc.RpcError, stage: Stage[Any, Any], tx_id: str, timeout: float
    ) -> GatewayError:
        """Map a failed unary call to its stage's error, naming the stage, tx id and peer."""
        return from_rpc_error(
            err, stage.error, stage=stage.name, tx_id=tx_id, address=self.address,
            timeout=timeout, timeout_field=stage.timeout_field,
        )

    def events_error(
        self, err: grpc.RpcError, peer: int, error: type[GatewayError], stream: str
    ) -> GatewayError:
        """Map a failure of the named event stream from peer number peer to error."""
        return from_rpc_error(
            err, error, stage=stream, tx_id="", address=self.peers.addresses[peer], timeout=None
        )


class GatewayClient(ClientBase[grpc.Channel]):
    """The blocking client: each call waits for its answer."""

    def call(self, stage: Stage[_Request, _Response], request: _Request, tx_id: str) -> _Response:
        """Make the unary call of stage and return its answer, or raise the stage's error."""
        method, timeout = self._start(stage, tx_id)
        try:
            response: _Response = method(request, timeout=timeout)
        except grpc.RpcError as err:
            raise self.rpc_error(err, stage, tx_id, timeout) from err
        return response

    def close(self) -> None:
        """Close every channel; open event streams end."""
        for channel in self.peers.opened():
            channel.close()
