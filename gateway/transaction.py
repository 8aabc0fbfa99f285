"""Transaction: an endorsed proposal, to be signed by the client and submitted for ordering."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from careledger.gateway.client import GatewayClient
from careledger.gateway.commit import Commit, new_commit
from careledger.gateway.errors import MalformedMessageError
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2


class Transaction:
    """A prepared transaction; bytes() is the Envelope, digest() the SHA-256 of its payload."""

    def __init__(self, client: GatewayClient, envelope: common_pb2.Envelope) -> None:
        transaction = common_pb2.Transaction()
        proposal = common_pb2.Proposal()
        response_payload = common_pb2.ProposalResponsePayload()
        try:
            transaction.ParseFromString(envelope.payload)
            proposal.ParseFromString(transaction.proposal)
            response_payload.ParseFromString(transaction.response_payload)
        except DecodeError as err:
            raise MalformedMessageError(f"not a prepared transaction Envelope: {err}") from err
        if not proposal.header.tx_id:
            raise MalformedMessageError("prepared transaction has no tx id in its proposal header")
        self._client = client
        self._envelope = envelope
        self._channel = proposal.header.channel
        self._tx_id = proposal.header.tx_id
        self._result = response_payload.response.payload

    @classmethod
    def from_bytes(cls, client: GatewayClient, data: bytes, signature: bytes) -> Transaction:
        """Rebuild a transaction from Transaction.bytes() and attach an offline signature."""
        envelope = common_pb2.Envelope()
        try:
            envelope.ParseFromString(data)
        except DecodeError as err:
            raise MalformedMessageError(f"not the bytes() of a Transaction: {err}") from err
        envelope.signature = signature
        return cls(client, envelope)

    @property
    def tx_id(self) -> str:
        """The transaction's id on the ledger."""
        return self._tx_id

    @property
    def result(self) -> bytes:
        """What the contract function returned during endorsement."""
        return self._result

    def bytes(self) -> bytes:
        """The serialized Envelope, for offline signing and Gateway.new_signed_transaction."""
        return self._envelope.SerializeToString(deterministic=True)

    def digest(self) -> bytes:
        """The SHA-256 digest to sign: of the Envelope's payload (the serialized Transaction)."""
        return sha256(self._envelope.payload)

    def submit(self) -> Commit:
        """Send the signed transaction to the orderer; the Commit tells how it was validated."""
        signature = self._envelope.signature or self._client.sign(
            self.digest(), "transaction", self._tx_id
        )
        self._client.submit(
            gateway_pb2.SubmitRequest(
                tx_id=self._tx_id,
                channel=self._channel,
                prepared_transaction=common_pb2.Envelope(
                    payload=self._envelope.payload, signature=signature
                ),
            )
        )
        return new_commit(self._client, self._channel, self._tx_id)
