"""The endorser: check a signed proposal, simulate it on committed state, sign the outcome.

Simulation never writes: the read-write set goes back to the client inside a signed
ProposalResponsePayload, and only the committer, after ordering, applies it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import grpc

from careledger.chaincode import ClientIdentity
from careledger.chaincode.runtime import TIMED_OUT, ContractRegistry, Invocation, SimulationResult, simulate
from careledger.chaincode.sandbox import Sandbox
from careledger.network.identity.membership import (
    Identity,
    IdentityError,
    Membership,
    remember_own_signature,
)
from careledger.network.identity.signing import Signer, key_matches
from careledger.network.ledger import protoutil, txtime
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import identity_error, parse
from careledger.network.peer import keypolicies
from careledger.network.peer.statedb import StateDB
from careledger.protos import common_pb2, peer_pb2, peer_pb2_grpc

log = logging.getLogger(__name__)

# Contract response statuses (see careledger.chaincode.runtime.simulate) as gRPC statuses.
RESPONSE_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    # not DEADLINE_EXCEEDED: clients read that as their own deadline and would hide the message
    TIMED_OUT: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def status_for_response(status: int) -> grpc.StatusCode:
    return RESPONSE_STATUS.get(status, grpc.StatusCode.ABORTED)


@dataclass(frozen=True)
class CheckedProposal:
    proposal: common_pb2.Proposal
    creator: Identity
    time: datetime  # the proposal's, as checked against this peer's clock: converted once

    @property
    def tx_id(self) -> str:
        return self.proposal.header.tx_id


LOCAL_EVALUATION = "local-evaluation"


def check_size(what: str, tx_id: str, size: int, limit: int) -> None:
    """Refuse a transaction that would not fit in the network's messages, naming it."""
    if size > limit:
        raise RequestError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"transaction {tx_id}: its {what} is {size} bytes, over this network's limit of {limit} "
            "(max_message_bytes); keep large data off the ledger (careledger records put)")


@functools.lru_cache(maxsize=4096)
def client_identity(who: Identity) -> ClientIdentity:
    """The contract's view of a verified identity; made once per identity (it is read-only, so
    calls may share it)."""
    return ClientIdentity(org=who.org, name=who.name, role=who.role, attributes=who.attributes,
                          cert_pem=who.cert_pem)


class TxLookup(Protocol):
    """Anything that says whether a tx id is committed: (validation code, block number)."""

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None: ...


class ContractSource(Protocol):
    """The contracts a peer runs (definitions.LiveContracts: what the ledger defines and this peer
    has installed); refuses with RequestError a contract it cannot run."""

    def registry_for(self, contract: str) -> ContractRegistry: ...


