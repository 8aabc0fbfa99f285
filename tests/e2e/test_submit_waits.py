"""Contract.submit_transaction against the real network: one Submit that waits for the commit
(issue 11), counted on the wire by a gRPC client interceptor; its status is the one CommitStatus
gives, for a VALID, an MVCC-conflicted and an endorsement-policy-failed transaction; and an
envelope sent again after its answer was lost is answered with its status."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from careledger.gateway import CommitError, Contract, Gateway, Status
from careledger.gateway.client import GatewayClient, secure_peers
from careledger.gateway.identity import sha256
from careledger.gateway.local import local_peer
from careledger.network.local.testing import LocalNetwork
from careledger.protos import common_pb2, gateway_pb2

WHO = "hospital:admin"


def new_id() -> str:
    return f"asset-{uuid.uuid4().hex[:12]}"


@dataclass
class Call:
    method: str
    request: Any
    response: Any  # None when the call failed


class LostAnswer(grpc.RpcError):
    """What the client sees when the gateway's answer never arrives."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection reset before the answer arrived (test)"


class Calls(grpc.UnaryUnaryClientInterceptor):
    """Every unary call the SDK makes, in order; `after[method]` runs once, after that method's
    answer arrived and before the SDK sees it."""

    def __init__(self) -> None:
        self.made: list[Call] = []
        self.after: dict[str, Callable[[], None]] = {}

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        method = client_call_details.method.rsplit("/", 1)[-1]
        outcome = continuation(client_call_details, request)
        try:
            response = outcome.result()
        except grpc.RpcError:
            response = None
        self.made.append(Call(method, request, response))
        hook = self.after.pop(method, None)
        if hook is not None:
            hook()
        return outcome

    def methods(self) -> list[str]:
        return [call.method for call in self.made]


@pytest.fixture()
def counted(net: LocalNetwork) -> Iterator[tuple[Gateway, Calls]]:
    """A gateway of hospital:admin whose channels go through a Calls interceptor."""
    calls = Calls()
    local = local_peer(net.directory, WHO, None, {})

    def open_channel(target: str, credentials: grpc.ChannelCredentials, options: Any) -> grpc.Channel:
        return grpc.intercept_channel(grpc.secure_channel(target, credentials, options=options), calls)

    peers, options = secure_peers(open_channel, local.address, local.settings)
    with Gateway(GatewayClient(peers, local.identity, local.signer, options)) as gateway:
        yield gateway, calls


def basic(gateway: Gateway, net: LocalNetwork) -> Contract:
    return gateway.get_network(net.profile.channel).get_contract("basic")


def asked(net: LocalNetwork, tx_id: str) -> Status:
    """The transaction's status the old way: a CommitStatus call of its own."""
    local = local_peer(net.directory, WHO, None, {})
    request = gateway_pb2.CommitStatusRequest(
        channel=net.profile.channel, tx_id=tx_id, identity=local.identity.certificate
    ).SerializeToString(deterministic=True)
    with net.connect(WHO) as gateway:
        return gateway.new_signed_commit(request, local.signer(sha256(request))).get_status()


def test_submit_transaction_commits_with_one_submit_that_answers_the_status(
    net: LocalNetwork, counted: tuple[Gateway, Calls]
) -> None:
    gateway, calls = counted
    asset = new_id()
    created = json.loads(basic(gateway, net).submit_transaction("create_asset", asset, "one-call", "1"))
    assert created["owner"] == "one-call"
    assert calls.methods() == ["Endorse", "Submit"]
    submit = calls.made[1]
    assert submit.request.wait_for_commit and submit.response.HasField("commit")
    status = asked(net, submit.request.tx_id)
    assert status.code_name == "VALID"
    assert (submit.response.commit.result, submit.response.commit.block_number) == (
        common_pb2.VALID, status.block_number)


def test_an_mvcc_conflict_and_a_policy_failure_come_back_from_the_one_submit(
    net: LocalNetwork, counted: tuple[Gateway, Calls], hospital: Contract
) -> None:
    gateway, calls = counted
    contract = basic(gateway, net)
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "mvcc", "0")
    # between this transaction's endorsement and its submit, another one changes the asset
    calls.after["Endorse"] = lambda: hospital.submit_transaction("update_asset", asset, "1")
    with pytest.raises(CommitError) as conflict:
        contract.submit_transaction("update_asset", asset, "2")
    with pytest.raises(CommitError) as policy:
        contract.submit_transaction("create_asset", new_id(), "lonely", "1", endorsing_orgs=["insurer"])
    assert calls.methods() == ["Endorse", "Submit"] * 2
    for caught, code in ((conflict, "MVCC_READ_CONFLICT"), (policy, "ENDORSEMENT_POLICY_FAILURE")):
        status = asked(net, caught.value.tx_id)
        assert (caught.value.code_name, caught.value.block_number) == (code, status.block_number)
        assert status.code_name == code
    assert json.loads(hospital.evaluate_transaction("read_asset", asset))["value"] == "1"

    calls.made.clear()
    calls.after["Endorse"] = lambda: hospital.submit_transaction("update_asset", asset, "3")
    contract.submit_transaction("update_asset", asset, "4", retry_mvcc=1)
    assert calls.methods() == ["Endorse", "Submit"] * 2
    assert json.loads(hospital.evaluate_transaction("read_asset", asset))["value"] == "4"


def test_an_envelope_sent_again_after_its_answer_was_lost_gets_its_status(
    net: LocalNetwork, counted: tuple[Gateway, Calls]
) -> None:
    gateway, calls = counted

    def lose_the_answer() -> None:
        raise LostAnswer()

    calls.after["Submit"] = lose_the_answer  # the transaction committed, its answer went missing
    asset = new_id()
    basic(gateway, net).submit_transaction("create_asset", asset, "resent", "1")
    assert calls.methods() == ["Endorse", "Submit", "Submit"]
    first, again = calls.made[1], calls.made[2]
    assert again.request == first.request and again.request.wait_for_commit
    assert again.response.commit == first.response.commit  # its status, not ALREADY_EXISTS
    assert again.response.commit.result == common_pb2.VALID
    assert asked(net, again.request.tx_id).block_number == again.response.commit.block_number
