"""Commit: ask the gateway how a submitted transaction was validated once it is in a block."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from google.protobuf.message import DecodeError

from careledger.gateway.client import COMMIT_STATUS, ClientBase, GatewayClient
from careledger.gateway.errors import CommitError, MalformedMessageError, validation_code_name
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2

_Client = TypeVar("_Client", bound=ClientBase[Any])
_log = logging.getLogger(__name__)
_READ_CONFLICTS = (common_pb2.MVCC_READ_CONFLICT, common_pb2.PHANTOM_READ_CONFLICT)


@dataclass(frozen=True)
class Status:
    """A committed transaction's validation outcome; successful only when code is VALID."""

    tx_id: str
    code: int
    code_name: str
    block_number: int
    successful: bool


class CommitBase(Generic[_Client]):
    """A submitted transaction; bytes() is the CommitStatusRequest, digest() its SHA-256."""

    def __init__(
        self,
        client: _Client,
        request: gateway_pb2.CommitStatusRequest,
        signature: bytes = b"",
    ) -> None:
        self._client = client
        self._request = request
        self._signature = signature

    @classmethod
    def from_bytes(cls, client: _Client, data: bytes, signature: bytes) -> Self:
        """Rebuild a commit from Commit.bytes() and attach an offline signature."""
        request = gateway_pb2.CommitStatusRequest()
        try:
            request.ParseFromString(data)
        except DecodeError as err:
            raise MalformedMessageError(f"not the bytes() of a Commit: {err}") from err
        if not request.tx_id:
            raise MalformedMessageError("not the bytes() of a Commit: it names no tx id")
        return cls(client, request, signature)

    @property
    def tx_id(self) -> str:
        """The id of the submitted transaction."""
        return self._request.tx_id

    def digest(self) -> bytes:
        """The SHA-256 digest to sign: of bytes()."""
        return sha256(self.bytes())

    def _signed(self) -> common_pb2.Signed:
        signature = self._signature or self._client.sign(self.digest(), "commit", self.tx_id)
        return common_pb2.Signed(payload=self.bytes(), signature=signature)

    def _status(self, response: gateway_pb2.CommitStatusResponse) -> Status:
        return Status(
            tx_id=self.tx_id,
            code=response.result,
            code_name=validation_code_name(response.result),
            block_number=response.block_number,
            successful=response.result == common_pb2.VALID,
        )

    def _answered(self, response: gateway_pb2.SubmitResponse | None) -> Status | None:
        """The status a Submit that waited for the commit answered; None when CommitStatus must be
        asked: the wait ran out (the transaction may still commit), or the gateway peer is older
        and does not wait (no `commit` in its answer)."""
        if response is None or not response.HasField("commit"):
            return None
        return self._status(response.commit)

    # Last in the class body: below it, `bytes` in an annotation would name this method.
    def bytes(self) -> bytes:
        """The serialized CommitStatusRequest, for offline signing and Gateway.new_signed_commit."""
        return self._request.SerializeToString(deterministic=True)


class Commit(CommitBase[GatewayClient]):
    """A commit of the blocking SDK: get_status() waits for the block."""

    def get_status(self) -> Status:
        """Wait for the transaction's block and return its validation code."""
        return self._status(self._client.call(COMMIT_STATUS, self._signed(), self.tx_id))


class WithResult(CommitBase[_Client]):
    """A Commit that also carries the contract's result, as returned by Contract.submit_async."""

    def __init__(self, commit: CommitBase[_Client], result: bytes) -> None:
        super().__init__(commit._client, commit._request, commit._signature)
        self._result = result

    @property
    def result(self) -> bytes:
        """What the contract function returned during endorsement."""
        return self._result


class SubmittedTransaction(WithResult[GatewayClient], Commit):
    """A submitted transaction of the blocking SDK: its result now, its status on get_status()."""


@dataclass
class MvccRetries:
    """How many more times submit_transaction may re-endorse after a read conflict."""

    left: int

    def outcome(self, result: bytes, status: Status) -> bytes | None:
        """The contract's result when the commit is VALID; None to retry with a new proposal;
        else CommitError."""
        if status.successful:
            return result
        if status.code in _READ_CONFLICTS and self.left > 0:
            self.left -= 1
            _log.info(
                "tx %s hit %s in block %d; re-endorsing as a new proposal (%d retries left)",
                status.tx_id, status.code_name, status.block_number, self.left,
            )
            return None
        raise CommitError(status.tx_id, status.code, status.block_number)