class Endorser:
    def __init__(
        self,
        channel: str,
        membership: Membership,
        contracts: ContractSource,
        state: StateDB,
        signer: Signer,
        committed: TxLookup,
        max_bytes: int,
        clock_skew: timedelta = txtime.DEFAULT_CLOCK_SKEW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sandbox: Sandbox | None = None,
    ) -> None:
        self._channel = channel
        self._sandbox = sandbox  # runs each contract call under the peer's time limit
        self._clock_skew = clock_skew  # how far a proposal's time may be from this peer's clock
        self._clock = clock
        self._max_bytes = max_bytes  # the network's max_message_bytes: a bigger result cannot travel
        self._membership = membership
        self._contracts = contracts
        self._state = state
        self._signer = signer
        self._own_signatures = key_matches(signer)
        self._committed = committed

    def set_clock_skew(self, clock_skew: timedelta) -> None:
        """Judge proposal times by this window from now on (a channel configuration update)."""
        self._clock_skew = clock_skew

    @property
    def clock_skew(self) -> timedelta:
        """The window in force (the gateway's Submit judges envelopes by it too)."""
        return self._clock_skew

    def read(self, signed: common_pb2.SignedProposal) -> common_pb2.Proposal:
        """The proposal, with what needs no key checked (it parses, its channel, its tx id): enough
        to route it; check() authenticates it."""
        proposal = parse(common_pb2.Proposal, signed.proposal_bytes, "proposal")
        header = proposal.header
        if header.channel != self._channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"proposal {header.tx_id or '?'} is for channel {header.channel!r}; this "
                f"peer serves {self._channel!r}",
            )
        if not header.nonce or header.tx_id != protoutil.compute_tx_id(header.nonce, header.creator):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"transaction id {header.tx_id!r} is not SHA-256(nonce || creator)",
            )
        return proposal

    def check(self, signed: common_pb2.SignedProposal, refuse_replays: bool = True,
              proposal: common_pb2.Proposal | None = None) -> CheckedProposal:
        """Parse and authenticate a proposal (`proposal`: read(signed), if already made);
        RequestError says what is wrong. An evaluation (refuse_replays=False) writes nothing, so
        its tx id is not looked up among committed ones."""
        proposal = proposal if proposal is not None else self.read(signed)
        header = proposal.header
        try:
            creator = self._membership.verify(header.creator, signed.proposal_bytes, signed.signature)
        except IdentityError as exc:
            err = identity_error(exc)
            raise RequestError(err.code, f"proposal {header.tx_id} refused: {err.message}") from exc
        found = self._committed.tx_status(header.tx_id) if refuse_replays else None
        if found is not None:
            raise RequestError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"transaction {header.tx_id} was already committed in block {found[1]}; "
                "a replayed proposal is refused — build a new proposal",
            )
        proposed = txtime.proposal_time(header)
        skewed = txtime.outside_window(proposed, self._clock(), self._clock_skew, "this peer's clock")
        if skewed:
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"proposal {header.tx_id} refused: {skewed}; check the client's clock and build a "
                "new proposal",
            )
        assert proposed is not None  # outside_window refuses a proposal without a time
        return CheckedProposal(proposal, creator, proposed)

    def evaluate(self, checked: CheckedProposal) -> common_pb2.Response:
        """The contract's answer alone: an evaluation is neither signed nor ordered (so no rwset)."""
        return self._run(checked, rwset=False).response

    def _run(self, checked: CheckedProposal, rwset: bool) -> SimulationResult:
        p, who = checked.proposal, checked.creator
        invocation = Invocation(
            tx_id=p.header.tx_id,
            channel=p.header.channel,
            contract=p.contract,
            function=p.function,
            args=list(p.args),
            transient=dict(p.transient),
            timestamp=checked.time,
            creator=client_identity(who),
        )
        # every read of one simulation sees the same block (a snapshot on the thread running it)
        return simulate(self._contracts.registry_for(p.contract), self._state, invocation,
                        self._sandbox, self._state.snapshot, rwset=rwset)

    def simulate(self, checked: CheckedProposal) -> common_pb2.ProposalResponsePayload:
        p = checked.proposal
        result = self._run(checked, rwset=True)
        response, rwset = result.response, result.rwset
        # a policy committers could not parse would make the transaction invalid: say so now
        problem = keypolicies.unparseable(rwset) if response.status == 200 else None
        if problem is not None:
            response = common_pb2.Response(
                status=500, message=f"contract {p.contract!r} function {p.function!r}: {problem}")
            rwset = common_pb2.ReadWriteSet()
        payload = common_pb2.ProposalResponsePayload(
            proposal_hash=protoutil.proposal_hash(protoutil.strip_transient(p)),
            response=response,
            rwset=rwset,
        )
        if result.event is not None and problem is None:
            payload.event.CopyFrom(result.event)
        return payload

    def evaluate_as(self, who: Identity, contract: str, function: str,
                    args: Sequence[str]) -> common_pb2.Response:
        """Run a read-only contract function for an already authenticated caller, at this moment,
        on committed state: for services of this peer (the record store asks consent)."""
        invocation = Invocation(tx_id=LOCAL_EVALUATION, channel=self._channel, contract=contract,
                                function=function, args=[a.encode() for a in args], transient={},
                                timestamp=datetime.now(UTC), creator=client_identity(who))
        return simulate(self._contracts.registry_for(contract), self._state, invocation,
                        self._sandbox, self._state.snapshot, rwset=False).response

    def key_policies(self, rwset: common_pb2.ReadWriteSet) -> list[keypolicies.KeyPolicy]:
        """The committed key-level policies of the keys `rwset` writes: whom else to ask."""
        return keypolicies.touched(self._state, rwset)

    def process(self, signed: common_pb2.SignedProposal) -> common_pb2.ProposalResponse:
        """Check, then endorse a proposal that arrived from a gateway or a client."""
        return self.endorse(self.check(signed))

    def endorse(self, checked: CheckedProposal) -> common_pb2.ProposalResponse:
        """Simulate and, when the contract succeeded, sign the response payload."""
        payload = self.simulate(checked)
        response = common_pb2.ProposalResponse(response=payload.response)
        if payload.response.status == 200:
            response.payload = payload.SerializeToString(deterministic=True)
            check_size("endorsed result", checked.tx_id, len(response.payload), self._max_bytes)
            response.endorsement.endorser = self._signer.cert_pem
            response.endorsement.signature = self._signer.sign(response.payload)
            if self._own_signatures:  # this peer validates its own endorsement when the block comes
                remember_own_signature(self._signer, response.payload, response.endorsement.signature)
        return response


