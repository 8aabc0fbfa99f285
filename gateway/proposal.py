"""Proposal: a request to run one contract function, to evaluate (query) or endorse (transact)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar

import grpc
from google.protobuf.message import DecodeError

from careledger.gateway.client import ENDORSE, EVALUATE, ClientBase, GatewayClient
from careledger.gateway.errors import (
    EndorseError,
    EvaluateError,
    InvalidRequestError,
    MalformedMessageError,
)
from careledger.gateway.identity import Identity, sha256
from careledger.gateway.transaction import Prepared, Transaction
from careledger.protos import common_pb2, gateway_pb2

NONCE_SIZE = 24
MAX_NAME_LENGTH = 128  # the peers' limit on contract and function names (chaincode.runtime)
_OK = 200
_CONTRACT_ERROR = grpc.StatusCode.UNKNOWN  # the call succeeded; the contract did not

Arg = str | bytes
Transient = Mapping[str, Arg] | None
Orgs = Sequence[str] | None
_Client = TypeVar("_Client", bound=ClientBase[Any])


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """The transaction id every node recomputes: hex SHA-256 of nonce || creator PEM."""
    return hashlib.sha256(nonce + creator).hexdigest()


def _as_bytes(value: Arg) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def build_proposal(
    identity: Identity,
    channel: str,
    contract: str,
    function: str,
    args: Iterable[Arg] = (),
    transient: Mapping[str, Arg] | None = None,
) -> common_pb2.Proposal:
    """A fresh Proposal: new nonce, tx id from the rule, creator = the identity's certificate;
    raises InvalidRequestError for a contract or function name over MAX_NAME_LENGTH."""
    for what, name in (("contract", contract), ("function", function)):
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidRequestError(
                f"{what} name {name[:40]!r}... is {len(name)} characters long; the peers accept "
                f"at most {MAX_NAME_LENGTH}"
            )
    nonce = os.urandom(NONCE_SIZE)
    proposal = common_pb2.Proposal(
        contract=contract,
        function=function,
        args=[_as_bytes(a) for a in args],
        transient={k: _as_bytes(v) for k, v in transient.items()} if transient else None,
    )
    # Fields set in place: a Header passed to the constructor would be built, then copied.
    header = proposal.header
    header.channel = channel
    header.tx_id = compute_tx_id(nonce, identity.certificate)
    header.creator = identity.certificate
    header.nonce = nonce
    # What Timestamp.GetCurrentTime() sets, from one clock read: that helper goes through datetime
    # and calendar in pure Python, about 8 times slower.
    header.timestamp.seconds, header.timestamp.nanos = divmod(time.time_ns(), 1_000_000_000)
    return proposal


class ProposalBase(Generic[_Client]):
    """A proposal ready to evaluate or endorse; bytes()/digest() let it be signed elsewhere.

    bytes() is the serialized EndorseRequest (organizations included) so that an offline signer
    can hand it back through Gateway.new_signed_proposal; digest() is what gets signed: the
    SHA-256 of the serialized Proposal. The blocking and asyncio Proposal add only the calls.
    """

    def __init__(self, client: _Client, request: gateway_pb2.EndorseRequest) -> None:
        self._client = client
        self._request = request

    @classmethod
    def from_bytes(cls, client: _Client, data: bytes, signature: bytes) -> Self:
        """Rebuild a proposal from Proposal.bytes() and attach an offline signature."""
        request = gateway_pb2.EndorseRequest()
        proposal = common_pb2.Proposal()
        try:
            request.ParseFromString(data)
            proposal.ParseFromString(request.proposed_transaction.proposal_bytes)
        except DecodeError as err:
            raise MalformedMessageError(f"not the bytes() of a Proposal: {err}") from err
        if not request.tx_id or proposal.header.tx_id != request.tx_id:
            raise MalformedMessageError(
                f"not the bytes() of a Proposal: tx id {request.tx_id!r} does not match its header"
            )
        request.proposed_transaction.signature = signature
        return cls(client, request)

    @property
    def tx_id(self) -> str:
        """The id the transaction will have on the ledger."""
        return self._request.tx_id

    @property
    def organizations(self) -> list[str]:
        """Orgs asked to endorse (endorse) or to answer (evaluate); empty lets the gateway pick."""
        return list(self._request.endorsing_organizations)

    def digest(self) -> bytes:
        """The SHA-256 digest to sign: of the serialized Proposal."""
        return sha256(self._request.proposed_transaction.proposal_bytes)

    def _evaluate_request(self) -> gateway_pb2.EvaluateRequest:
        request = self._request
        evaluate = gateway_pb2.EvaluateRequest(
            tx_id=request.tx_id,
            channel=request.channel,
            target_organizations=request.endorsing_organizations,
        )
        # Set in place: a SignedProposal passed to the constructor would be built, then copied.
        signed = evaluate.proposed_transaction
        signed.proposal_bytes = request.proposed_transaction.proposal_bytes
        signed.signature = self._signature()
        return evaluate

    def _evaluated(self, response: gateway_pb2.EvaluateResponse) -> bytes:
        result = response.result
        if result.status != _OK:
            raise EvaluateError(
                f"{result.message} (contract returned status {result.status})",
                code=_CONTRACT_ERROR, tx_id=self.tx_id, stage="evaluate",
            )
        return result.payload

    def _endorse_request(self) -> gateway_pb2.EndorseRequest:
        request = gateway_pb2.EndorseRequest()
        request.CopyFrom(self._request)
        request.proposed_transaction.signature = self._signature()
        return request

    def _endorsed(self, response: gateway_pb2.EndorseResponse) -> Prepared:
        if response.HasField("result") and response.result.status != _OK:
            raise EndorseError(
                f"{response.result.message} (contract returned status {response.result.status})",
                code=_CONTRACT_ERROR, tx_id=self.tx_id, stage="endorse",
            )
        try:
            return Prepared.parse(response.prepared_transaction)
        except MalformedMessageError as err:
            raise EndorseError(
                f"gateway returned a malformed prepared transaction: {err}",
                code=grpc.StatusCode.INTERNAL, tx_id=self.tx_id, stage="endorse",
            ) from err

    def _signature(self) -> bytes:
        """The offline signature the proposal came with, else the gateway signer's over digest()."""
        signature = self._request.proposed_transaction.signature
        return signature or self._client.sign(self.digest(), "proposal", self.tx_id)

    # Last in the class body: below it, `bytes` in an annotation would name this method.
    def bytes(self) -> bytes:
        """The serialized request, for offline signing and Gateway.new_signed_proposal."""
        return self._request.SerializeToString(deterministic=True)


class Proposal(ProposalBase[GatewayClient]):
    """A proposal of the blocking SDK: evaluate() and endorse() wait for the gateway."""

    def evaluate(self) -> bytes:
        """Run the function on one peer of the target orgs and return its result; no ledger write."""
        return self._evaluated(self._client.call(EVALUATE, self._evaluate_request(), self.tx_id))

    def endorse(self) -> Transaction:
        """Have the policy's orgs endorse the proposal; returns the transaction to sign and submit."""
        response = self._client.call(ENDORSE, self._endorse_request(), self.tx_id)
        return Transaction(self._client, self._endorsed(response))


def new_endorse_request(
    identity: Identity,
    channel: str,
    contract: str,
    function: str,
    args: Sequence[Arg] = (),
    transient: Transient = None,
    organizations: Orgs = None,
) -> gateway_pb2.EndorseRequest:
    """The unsigned request a new Proposal for identity starts from."""
    proposal = build_proposal(identity, channel, contract, function, args, transient)
    request = gateway_pb2.EndorseRequest(
        tx_id=proposal.header.tx_id, channel=channel, endorsing_organizations=organizations or ()
    )
    request.proposed_transaction.proposal_bytes = proposal.SerializeToString(deterministic=True)
    return request
