"""Proposal times through the real network: a client cannot choose the time the contracts judge by.

Gateways and endorsers refuse a proposal dated outside the channel's clock skew (300 s) of their
own clock, naming both times; a transaction that gets past the endorsers anyway (here:
endorsements signed with the peers' own keys, as a compromised endorser could) is refused by the
gateway's Submit and, sent straight to the orderer, by Broadcast, which judge the envelope's time
by their own clocks; the ledger is unchanged. (One that reached a block all the same would be
committed EXPIRED_TIMESTAMP against the block's orderer-signed time: tests/unit/test_validation.py.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from healthcare import BOB, JONES, JonesRevoked, Ledger, ledger_id

from careledger.gateway import Contract, EndorseError, EvaluateError, Gateway, GatewayError, SubmitError
from careledger.gateway.identity import new_private_key_signer, sha256
from careledger.gateway.proposal import Proposal
from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, gateway_pb2, orderer_pb2_grpc

pytest_plugins = ("healthcare",)


def _tips(net: LocalNetwork) -> dict[str, tuple[int, bytes]]:
    tips = {}
    for node in net.profile.peers:
        with QueryClient(net.directory, node.org, peer=node) as q:
            info = q.chain_info()
            tips[node.id] = (info.height, info.current_block_hash)
    return tips


@contextmanager
def every_ledger_unchanged(net: LocalNetwork) -> Iterator[None]:
    """No peer's chain moved, one batch timeout after the block."""
    before = _tips(net)
    yield
    time.sleep(net.profile.orderer.batch_timeout_ms / 1000 + 0.5)
    assert _tips(net) == before


def _key_pem(net: LocalNetwork, who: str) -> bytes:
    org, user = who.split(":")
    return (net.layout.identity_dir(org, user) / "key.pem").read_bytes()


def _redated(proposal_bytes: bytes, at: datetime) -> bytes:
    """A proposal's EndorseRequest bytes with another header time (same nonce, so same tx id)."""
    request = gateway_pb2.EndorseRequest.FromString(proposal_bytes)
    inner = common_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
    inner.header.timestamp.FromDatetime(at)
    request.proposed_transaction.proposal_bytes = inner.SerializeToString(deterministic=True)
    return request.SerializeToString(deterministic=True)


def _dated_proposal(gateway: Gateway, contract: Contract, key_pem: bytes, at: datetime, fn: str,
                    *args: str, transient: dict[str, bytes] | None = None) -> Proposal:
    """The SDK's offline-signing steps, with the time changed before the client signs."""
    data = _redated(contract.new_proposal(fn, list(args), transient=transient).bytes(), at)
    inner = gateway_pb2.EndorseRequest.FromString(data).proposed_transaction.proposal_bytes
    return gateway.new_signed_proposal(data, new_private_key_signer(key_pem)(sha256(inner)))


def _times(message: str) -> list[str]:
    return [word for word in message.split() if word[:2] in ("19", "20", "21") and word.endswith(("Z", "Z;"))]


def test_backdated_break_glass_of_a_revoked_practitioner_is_refused(
    net: LocalNetwork, care: Ledger, jones_revoked: JonesRevoked
) -> None:
    # 400 days ago Dr Jones's licence was still valid: dated then, break-glass would be granted.
    then = datetime.now(UTC) - timedelta(days=400)
    with net.connect(JONES) as gateway, every_ledger_unchanged(net):
        consent = gateway.get_network(net.profile.channel).get_contract("consent")
        proposal = _dated_proposal(gateway, consent, _key_pem(net, JONES), then, "break_glass",
                                   ledger_id(BOB), transient={"reason": b"collapse"})
        with pytest.raises(EndorseError) as err:
            proposal.endorse()
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    message = err.value.message
    assert message.startswith(f"proposal {proposal.tx_id} refused: proposal time ")
    assert "is 400 days before this peer's clock" in message
    assert "the channel accepts 300 s either way (clock_skew_s)" in message
    assert len(_times(message)) == 2, message  # both times are named
    assert then.isoformat().replace("+00:00", "Z")[:19] in message
    # dated now, the same call meets the licence check, which refuses it (a refused break-glass is
    # committed as an audited denial, so the patient is told)
    refused = care.commit(JONES, "consent", "break_glass", ledger_id(BOB), transient={"reason": b"collapse"})
    assert (refused.code, refused.result["granted"]) == ("VALID", False)
    assert refused.result["reason"] == (
        f"break-glass refused: licence RN-2002 is revoked with effect from {jones_revoked.day}T00:00:00Z")