# Metadata a gateway sends with a proposal: its own ledger height. The endorser first catches up to
# it, so that two endorsers do not disagree merely because one has not committed the latest block.
MIN_HEIGHT_KEY = "careledger-min-height"
# Trailing metadata of the answer: the endorser's height after simulating (at least the state it
# read), so a gateway whose own peer was behind can catch up to it and ask again.
HEIGHT_KEY = "careledger-height"
CATCH_UP_WAIT = 3.0


class Heights(Protocol):
    @property
    def height(self) -> int: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...


class EndorserService(peer_pb2_grpc.EndorserServicer):
    def __init__(self, endorser: Endorser, ledger: Heights) -> None:
        self._endorser = endorser
        self._ledger = ledger

    @unary
    def ProcessProposal(
        self, request: common_pb2.SignedProposal, context: grpc.ServicerContext
    ) -> common_pb2.ProposalResponse:
        wanted = dict(context.invocation_metadata()).get(MIN_HEIGHT_KEY, "")
        if wanted.isdigit():
            self._catch_up(int(wanted))
        response = self._endorser.process(request)
        context.set_trailing_metadata(((HEIGHT_KEY, str(self._ledger.height)),))
        return response

    @unary
    def ProcessProposals(
        self, request: peer_pb2.ProposalBatch, context: grpc.ServicerContext
    ) -> peer_pb2.ProposalBatchResponse:
        """Each proposal in turn: a contract call is bounded by the peer's time limit, so one
        slow proposal delays the others of its batch by at most that."""
        if request.min_height:
            self._catch_up(request.min_height)
        outcomes = [self._outcome(signed) for signed in request.proposals]
        return peer_pb2.ProposalBatchResponse(outcomes=outcomes, height=self._ledger.height)

    def _catch_up(self, height: int) -> None:
        """Simulate at the gateway peer's height or later (within CATCH_UP_WAIT)."""
        self._ledger.wait_for_height(min(height, 1 << 62), CATCH_UP_WAIT)

    def _outcome(self, signed: common_pb2.SignedProposal) -> peer_pb2.ProposalOutcome:
        try:
            return peer_pb2.ProposalOutcome(response=self._endorser.process(signed))
        except RequestError as exc:
            return peer_pb2.ProposalOutcome(code=exc.code.value[0], message=exc.message)
        except Exception:
            log.exception("endorsing a proposal of a batch failed")
            return peer_pb2.ProposalOutcome(code=grpc.StatusCode.INTERNAL.value[0],
                                            message="internal error in ProcessProposals; see node log")
