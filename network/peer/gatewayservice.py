"""The Gateway service each peer hosts for applications (like Fabric's gateway).

Endorse works out which organisations the contract's policy needs, collects their endorsements in
parallel (this peer for its own org, other peers over mutual TLS), checks that they agree (when
they differ and stood at different heights, it asks once more once its peer has the highest), and
hands back the transaction for the client to sign. Submit forwards it to the orderer; CommitStatus,
ChaincodeEvents and BlockEvents read this peer's ledger.

The handlers are coroutines on the peer's LoopServer: waiting for other peers, the orderer or a
commit holds no thread. Contract calls (endorse, evaluate) run on a few worker threads, so a
contract that runs up to its time limit never stalls the loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc

from careledger.chaincode.runtime import name_problem
from careledger.chaincode.stub import shown
from careledger.gateway.coalesce import MAX_ITEMS, Coalescer
from careledger.network.config import NodeInfo, Profile
from careledger.network.identity.membership import Identity, IdentityError, Membership
from careledger.network.ledger import protoutil
from careledger.network.ledger.blockevents import block_events
from careledger.network.node import blockstream, readers
from careledger.network.node.connections import Connections
from careledger.network.node.envelope import admit
from careledger.network.node.grpcutil import RequestError, status_code, status_message, stream, unary
from careledger.network.node.operations import PeerMetrics
from careledger.network.node.signedrequest import open_signed, still_member
from careledger.network.peer import policy as policies
from careledger.network.peer.commitwait import CommitWaiters, Listener, NewBlocks
from careledger.network.peer.endorser import (
    CATCH_UP_WAIT,
    HEIGHT_KEY,
    MIN_HEIGHT_KEY,
    Endorser,
    check_size,
    status_for_response,
)
from careledger.protos import (
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    orderer_pb2,
    orderer_pb2_grpc,
    peer_pb2,
    peer_pb2_grpc,
)

log = logging.getLogger(__name__)
PATIENT_ROLE = "patient"  # a patient follows only chaincode events naming them (issue 10)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

ENDORSE_TIMEOUT = 30.0
ENVELOPE_OVERHEAD = 1024
# Failures after which the orderer may or may not have taken the envelope: retrying the same
# envelope elsewhere is safe, because the committers count a tx id once (DUPLICATE_TXID).
AMBIGUOUS = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
DEFAULT_COMMIT_WAIT = 60.0
# Calls in one Batch: the asyncio SDK sends at most 8 (gateway/aio/client.py BATCH_ITEMS); more is
# refused as a whole.
MAX_BATCH_CALLS = 256
# Threads for this peer's contract calls: a few, since they share one GIL with the loop.
CONTRACT_WORKERS = 4
# A second batch of contract calls starts beside the one running only once that has run this long
# (a slow contract): at ordinary speeds, one at a time gathers more calls per thread hand-off.
CONTRACT_SPARE_AFTER = 0.05


def timed(histogram: str) -> Callable[[F], F]:
    """Observe a handler's duration in the named PeerMetrics histogram."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(self: GatewayService, request: Any,
                          context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            with getattr(self._metrics, histogram).time():
                return await fn(self, request, context)

        return wrapper  # type: ignore[return-value]

    return decorate


class LedgerLike(Protocol):
    """What the gateway reads from its peer's ledger."""

    @property
    def height(self) -> int: ...

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None: ...

    def add_listener(self, fn: Listener) -> None: ...


@dataclass(frozen=True)
class PeerAnswer:
    node: NodeInfo
    response: common_pb2.ProposalResponse | None
    error: str
    code: grpc.StatusCode = grpc.StatusCode.ABORTED  # when the peer refused the call itself
    height: int = -1  # the peer's ledger height once it answered (-1: not known)


