"""Transaction: an endorsed proposal, to be signed by the client and submitted for ordering."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import grpc
from google.protobuf.message import DecodeError

from careledger.gateway.client import SUBMIT, SUBMIT_AND_WAIT, ClientBase, GatewayClient, Stage
from careledger.gateway.commit import Commit, Status
from careledger.gateway.errors import MalformedMessageError, SubmitError
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2

_Client = TypeVar("_Client", bound=ClientBase[Any])

SUBMIT_ATTEMPTS = 3
SUBMIT_RETRY_DELAY = 0.5
AMBIGUOUS_SUBMIT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass(frozen=True)
class Prepared:
    """A prepared transaction Envelope with what the client needs from inside it."""

    envelope: common_pb2.Envelope
    channel: str
    tx_id: str
    result: bytes

    @classmethod
    def parse(cls, envelope: common_pb2.Envelope) -> Prepared:
        """Read channel, tx id and contract result out of envelope, or raise MalformedMessageError."""
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
        return cls(envelope, proposal.header.channel, proposal.header.tx_id,
                   response_payload.response.payload)


class TransactionBase(Generic[_Client]):
    """A prepared transaction; bytes() is the Envelope, digest() the SHA-256 of its payload."""

    def __init__(self, client: _Client, prepared: Prepared) -> None:
        self._client = client
        self._prepared = prepared

    @classmethod
    def from_bytes(cls, client: _Client, data: bytes, signature: bytes) -> Self:
        """Rebuild a transaction from Transaction.bytes() and attach an offline signature."""
        envelope = common_pb2.Envelope()
        try:
            envelope.ParseFromString(data)
        except DecodeError as err:
            raise MalformedMessageError(f"not the bytes() of a Transaction: {err}") from err
        envelope.signature = signature
        return cls(client, Prepared.parse(envelope))

    @property
    def tx_id(self) -> str:
        """The transaction's id on the ledger."""
        return self._prepared.tx_id

    @property
    def result(self) -> bytes:
        """What the contract function returned during endorsement."""
        return self._prepared.result

    @staticmethod
    def _retry_submit(err: SubmitError, attempt: int, waiting: bool) -> float | None:
        """After a failed submit: seconds to wait before sending the same envelope again, or None
        to ask CommitStatus instead: an earlier attempt evidently got through (ALREADY_EXISTS), or
        a submit waiting for the commit ran out of time (the transaction may still commit);
        raises err when final.

        UNAVAILABLE and DEADLINE_EXCEEDED leave it unknown whether the orderer took the
        transaction; sending the same tx id again is safe because peers commit a tx id once (and
        a gateway asked to wait answers the status of one already committed)."""
        if attempt > 0 and err.code == grpc.StatusCode.ALREADY_EXISTS:
            return None
        if waiting and err.code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return None
        if err.code in AMBIGUOUS_SUBMIT and attempt + 1 < SUBMIT_ATTEMPTS:
            return SUBMIT_RETRY_DELAY * (attempt + 1)
        raise err

    def digest(self) -> bytes:
        """The SHA-256 digest to sign: of the Envelope's payload (the serialized Transaction)."""
        return sha256(self._prepared.envelope.payload)

    def _submit_call(
        self, wait_for_commit: bool
    ) -> tuple[Stage[gateway_pb2.SubmitRequest, gateway_pb2.SubmitResponse], gateway_pb2.SubmitRequest]:
        """The stage and signed request of a Submit; one that waits for the commit has the
        commit status deadline."""
        prepared = self._prepared
        request = gateway_pb2.SubmitRequest(
            tx_id=prepared.tx_id, channel=prepared.channel, wait_for_commit=wait_for_commit
        )
        # Set in place: an Envelope passed to the constructor would be built, then copied.
        envelope = request.prepared_transaction
        envelope.payload = prepared.envelope.payload
        envelope.signature = prepared.envelope.signature or self._client.sign(
            self.digest(), "transaction", self.tx_id
        )
        return SUBMIT_AND_WAIT if wait_for_commit else SUBMIT, request

    def _commit_request(self) -> gateway_pb2.CommitStatusRequest:
        return gateway_pb2.CommitStatusRequest(
            channel=self._prepared.channel, tx_id=self.tx_id, identity=self._client.identity.certificate
        )

    # Last in the class body: below it, `bytes` in an annotation would name this method.
    def bytes(self) -> bytes:
        """The serialized Envelope, for offline signing and Gateway.new_signed_transaction."""
        return self._prepared.envelope.SerializeToString(deterministic=True)


class Transaction(TransactionBase[GatewayClient]):
    """A transaction of the blocking SDK: submit() waits for the orderer to accept it."""

    def submit(self) -> Commit:
        """Send the signed transaction to the orderer (again, with the same tx id, when the
        outcome was ambiguous); the Commit tells how it was validated."""
        self._send(wait_for_commit=False)
        return Commit(self._client, self._commit_request())

    def _submit_and_wait(self) -> Status:
        """Submit and wait for the commit in one call, as Contract.submit_transaction does; asks
        CommitStatus, as get_status() does, when that wait ran out or the gateway does not wait."""
        commit = Commit(self._client, self._commit_request())
        status = commit._answered(self._send(wait_for_commit=True))
        return status if status is not None else commit.get_status()

    def _send(self, wait_for_commit: bool) -> gateway_pb2.SubmitResponse | None:
        """Submit's answer, the same envelope sent again while the outcome is ambiguous; None
        when CommitStatus must tell (see _retry_submit)."""
        stage, request = self._submit_call(wait_for_commit)
        attempt = 0
        while True:
            try:
                return self._client.call(stage, request, self.tx_id)
            except SubmitError as err:
                wait = self._retry_submit(err, attempt, wait_for_commit)
                if wait is None:
                    return None
                time.sleep(wait)
                attempt += 1
