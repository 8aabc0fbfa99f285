"""Every error the SDK raises, in one module so that callers can catch by stage or by kind.

A `GatewayError` means a gateway call failed (nothing, or not everything, reached the ledger); a
`CommitError` means the transaction was ordered into a block but the committers marked it invalid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from careledger.protos import common_pb2, gateway_pb2

ERROR_DETAILS_KEY = "careledger-errors-bin"


@dataclass(frozen=True)
class ErrorDetail:
    """What one peer answered when the gateway asked it: its address, its org and its message."""

    address: str
    org: str
    message: str


class GatewayError(Exception):
    """A gateway call failed; `code` is the gRPC status, `details` the per-peer answers."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        tx_id: str = "",
        stage: str = "",
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        self.message = message
        self.code = code
        self.tx_id = tx_id
        self.stage = stage
        self.details = list(details)
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.stage:
            of_tx = f" of transaction {self.tx_id}" if self.tx_id else ""
            text += f" ({self.stage}{of_tx} failed: {self.code.name})"
        for d in self.details:
            text += f"\n  - peer {d.address} ({d.org}): {d.message}"
        return text


class EvaluateError(GatewayError):
    """Evaluate failed: the peer could not run the query or the contract returned an error."""


class EndorseError(GatewayError):
    """Endorse failed: not enough peers endorsed, they disagreed, or the contract returned an error."""


class SubmitError(GatewayError):
    """Submit failed: the orderer did not accept the signed transaction."""


class CommitStatusError(GatewayError):
    """The commit status could not be obtained; the transaction may still commit."""


class ChaincodeEventsError(GatewayError):
    """The chaincode event stream failed and could not be resumed (refused, or out of attempts);
    open it again with the checkpointer the listener keeps."""


class BlockEventsError(GatewayError):
    """The block event stream failed and could not be resumed (refused, or out of attempts);
    open it again with the checkpointer the listener keeps."""


class OfflineSigningError(Exception):
    """A step needs a signature but the gateway has no signer and none was attached."""


class MalformedMessageError(ValueError):
    """Bytes handed to the SDK (or returned by a peer) do not parse as the expected message."""


class InvalidKeyError(ValueError):
    """A private key is not a PEM-encoded ECDSA key, so no signer can be made from it."""


class InvalidRequestError(ValueError):
    """The SDK refuses to build a request every peer would refuse, e.g. a function name over the
    peers' 128-character limit; nothing was sent."""


class LocalNetworkError(Exception):
    """A local network directory is missing, incomplete, or does not name the requested org/peer."""


_MEANINGS: dict[str, str] = {
    "MVCC_READ_CONFLICT": "another transaction changed a key this one read; retry the transaction",
    "PHANTOM_READ_CONFLICT": (
        "another transaction added or removed a key in a range this one scanned; retry the transaction"
    ),
    "ENDORSEMENT_POLICY_FAILURE": (
        "its endorsements do not satisfy the contract's endorsement policy; endorse with the "
        "organisations the policy names (endorsing_orgs)"
    ),
    "DUPLICATE_TXID": (
        "a transaction with this id is already on the ledger; build a new proposal instead of "
        "resubmitting a signed one"
    ),
    "BAD_CREATOR_SIGNATURE": (
        "the client's signature does not verify; sign with the private key of the identity's "
        "certificate"
    ),
    "BAD_PROPOSAL_TXID": (
        "its tx id is not SHA-256(nonce || creator); build proposals with Contract.new_proposal"
    ),
    "UNKNOWN_CONTRACT": "the contract is not deployed on this channel; check the contract name",
    "BAD_CHANNEL": "it names a channel this ledger does not serve; check the channel name",
    "INVALID_OTHER_REASON": "the committer rejected it; see the peer log for this tx id",
}
_MALFORMED = "the transaction is malformed; this is a bug in the SDK or gateway, please report it"


# ValidationCode.Name() walks protobuf's pure-Python enum wrapper on every commit status.
_VALIDATION_CODE_NAMES = {v.number: v.name for v in common_pb2.ValidationCode.DESCRIPTOR.values}


def validation_code_name(code: int) -> str:
    """The ValidationCode name for code, or UNKNOWN(<n>) for a code this SDK does not know."""
    return _VALIDATION_CODE_NAMES.get(code) or f"UNKNOWN({code})"


class CommitError(Exception):
    """The transaction was ordered but validated invalid: its writes were not applied."""

    def __init__(self, tx_id: str, code: int, block_number: int) -> None:
        self.tx_id = tx_id
        self.code = code
        self.code_name = validation_code_name(code)
        self.block_number = block_number
        meaning = _MEANINGS.get(self.code_name, _MALFORMED)
        super().__init__(
            f"transaction {tx_id} was ordered in block {block_number} but is invalid "
            f"({self.code_name}): {meaning}"
        )


def _details_from_trailers(err: grpc.RpcError) -> list[ErrorDetail]:
    trailing = getattr(err, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key != ERROR_DETAILS_KEY:
            continue
        parsed = gateway_pb2.ErrorDetails()
        try:
            parsed.ParseFromString(value)
        except DecodeError:
            return [ErrorDetail("", "", f"unreadable {ERROR_DETAILS_KEY} trailer")]
        return [ErrorDetail(d.address, d.org, d.message) for d in parsed.details]
    return []


def from_rpc_error(
    err: grpc.RpcError,
    error_class: type[GatewayError],
    *,
    stage: str,
    tx_id: str,
    address: str,
    timeout: float | None,
    timeout_field: str | None = None,
) -> GatewayError:
    """Map a failed gRPC call to error_class, naming the stage, tx id and (for deadlines) the
    Timeouts field to raise (timeout_field, by default the stage's name)."""
    code_fn = getattr(err, "code", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details_fn = getattr(err, "details", None)
    message = (details_fn() if callable(details_fn) else None) or str(err)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
        field = timeout_field or stage.replace(" ", "_")
        message = (
            f"{stage} of transaction {tx_id} exceeded its {timeout:g}s deadline at {address}; "
            f"the peer or the network is slow: retry, or raise Timeouts.{field}"
        )
    elif code == grpc.StatusCode.UNAVAILABLE:
        message = f"{message}: gateway peer {address} is unavailable; check that it is running"
    return error_class(
        message, code=code, tx_id=tx_id, stage=stage, details=_details_from_trailers(err)
    )