class GatewayService(gateway_pb2_grpc.GatewayServicer):
    def __init__(
        self,
        profile: Profile,
        me: NodeInfo,
        membership: Membership,
        endorser: Endorser,
        ledger: LedgerLike,
        connections: Connections,
        metrics: PeerMetrics,
        block_event_readers: Sequence[str] | None = None,  # default: the profile's access rules
        contract_policies: Mapping[str, policies.Policy] | None = None,  # default: the profile's
        channel_peers: Callable[[], Mapping[str, Sequence[NodeInfo]]] | None = None,
    ) -> None:
        self._profile = profile
        # on a peer: the member orgs and their peers in the channel configuration in force, so an
        # org added by an update is asked to endorse (network.json still gives local addresses)
        self._channel_peers = channel_peers
        self._block_readers = (profile.access.block_events if block_event_readers is None
                               else block_event_readers)
        self._me = me
        self._membership = membership
        self._endorser = endorser
        self._ledger = ledger
        self._conn = connections
        self._metrics = metrics
        # on a peer: the definitions committed on the ledger (definitions.ContractDefinitions)
        self._policies = (contract_policies if contract_policies is not None
                          else {c.name: policies.parse(c.policy) for c in profile.contracts})
        self._commits = CommitWaiters(ledger)
        self._blocks = NewBlocks(ledger)
        self._contract_pool = futures.ThreadPoolExecutor(CONTRACT_WORKERS, thread_name_prefix="contract")
        self._coalescers: dict[tuple[str, str], Coalescer[Any, Any]] = {}  # by node address and call
        # a contract that runs to its time limit holds one worker; after CONTRACT_SPARE_AFTER the
        # others go on beside it
        self._contract_calls: Coalescer[Callable[[], Any], tuple[bool, Any]] = Coalescer(
            self._run_contract_calls, lambda _: 1, MAX_ITEMS, max_in_flight=CONTRACT_WORKERS // 2,
            spare_after=CONTRACT_SPARE_AFTER)

    # -- endorsement -------------------------------------------------------------------------

    def _orgs(self) -> list[str]:
        """The member orgs that may be asked to endorse."""
        return list(self._channel_peers()) if self._channel_peers else list(self._profile.orgs)

    def _peers_of(self, org: str) -> Sequence[NodeInfo]:
        """An org's peers: as network.json places them, else as the channel configuration does."""
        local = self._profile.peers_of(org)
        if local or self._channel_peers is None:
            return local
        return self._channel_peers().get(org, ())

    async def _endorse_at(
        self, org: str, signed: common_pb2.SignedProposal, proposal: common_pb2.Proposal | None = None
    ) -> PeerAnswer:
        """One org's endorsement: this peer if it is ours (`proposal`: the proposal read from
        `signed`, when it was), else that org's peers in turn."""
        if org == self._me.org:
            return await self._in_contract_pool(self._endorse_here, signed, proposal)
        answer = PeerAnswer(NodeInfo("?", org, "?", 0), None,
                            f"organisation {org!r} has no peers in this channel's configuration; "
                            "target an organisation that runs a peer", grpc.StatusCode.UNAVAILABLE)
        for node in self._peers_of(org):
            try:
                outcome, height = await self._batches(node.address, self._send_proposals).call(signed)
            except grpc.aio.AioRpcError as exc:
                answer = PeerAnswer(node, None, exc.details() or str(exc.code()), exc.code())
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    break  # the peer answered: another peer of the org would say the same
                log.warning("peer %s unavailable for endorsement; trying the next peer of %s", node.id, org)
                continue
            if outcome.code:  # the peer refused the proposal: another peer of the org would too
                return PeerAnswer(node, None, outcome.message, status_code(outcome.code))
            return PeerAnswer(node, outcome.response, "", height=height)
        return answer

    def _batches(self, address: str, send: Callable[[str, list[Any]], Awaitable[Sequence[Any]]]
                 ) -> Coalescer[Any, Any]:
        """The coalescer of `send`'s calls to the node at `address`: one RPC carries the items
        that piled up while the previous one was answered."""
        key = (address, send.__name__)
        batches = self._coalescers.get(key)
        if batches is None:
            batches = self._coalescers[key] = Coalescer(
                functools.partial(send, address), _size,
                self._profile.orderer.max_message_bytes - ENVELOPE_OVERHEAD)
        return batches

    async def _send_proposals(self, address: str, proposals: list[common_pb2.SignedProposal]
                              ) -> list[tuple[peer_pb2.ProposalOutcome, int]]:
        """Proposals to another org's peer in one call, to simulate at this peer's height or later
        (so that the endorsers do not differ merely because that peer lags); each outcome with
        that peer's height once it answered."""
        stub = peer_pb2_grpc.EndorserStub(self._conn.aio(address))

        async def batch() -> list[tuple[peer_pb2.ProposalOutcome, int]]:
            reply = await stub.ProcessProposals(
                peer_pb2.ProposalBatch(proposals=proposals, min_height=self._ledger.height),
                timeout=ENDORSE_TIMEOUT)
            return [(outcome, reply.height) for outcome in reply.outcomes]

        async def one(signed: common_pb2.SignedProposal) -> tuple[peer_pb2.ProposalOutcome, int]:
            call = stub.ProcessProposal(signed, timeout=ENDORSE_TIMEOUT,
                                        metadata=((MIN_HEIGHT_KEY, str(self._ledger.height)),))
            refused = await _refusal(call)
            if refused is not None:
                return peer_pb2.ProposalOutcome(code=refused[0].value[0], message=refused[1]), -1
            reported = dict(await call.trailing_metadata() or ()).get(HEIGHT_KEY, "")
            return peer_pb2.ProposalOutcome(response=await call), int(reported) if reported.isdigit() else -1

        return await _batch_or_each(batch, one, proposals)

    async def _send_envelopes(self, address: str, envelopes: list[common_pb2.Envelope]
                              ) -> list[orderer_pb2.BroadcastOutcome]:
        """Envelopes to an orderer in one call."""
        stub = orderer_pb2_grpc.OrdererStub(self._conn.aio(address))

        async def batch() -> list[orderer_pb2.BroadcastOutcome]:
            reply = await stub.BroadcastBatch(orderer_pb2.EnvelopeBatch(envelopes=envelopes),
                                              timeout=ENDORSE_TIMEOUT)
            return list(reply.outcomes)

        async def one(envelope: common_pb2.Envelope) -> orderer_pb2.BroadcastOutcome:
            refused = await _refusal(stub.Broadcast(envelope, timeout=ENDORSE_TIMEOUT))
            if refused is not None:
                return orderer_pb2.BroadcastOutcome(code=refused[0].value[0], message=refused[1])
            return orderer_pb2.BroadcastOutcome()

        return await _batch_or_each(batch, one, envelopes)

    async def _in_contract_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on a contract worker thread, awaited (its exceptions are raised here). Calls
        that arrive while the workers are busy go to one worker together: one hand-off each."""
        failed, value = await self._contract_calls.call(functools.partial(fn, *args))
        if failed:
            raise value
        return value

    async def _run_contract_calls(self, calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        return await asyncio.get_running_loop().run_in_executor(self._contract_pool, _run_each, calls)

    def _endorse_here(
        self, signed: common_pb2.SignedProposal, proposal: common_pb2.Proposal | None
    ) -> PeerAnswer:
        # a proposal this peer refuses (signature, replay, time) is refused as such, with the
        # check's status, not reported as one org's failed endorsement
        checked = self._endorser.check(signed, proposal=proposal)
        try:
            response = self._endorser.endorse(checked)
            return PeerAnswer(self._me, response, "", height=self._ledger.height)
        except RequestError as exc:
            return PeerAnswer(self._me, None, exc.message, exc.code)

    def _evaluate_here(self, signed: common_pb2.SignedProposal) -> common_pb2.Response:
        return self._endorser.evaluate(self._endorser.check(signed, refuse_replays=False))

    def _orgs_for(self, request: gateway_pb2.EndorseRequest, contract: str) -> list[str]:
        known = set(self._orgs())
        if request.endorsing_organizations:
            unknown = [o for o in request.endorsing_organizations if o not in known]
            if unknown:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"unknown endorsing organisation(s) {', '.join(unknown)}; "
                    f"channel organisations: {', '.join(sorted(known))}",
                )
            return list(dict.fromkeys(request.endorsing_organizations))
        policy = self._policies.get(contract)
        if policy is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"contract {contract!r} is not deployed on channel "
                f"{self._profile.channel!r}; deployed: {', '.join(sorted(self._policies))}",
            )
        preferred = [self._me.org, *[o for o in self._orgs() if o != self._me.org]]
        chosen = policies.choose_endorsers(policy, [o for o in preferred if self._peers_of(o)])
        if chosen is None:
            raise RequestError(
                grpc.StatusCode.UNAVAILABLE,
                f"no set of organisations with peers satisfies policy {policy} of contract {contract!r}",
            )
        return chosen

    async def _endorsements(self, orgs: Sequence[str], signed: common_pb2.SignedProposal,
                            proposal: common_pb2.Proposal) -> list[PeerAnswer]:
        """The orgs' endorsements, asked at once. This peer authenticates the proposal on its
        contract thread, as part of its own endorsement, while the other orgs' peers (which
        authenticate it too) already have it; without an endorsement of its own, first."""
        if self._me.org not in orgs:
            self._endorser.check(signed, proposal=proposal)
        return list(await asyncio.gather(*(self._endorse_at(org, signed, proposal) for org in orgs)))

    async def _endorse_all(self, request: gateway_pb2.EndorseRequest, signed: common_pb2.SignedProposal,
                           proposal: common_pb2.Proposal) -> tuple[list[str], list[PeerAnswer]]:
        """The orgs asked and their answers: the contract's policy, then any key-level policies."""
        contract = proposal.contract
        orgs = self._orgs_for(request, contract)
        answers = await self._endorsements(orgs, signed, proposal)
        extra = [] if request.endorsing_organizations else self._orgs_for_keys(contract, orgs, answers[0])
        if extra:  # the keys written carry policies the contract's orgs do not satisfy
            answers += await self._endorsements(extra, signed, proposal)
            orgs = [*orgs, *extra]
        return orgs, answers

    async def _caught_up_to(self, answers: list[PeerAnswer]) -> int | None:
        """When the contract ran on every endorser but they answered differently at different
        heights (e.g. this peer had not committed the block another endorser just did), the
        highest height once this peer has reached it (remote endorsers catch up to this peer's
        height before simulating); else None: asking again would not help."""
        heights = {a.height for a in answers}
        if any(a.response is None for a in answers) or -1 in heights or len(heights) == 1:
            return None
        if len({(a.response.response.status, a.response.payload) for a in answers  # type: ignore[union-attr]
                }) == 1:
            return None
        target = max(heights)
        if self._ledger.height < target and not await asyncio.get_running_loop().run_in_executor(
                None, self._ledger.wait_for_height, target, CATCH_UP_WAIT):
            return None
        return target

    def _orgs_for_keys(self, contract: str, orgs: Sequence[str], first: PeerAnswer) -> list[str]:
        """More orgs to ask when the keys the first endorser's result writes carry key-level
        policies (committed on this peer) that `orgs` do not satisfy. Simpler than exact: the
        contract's policy and every key's policy are asked for together, as AND."""
        if first.response is None or first.response.response.status != 200:
            return []  # refused: reported as it is
        rwset = common_pb2.ProposalResponsePayload.FromString(first.response.payload).rwset
        guarded = self._endorser.key_policies(rwset)
        contract_policy = self._policies.get(contract)
        if not guarded or contract_policy is None:
            return []
        rules = (contract_policy, *dict.fromkeys(g.policy for g in guarded))
        needed = policies.OutOf(len(rules), rules)
        if needed.satisfied_by(orgs):
            return []
        preferred = [*orgs, *[o for o in self._orgs() if o not in orgs]]
        chosen = policies.choose_endorsers(needed, [o for o in preferred if self._peers_of(o)])
        if chosen is None:
            keys = ", ".join(f"{g.namespace}/{shown(g.key)} ({g.policy})" for g in guarded)
            raise RequestError(grpc.StatusCode.UNAVAILABLE, f"no set of organisations with peers satisfies "
                               f"the key-level policies of the keys this transaction writes: {keys}")
        return [o for o in chosen if o not in orgs]

    @unary
    async def Endorse(
        self, request: gateway_pb2.EndorseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.EndorseResponse:
        return await self._endorse(request, context)

    @timed("endorse_seconds")
    async def _endorse(
        self, request: gateway_pb2.EndorseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.EndorseResponse:
        signed = _proposal_of(request, "endorse")
        proposal = self._endorser.read(signed)  # authenticated as it is endorsed (_endorsements)
        tx_id, contract = proposal.header.tx_id, proposal.contract
        _check_names(proposal, tx_id)
        orgs, answers = await self._endorse_all(request, signed, proposal)
        target = await self._caught_up_to(answers)
        if target is not None:  # once, all at the highest height: what they then say stands
            log.info("endorsers of tx %s disagreed at heights %s; asking again at height %d",
                     tx_id, _heights(answers), target)
            orgs, answers = await self._endorse_all(request, signed, proposal)
        failed = [a for a in answers if a.response is None or a.response.response.status != 200]
        if failed:
            first = failed[0]
            message = first.error or first.response.response.message  # type: ignore[union-attr]
            code = (status_for_response(first.response.response.status) if first.response
                    else first.code)
            raise RequestError(
                code, f"{message} (tx {tx_id}, endorsement by {first.node.id} failed)", _details(answers)
            )
        payloads = {a.response.payload for a in answers}  # type: ignore[union-attr]
        if len(payloads) != 1:
            raise RequestError(
                grpc.StatusCode.ABORTED,
                f"endorsers disagree on the result of tx {tx_id} (peers saw different "
                f"state at heights {_heights(answers)}, e.g. one has not committed the latest block "
                "yet); retry",
                _details(answers),
            )
        tx = common_pb2.Transaction(
            proposal=protoutil.strip_transient(proposal),
            response_payload=payloads.pop(),
            endorsements=[a.response.endorsement for a in answers],  # type: ignore[union-attr]
        )
        result = answers[0].response.response  # type: ignore[union-attr]
        prepared = tx.SerializeToString()
        # the signed envelope must still fit in a Submit and in a block of its own: leave room for
        # signature and framing
        check_size("prepared transaction", tx_id, len(prepared),
                   protoutil.largest_envelope(self._profile.orderer.max_message_bytes) - ENVELOPE_OVERHEAD)
        log.debug("endorsed tx %s (%s) by %s", tx_id, contract, ", ".join(orgs))  # per tx: not at info
        return gateway_pb2.EndorseResponse(
            prepared_transaction=common_pb2.Envelope(payload=prepared), result=result)

    @unary
    async def Evaluate(
        self, request: gateway_pb2.EvaluateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.EvaluateResponse:
        return await self._evaluate(request, context)

    @timed("evaluate_seconds")
    async def _evaluate(
        self, request: gateway_pb2.EvaluateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.EvaluateResponse:
        signed = _proposal_of(request, "evaluate")
        targets = list(request.target_organizations)
        if targets and self._me.org not in targets:
            answer = await self._endorse_at(targets[0], signed)
            if answer.response is None:  # that peer's own status and message, as Endorse passes them
                raise RequestError(answer.code, f"evaluate at {answer.node.id} ({targets[0]}) failed: "
                                   f"{answer.error}")
            response = answer.response.response
        else:
            response = await self._in_contract_pool(self._evaluate_here, signed)
        if response.status != 200:
            raise RequestError(status_for_response(response.status), response.message)
        return gateway_pb2.EvaluateResponse(result=response)

    # -- ordering and commit -----------------------------------------------------------------

    @unary
    async def Submit(
        self, request: gateway_pb2.SubmitRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.SubmitResponse:
        return await self._submit(request, context)

    async def _submit(
        self, request: gateway_pb2.SubmitRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.SubmitResponse:
        admitted = admit(request.prepared_transaction, self._profile.channel, self._membership,
                         self._endorser.clock_skew, clock="this peer's clock")
        found = self._ledger.tx_status(admitted.tx_id)
        if found is not None and request.wait_for_commit:  # e.g. a retry after a lost answer
            return gateway_pb2.SubmitResponse(
                commit=gateway_pb2.CommitStatusResponse(result=found[0], block_number=found[1]))
        if found is not None:
            raise RequestError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"transaction {admitted.tx_id} was already committed in block "
                f"{found[1]}; ask for its commit status instead",
            )
        try:
            await self._order(request.prepared_transaction, admitted.tx_id)
        except RequestError as exc:
            # a resent submit of a tx already ordered, not yet committed: its commit is awaited
            if not (request.wait_for_commit and exc.code == grpc.StatusCode.ALREADY_EXISTS):
                raise
        if not request.wait_for_commit:
            return gateway_pb2.SubmitResponse()
        _check_endorsements(admitted.transaction, self._membership)
        return gateway_pb2.SubmitResponse(commit=await self._commit_status(admitted.tx_id, context))

    async def _order(self, envelope: common_pb2.Envelope, tx_id: str) -> None:
        """Hand the envelope to an orderer: the next one when an answer leaves it unknown whether
        the orderer took it."""
        last = ""  # why the previous orderer left it unknown whether it took the envelope
        for node in self._profile.orderers:
            try:
                outcome = await self._batches(node.address, self._send_envelopes).call(envelope)
                code, details = status_code(outcome.code), outcome.message
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code(), exc.details() or str(exc.code())
            if code == grpc.StatusCode.OK:
                return
            if code == grpc.StatusCode.ALREADY_EXISTS and last:
                # an earlier orderer took it before failing: the same tx id, ordered once
                log.info("tx %s already ordered via an orderer that then failed", tx_id)
                return
            if code not in AMBIGUOUS:
                raise RequestError(code, f"orderer {node.id} refused transaction {tx_id}: {details}")
            last = details
            log.warning("orderer %s did not confirm tx %s (%s); trying the next orderer",
                        node.id, tx_id, code.name)
        raise RequestError(
            grpc.StatusCode.UNAVAILABLE,
            f"no orderer reachable for transaction {tx_id}: {last or 'none configured'}; retry the submit",
        )

    # -- several calls in one RPC --------------------------------------------------------------

    @unary
    async def Batch(
        self, request: gateway_pb2.GatewayBatch, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.GatewayBatchResponse:
        """Each call answered as its own RPC would be, all run at once (their contract calls and
        their proposals to each other peer then share hand-offs and RPCs too)."""
        if len(request.calls) > MAX_BATCH_CALLS:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"a batch of {len(request.calls)} calls is refused: at most "
                               f"{MAX_BATCH_CALLS}; send the rest in another batch")
        outcomes = await asyncio.gather(*(self._outcome(i, call, context)
                                          for i, call in enumerate(request.calls)))
        return gateway_pb2.GatewayBatchResponse(outcomes=outcomes)

    async def _outcome(self, index: int, call: gateway_pb2.GatewayCall,
                       context: grpc.aio.ServicerContext[Any, Any]) -> gateway_pb2.GatewayOutcome:
        """One call of a batch: its response, or the status and details its own RPC would end with."""
        kind = call.WhichOneof("call")
        handlers: dict[str, Callable[[Any, Any], Awaitable[Any]]] = {
            "evaluate": self._evaluate, "endorse": self._endorse, "submit": self._submit}
        handler = handlers.get(kind or "")
        if kind is None or handler is None:
            return gateway_pb2.GatewayOutcome(
                code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
                message=f"call {index} of the batch carries no request (evaluate, endorse or submit)")
        self._metrics.batched_calls.labels(kind).inc()
        try:
            response = await handler(getattr(call, kind), context)
        except RequestError as exc:
            return gateway_pb2.GatewayOutcome(code=exc.code.value[0], message=status_message(exc),
                                              error_details=exc.trailer or b"")
        except Exception:
            log.exception("%s call %d of a batch failed", kind, index)
            return gateway_pb2.GatewayOutcome(code=grpc.StatusCode.INTERNAL.value[0],
                                              message=f"internal error in {kind}; see node log")
        return gateway_pb2.GatewayOutcome(**{kind: response})

    @unary
    async def CommitStatus(
        self, request: common_pb2.Signed, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.CommitStatusResponse:
        req, _ = open_signed(request, gateway_pb2.CommitStatusRequest, self._membership, "identity")
        return await self._commit_status(req.tx_id, context)

    async def _commit_status(self, tx_id: str,
                             context: grpc.aio.ServicerContext[Any, Any]) -> gateway_pb2.CommitStatusResponse:
        """The transaction's validation code once this peer commits its block, within the call's
        deadline."""
        remaining = context.time_remaining()
        wait = DEFAULT_COMMIT_WAIT if remaining is None else max(0.0, remaining - 0.2)
        found = await self._commits.wait_async(tx_id, wait)
        if found is None:
            raise RequestError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"transaction {tx_id} has not committed on {self._me.id} within "
                f"{wait:.1f}s; it may still commit — ask again",
            )
        code, block = found
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)

    @stream
    async def ChaincodeEvents(
        self, request: common_pb2.Signed, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[gateway_pb2.ChaincodeEventsResponse]:
        req, who = open_signed(request, gateway_pb2.ChaincodeEventsRequest, self._membership, "identity")
        if req.channel != self._profile.channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"no channel {req.channel!r} on this peer; it serves {self._profile.channel!r}",
            )
        problem = name_problem("contract", req.contract)
        if problem is not None:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"chaincode events refused: {problem}")
        if req.contract not in self._policies:  # no events would ever come: say so at once
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"contract {req.contract!r} is not deployed on channel "
                f"{self._profile.channel!r}; deployed: {', '.join(sorted(self._policies))}",
            )
        start = req.start_block if req.HasField("start_block") else self._ledger.height
        await blockstream.start_when_there(self._ledger, start, "ChaincodeEvents", context.time_remaining())
        async for block in blockstream.follow_async(self._ledger, start, self._blocks.wait):
            still_member(self._membership, who, block, "ChaincodeEvents")
            events = [e for e in block_events(block) if e.contract == req.contract and _may_see(who, e)]
            if block.header.number == start and req.after_transaction_id:
                ids = [e.tx_id for e in events]
                if req.after_transaction_id in ids:
                    events = events[ids.index(req.after_transaction_id) + 1 :]
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(block_number=block.header.number, events=events)

    @stream
    async def BlockEvents(
        self, request: common_pb2.Signed, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[gateway_pb2.BlockEventsResponse]:
        req, who = open_signed(request, gateway_pb2.BlockEventsRequest, self._membership, "identity")
        if req.channel != self._profile.channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"no channel {req.channel!r} on this peer; it serves {self._profile.channel!r}",
            )
        start = req.start_block if req.HasField("start_block") else self._ledger.height
        if not req.filtered:
            readers.require_full_blocks(
                self._block_readers, who, "BlockEvents", "block_events",
                "Ask for filtered block events (block number, tx ids, validation codes): "
                "Network.get_filtered_block_events in the SDK.")
        await blockstream.start_when_there(self._ledger, start, "BlockEvents", context.time_remaining())
        log.info("%sblock events for %s from block %d", "filtered " if req.filtered else "", who.id, start)
        async for block in blockstream.follow_async(self._ledger, start, self._blocks.wait):
            still_member(self._membership, who, block, "BlockEvents")
            if req.filtered:
                yield gateway_pb2.BlockEventsResponse(filtered_block=readers.filtered_block(block))
            else:
                yield gateway_pb2.BlockEventsResponse(block=block)


async def _batch_or_each(batch: Callable[[], Awaitable[list[T]]], one: Callable[[Any], Awaitable[T]],
                         items: Sequence[Any]) -> list[T]:
    """The batch call's answers; from a node without it (an older version, during a rolling
    upgrade: UNIMPLEMENTED), each item's own call's answer."""
    try:
        return await batch()
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    return list(await asyncio.gather(*(one(item) for item in items)))


async def _refusal(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str] | None:
    """How a node refused a call, as a batch item's outcome carries it; None if it answered. An
    ambiguous failure (the node may not have seen it) is raised, as a failed batch call is."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() in AMBIGUOUS:
            raise
        return exc.code(), exc.details() or ""
    return None


def _run_each(calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    """Each call's (failed, result or exception), in order."""
    outcomes: list[tuple[bool, Any]] = []
    for call in calls:
        try:
            outcomes.append((False, call()))
        except Exception as exc:  # noqa: BLE001 - raised again by the call's own awaiter
            outcomes.append((True, exc))
    return outcomes


def _check_endorsements(tx: common_pb2.Transaction, membership: Membership) -> None:
    """Verify the endorsers' signatures while the transaction waits for its block: this peer's
    validation then finds them verified (membership remembers each result), and between the
    orderer's cut and the commit the client waits for only the block's own signature is checked.
    A bad one is left for validation to mark invalid, with the reason."""
    for endorsement in tx.endorsements:
        try:
            membership.verify(endorsement.endorser, tx.response_payload, endorsement.signature)
        except IdentityError:
            pass


def _size(message: common_pb2.SignedProposal | common_pb2.Envelope) -> int:
    return message.ByteSize()


def _may_see(who: Identity, event: common_pb2.ChaincodeEvent) -> bool:
    """A patient (role attribute `patient`) receives only the events whose payload names them
    as its "patient": their own break-glass, refused accesses, consents and records."""
    if who.attributes.get("role") != PATIENT_ROLE:
        return True
    try:
        payload = json.loads(event.payload)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("patient") == who.id


def _proposal_of(request: gateway_pb2.EndorseRequest | gateway_pb2.EvaluateRequest,
                 call: str) -> common_pb2.SignedProposal:
    """The request's signed proposal; an empty request is refused as such, not as channel ''."""
    signed = request.proposed_transaction
    if not signed.proposal_bytes:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{call} request carries no signed proposal (proposed_transaction is empty); build "
            "one with Contract.new_proposal and sign it",
        )
    return signed


def _check_names(proposal: common_pb2.Proposal, tx_id: str) -> None:
    """Refuse an empty, overlong or control-character contract or function name up front."""
    problem = name_problem("contract", proposal.contract) or name_problem("function", proposal.function)
    if problem is not None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"proposal {tx_id} refused: {problem}")


def _heights(answers: list[PeerAnswer]) -> str:
    return ", ".join(f"{a.node.id} {a.height if a.height >= 0 else '?'}" for a in answers)


def _details(answers: list[PeerAnswer]) -> bytes:
    details = gateway_pb2.ErrorDetails()
    for a in answers:
        message = a.error or ("" if a.response is None else a.response.response.message) or "ok"
        details.details.add(address=a.node.address, org=a.node.org, message=message)
    return details.SerializeToString()
