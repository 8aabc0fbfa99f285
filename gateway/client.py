"""The RPC layer every step object shares: one stub, a deadline per stage, signing, error mapping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from careledger.gateway.errors import (
    ChaincodeEventsError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    GatewayError,
    OfflineSigningError,
    SubmitError,
    from_rpc_error,
)
from careledger.gateway.identity import Identity, Signer
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc

_Response = TypeVar("_Response")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds per gateway call; commit status waits for a block, so it is longest."""

    evaluate: float = 30.0
    endorse: float = 30.0
    submit: float = 30.0
    commit_status: float = 60.0


DEFAULT_TIMEOUTS = Timeouts()


class GatewayClient:
    """Calls the Gateway service of one peer on behalf of one identity."""

    def __init__(
        self,
        channel: grpc.Channel,
        address: str,
        identity: Identity,
        signer: Signer | None,
        timeouts: Timeouts,
    ) -> None:
        self._stub = gateway_pb2_grpc.GatewayStub(channel)
        self.address = address
        self.identity = identity
        self._signer = signer
        self._timeouts = timeouts

    def sign(self, digest: bytes, step: str, tx_id: str) -> bytes:
        """Sign digest with the gateway's signer; without one, say how to sign step offline."""
        if self._signer is None:
            raise OfflineSigningError(
                f"{step} of transaction {tx_id} is not signed and the gateway has no signer: "
                f"sign its digest() and pass bytes() and the signature to "
                f"Gateway.new_signed_{step}"
            )
        return self._signer(digest)

    def sign_request(self, digest: bytes, what: str) -> bytes:
        """Sign a read request (no offline path): the gateway must have been given a signer."""
        if self._signer is None:
            raise OfflineSigningError(
                f"{what} must be signed but the gateway has no signer: connect with a signer"
            )
        return self._signer(digest)

    def evaluate(self, request: gateway_pb2.EvaluateRequest) -> gateway_pb2.EvaluateResponse:
        """Run the proposal on one peer without ordering it."""
        return self._unary(
            self._stub.Evaluate, request, "evaluate", EvaluateError,
            request.tx_id, self._timeouts.evaluate,
        )

    def endorse(self, request: gateway_pb2.EndorseRequest) -> gateway_pb2.EndorseResponse:
        """Collect endorsements; the answer holds the unsigned prepared transaction."""
        return self._unary(
            self._stub.Endorse, request, "endorse", EndorseError,
            request.tx_id, self._timeouts.endorse,
        )

    def submit(self, request: gateway_pb2.SubmitRequest) -> gateway_pb2.SubmitResponse:
        """Hand the signed transaction to the orderer."""
        return self._unary(
            self._stub.Submit, request, "submit", SubmitError,
            request.tx_id, self._timeouts.submit,
        )

    def commit_status(
        self, signed: common_pb2.Signed, tx_id: str
    ) -> gateway_pb2.CommitStatusResponse:
        """Wait until the transaction is in a committed block and return its validation code."""
        return self._unary(
            self._stub.CommitStatus, signed, "commit status", CommitStatusError,
            tx_id, self._timeouts.commit_status,
        )

    def chaincode_events(self, signed: common_pb2.Signed) -> grpc.Call:
        """Open the event stream; the returned call is an iterator and can be cancelled."""
        return self._stub.ChaincodeEvents(signed)

    def events_error(self, err: grpc.RpcError) -> GatewayError:
        """Map a failure of the event stream."""
        return from_rpc_error(
            err, ChaincodeEventsError, stage="chaincode events", tx_id="",
            address=self.address, timeout=None,
        )

    def _unary(
        self,
        method: Callable[..., _Response],
        request: object,
        stage: str,
        error_class: type[GatewayError],
        tx_id: str,
        timeout: float,
    ) -> _Response:
        _log.debug("%s of tx %s via gateway %s", stage, tx_id, self.address)
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(
                err, error_class, stage=stage, tx_id=tx_id, address=self.address, timeout=timeout
            ) from err

