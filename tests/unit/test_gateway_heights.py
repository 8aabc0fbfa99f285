"""Endorsers that answer differently only because they stand at different heights: the gateway
catches its own peer up to the highest and asks once more (the `network up` flake "endorsers
disagree": the gateway's peer had not yet committed the approval block another endorser had, so
`_lifecycle.commit` counted two approvals there and three there). A disagreement at one height, or
a peer that cannot catch up, is still refused as ABORTED naming the heights."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import pytest
from prometheus_client import CollectorRegistry

from careledger.network.config import ContractInfo, NodeInfo, OrdererSettings, Profile
from careledger.network.node.connections import Connections
from careledger.network.node.operations import PeerMetrics
from careledger.network.peer.endorser import CheckedProposal, EndorserService
from careledger.network.peer.gatewayservice import GatewayService
from careledger.protos import common_pb2, gateway_pb2, peer_pb2_grpc

HOSPITAL = NodeInfo("peer0", "hospital", "127.0.0.1", 1)


@dataclass
class Ledger:
    """A peer's ledger height; `reaches` is how far a wait for a height can get it."""

    height: int
    reaches: int = 0
    waited: list[int] = field(default_factory=list)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        self.waited.append(height)
        self.height = max(self.height, min(height, self.reaches))
        return self.height >= height

    def get_block(self, number: int) -> common_pb2.Block:
        raise NotImplementedError

    def tx_status(self, tx_id: str) -> None:
        return None

    def add_listener(self, fn: object) -> None:
        pass


@dataclass
class Endorser:
    """Answers what its peer's state says at its height (or `fixed`: a nondeterministic contract)."""

    ledger: Ledger
    fixed: bytes = b""
    calls: int = 0

    def read(self, signed: common_pb2.SignedProposal) -> common_pb2.Proposal:
        return common_pb2.Proposal.FromString(signed.proposal_bytes)

    def check(self, signed: common_pb2.SignedProposal, proposal: common_pb2.Proposal | None = None
              ) -> CheckedProposal:
        return CheckedProposal(proposal or self.read(signed), cast(Any, None), cast(Any, None))

    def process(self, signed: common_pb2.SignedProposal) -> common_pb2.ProposalResponse:
        return self.endorse(self.check(signed))

    def endorse(self, checked: CheckedProposal) -> common_pb2.ProposalResponse:
        self.calls += 1
        seen = self.fixed or b"approvals at %d" % self.ledger.height
        result = common_pb2.Response(status=200, payload=seen)
        payload = common_pb2.ProposalResponsePayload(response=result).SerializeToString()
        return common_pb2.ProposalResponse(response=result, payload=payload)

    def key_policies(self, rwset: common_pb2.ReadWriteSet) -> list[object]:
        return []


class Remote:
    """insurer's peer: the real EndorserService over fakes, recording the heights asked for."""

    def __init__(self, height: int) -> None:
        self.ledger = Ledger(height, reaches=height)
        self.endorser = Endorser(self.ledger)
        self.server = grpc.server(futures.ThreadPoolExecutor(2))
        peer_pb2_grpc.add_EndorserServicer_to_server(EndorserService(cast(Any, self.endorser), self.ledger),
                                                     self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


@pytest.fixture
def remote() -> Iterator[Remote]:
    served = Remote(3)
    yield served
    served.server.stop(None)


class Aborted(Exception):
    pass


class Context:
    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)

    def set_trailing_metadata(self, metadata: object) -> None:
        pass


def endorse(own: Ledger, remote: Remote, own_endorser: Endorser | None = None) -> gateway_pb2.EndorseResponse:
    insurer = NodeInfo("peer0", "insurer", "127.0.0.1", remote.port)
    profile = Profile("healthcare", "orderer", ("hospital", "insurer"), OrdererSettings(), (),
                      (HOSPITAL, insurer), (ContractInfo("basic", "x:Y", "AND(hospital, insurer)"),))

    async def run() -> gateway_pb2.EndorseResponse:
        connections = Connections(grpc.insecure_channel, grpc.aio.insecure_channel)
        service = GatewayService(profile, HOSPITAL, cast(Any, None), cast(Any, own_endorser or Endorser(own)),
                                 own, connections, PeerMetrics.register(CollectorRegistry()))
        proposal = common_pb2.Proposal(contract="basic", function="commit")
        proposal.header.tx_id = "tx1"
        request = gateway_pb2.EndorseRequest(
            proposed_transaction=common_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString()))
        try:
            return cast(gateway_pb2.EndorseResponse, await service.Endorse(request, cast(Any, Context())))
        finally:
            await connections.aio(insurer.address).close()

    return asyncio.run(run())


def test_a_gateway_behind_another_endorser_catches_up_and_asks_again(remote: Remote) -> None:
    own = Ledger(2, reaches=3)
    answer = endorse(own, remote)
    assert answer.result.payload == b"approvals at 3"
    assert own.waited == [3] and own.height == 3
    assert remote.ledger.waited == [2, 3]  # asked again at the height it had reported
    tx = common_pb2.Transaction.FromString(answer.prepared_transaction.payload)
    assert len(tx.endorsements) == 2


def test_a_disagreement_at_one_height_is_refused_without_asking_again(remote: Remote) -> None:
    own = Ledger(3, reaches=3)
    with pytest.raises(Aborted) as refused:
        endorse(own, remote, Endorser(own, fixed=b"something else"))
    code, message = refused.value.args
    assert code == grpc.StatusCode.ABORTED
    assert "endorsers disagree on the result of tx tx1" in message
    assert "heights peer0.hospital 3, peer0.insurer 3" in message
    assert remote.endorser.calls == 1 and own.waited == []


def test_a_gateway_that_cannot_catch_up_refuses_naming_the_heights(remote: Remote) -> None:
    own = Ledger(2, reaches=2)  # its committer is stuck
    with pytest.raises(Aborted) as refused:
        endorse(own, remote)
    code, message = refused.value.args
    assert code == grpc.StatusCode.ABORTED
    assert "heights peer0.hospital 2, peer0.insurer 3" in message
    assert own.waited == [3] and remote.endorser.calls == 1
