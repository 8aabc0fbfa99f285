"""Commit: ask the gateway how a submitted transaction was validated once it is in a block."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from careledger.gateway.client import GatewayClient
from careledger.gateway.errors import MalformedMessageError, validation_code_name
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2


@dataclass(frozen=True)
class Status:
    """A committed transaction's validation outcome; successful only when code is VALID."""

    tx_id: str
    code: int
    code_name: str
    block_number: int
    successful: bool


class Commit:
    """A submitted transaction; bytes() is the CommitStatusRequest, digest() its SHA-256."""

    def __init__(
        self,
        client: GatewayClient,
        request: gateway_pb2.CommitStatusRequest,
        signature: bytes = b"",
    ) -> None:
        self._client = client
        self._request = request
        self._signature = signature

    @classmethod
    def from_bytes(cls, client: GatewayClient, data: bytes, signature: bytes) -> Commit:
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

    def bytes(self) -> bytes:
        """The serialized CommitStatusRequest, for offline signing and Gateway.new_signed_commit."""
        return self._request.SerializeToString(deterministic=True)

    def digest(self) -> bytes:
        """The SHA-256 digest to sign: of bytes()."""
        return sha256(self.bytes())

    def get_status(self) -> Status:
        """Wait for the transaction's block and return its validation code."""
        payload = self.bytes()
        signature = self._signature or self._client.sign(self.digest(), "commit", self.tx_id)
        response = self._client.commit_status(
            common_pb2.Signed(payload=payload, signature=signature), self.tx_id
        )
        return Status(
            tx_id=self.tx_id,
            code=response.result,
            code_name=validation_code_name(response.result),
            block_number=response.block_number,
            successful=response.result == common_pb2.VALID,
        )


class SubmittedTransaction(Commit):
    """A Commit that also carries the contract's result, as returned by Contract.submit_async."""

    def __init__(self, commit: Commit, result: bytes) -> None:
        super().__init__(commit._client, commit._request, commit._signature)
        self._result = result

    @property
    def result(self) -> bytes:
        """What the contract function returned during endorsement."""
        return self._result


def new_commit(client: GatewayClient, channel: str, tx_id: str) -> Commit:
    """An unsigned Commit for tx_id, asked for by the client's identity."""
    request = gateway_pb2.CommitStatusRequest(
        channel=channel, tx_id=tx_id, identity=client.identity.certificate
    )
    return Commit(client, request)