@pytest.mark.parametrize("at, side", [
    (datetime.now(UTC) + timedelta(days=3652), "after"),
    (datetime(1971, 1, 1, tzinfo=UTC), "before"),
    (datetime.now(UTC) - timedelta(minutes=10), "before"),
])
def test_proposals_dated_outside_the_skew_are_refused_by_endorse_and_evaluate(
    net: LocalNetwork, at: datetime, side: str
) -> None:
    with net.connect("hospital:admin") as gateway, every_ledger_unchanged(net):
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        key = _key_pem(net, "hospital:admin")
        asset = f"t-{uuid.uuid4().hex[:8]}"
        endorse = _dated_proposal(gateway, basic, key, at, "create_asset", asset, "x", "1")
        with pytest.raises(EndorseError) as endorsed:
            endorse.endorse()
        evaluate = _dated_proposal(gateway, basic, key, at, "get_all_assets")
        with pytest.raises(EvaluateError) as evaluated:
            evaluate.evaluate()
    for err in (endorsed.value, evaluated.value):
        assert err.code == grpc.StatusCode.FAILED_PRECONDITION
        assert f" {side} this peer's clock " in err.message
        assert at.isoformat().replace("+00:00", "Z")[:19] in err.message


def _forged(net: LocalNetwork, gateway: Gateway, at: datetime, asset: str) -> tuple[bytes, bytes]:
    """A create_asset transaction dated `at`, endorsed with the hospital's and insurer's peer keys
    directly (no endorser's clock check), signed by the hospital admin: Transaction.bytes() and
    its signature."""
    basic = gateway.get_network(net.profile.channel).get_contract("basic")
    data = _redated(basic.new_proposal("create_asset", [asset, "forger", "1"]).bytes(), at)
    proposal = common_pb2.Proposal.FromString(
        gateway_pb2.EndorseRequest.FromString(data).proposed_transaction.proposal_bytes)
    stripped = protoutil.strip_transient(proposal)
    value = json.dumps({"created_by": "hospital/admin", "id": asset, "owner": "forger", "value": "1"})
    payload = common_pb2.ProposalResponsePayload(
        proposal_hash=protoutil.proposal_hash(stripped), response=common_pb2.Response(status=200),
        rwset=common_pb2.ReadWriteSet(ns_rwset=[common_pb2.NsReadWriteSet(
            namespace="basic", writes=[common_pb2.KVWrite(key=asset, value=value.encode())])]),
    ).SerializeToString(deterministic=True)
    peers = [Signer.from_dir(net.layout.identity_dir(org, "peer0")) for org in ("hospital", "insurer")]
    tx = common_pb2.Transaction(proposal=stripped, response_payload=payload, endorsements=[
        common_pb2.Endorsement(endorser=p.cert_pem, signature=p.sign(payload)) for p in peers])
    body = tx.SerializeToString(deterministic=True)
    creator = Signer.from_dir(net.layout.identity_dir("hospital", "admin"))
    return common_pb2.Envelope(payload=body).SerializeToString(), creator.sign(body)


def _asset_everywhere(net: LocalNetwork, asset: str) -> list[bool]:
    found = []
    for org in net.profile.orgs:
        with net.connect(f"{org}:admin") as gw:
            try:
                basic = gw.get_network(net.profile.channel).get_contract("basic")
                basic.evaluate_transaction("read_asset", asset)
                found.append(True)
            except GatewayError as exc:
                assert "does not exist" in str(exc), exc
                found.append(False)
    return found


def test_a_backdated_transaction_past_the_endorsers_is_refused_by_submit_and_broadcast(
    net: LocalNetwork,
) -> None:
    with net.connect("hospital:admin") as gateway:
        control, late = f"t-now-{uuid.uuid4().hex[:8]}", f"t-old-{uuid.uuid4().hex[:8]}"
        ok = gateway.new_signed_transaction(*_forged(net, gateway, datetime.now(UTC), control))
        assert ok.submit().get_status().code_name == "VALID"  # the construction itself is sound
        then = datetime.now(UTC) - timedelta(days=400)
        body, signature = _forged(net, gateway, then, late)
        old = gateway.new_signed_transaction(body, signature)
        envelope = common_pb2.Envelope.FromString(body)
        envelope.signature = signature
        orderer = orderer_pb2_grpc.OrdererStub(net.channel(net.profile.orderers[0].id))
        with every_ledger_unchanged(net):
            with pytest.raises(SubmitError) as submitted:
                old.submit()
            with pytest.raises(grpc.RpcError) as broadcast:
                orderer.Broadcast(envelope)
    refusals = [(submitted.value.code, submitted.value.message, "this peer's clock"),
                (broadcast.value.code(), broadcast.value.details() or "", "the orderer's clock")]
    for code, message, clock in refusals:
        assert code == grpc.StatusCode.FAILED_PRECONDITION, message
        assert f"transaction {old.tx_id} refused: proposal time " in message
        assert f"is 400 days before {clock} " in message
        assert "the channel accepts 300 s either way (clock_skew_s)" in message
        assert len(_times(message)) == 2, message  # both times are named
        assert then.isoformat().replace("+00:00", "Z")[:19] in message
    assert _asset_everywhere(net, control) == [True, True, True]
    assert _asset_everywhere(net, late) == [False, False, False]
    with QueryClient(net.directory, "board") as q, pytest.raises(grpc.RpcError) as unknown:
        q.transaction(old.tx_id)  # no block holds the tx id
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
