"""The ledger core end to end: real processes, gRPC over TLS, ECDSA, files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.gateway import (
    CommitError,
    EndorseError,
    GatewayError,
    Identity,
    SubmitError,
    connect,
    signers,
)
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc, orderer_pb2_grpc


def new_id() -> str:
    return f"asset-{uuid.uuid4().hex[:12]}"


def height(net: LocalNetwork, org: str = "hospital") -> int:
    with QueryClient(net.directory, org) as q:
        return q.chain_info().height


def test_submit_then_evaluate_through_the_sdk(hospital) -> None:
    asset = new_id()
    created = json.loads(hospital.submit_transaction("create_asset", asset, "alice", "10"))
    assert created["owner"] == "alice"
    read = json.loads(hospital.evaluate_transaction("read_asset", asset))
    assert read == created
    hospital.submit_transaction("update_asset", asset, "25")
    assert json.loads(hospital.evaluate_transaction("read_asset", asset))["value"] == "25"


def test_evaluate_on_another_org_sees_the_committed_state(net: LocalNetwork, hospital) -> None:
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "bob", "1")
    with net.connect("insurer:admin") as gw:
        contract = gw.get_network(net.profile.channel).get_contract("basic")
        # the insurer peer may commit the block a moment after the hospital peer acknowledged it
        for _ in range(50):
            try:
                assert json.loads(contract.evaluate_transaction("read_asset", asset))["owner"] == "bob"
                break
            except GatewayError:
                threading.Event().wait(0.1)
        else:
            pytest.fail("insurer peer never saw the committed asset")


def test_contract_error_reaches_the_client_as_its_message(hospital) -> None:
    with pytest.raises(GatewayError) as err:
        hospital.evaluate_transaction("read_asset", "no-such-asset")
    assert "asset no-such-asset does not exist" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_endorsement_policy_needing_two_orgs_is_honoured_and_one_org_is_invalid(hospital) -> None:
    asset = new_id()
    proposal = hospital.new_proposal("create_asset", [asset, "carol", "5"])
    tx = proposal.endorse()
    endorsed = common_pb2.Transaction.FromString(
        common_pb2.Envelope.FromString(tx.bytes()).payload)
    orgs = {e.endorser for e in endorsed.endorsements}
    assert len(orgs) == 2  # AND(hospital, insurer): one endorsement from each
    assert tx.submit().get_status().successful

    lonely = hospital.new_proposal("create_asset", [new_id(), "dave", "5"], endorsing_orgs=["hospital"])
    status = lonely.endorse().submit().get_status()
    assert not status.successful
    assert status.code_name == "ENDORSEMENT_POLICY_FAILURE"
    with pytest.raises(CommitError) as err:
        hospital.submit_transaction("create_asset", new_id(), "erin", "5", endorsing_orgs=["insurer"])
    assert err.value.code_name == "ENDORSEMENT_POLICY_FAILURE"


def test_second_write_to_a_key_in_one_block_is_mvcc_invalid(hospital) -> None:
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "frank", "1")
    first = hospital.new_proposal("update_asset", [asset, "2"]).endorse()
    second = hospital.new_proposal("update_asset", [asset, "3"]).endorse()
    c1, c2 = first.submit(), second.submit()
    s1, s2 = c1.get_status(), c2.get_status()
    assert s1.block_number == s2.block_number
    assert s1.code_name == "VALID"
    assert s2.code_name == "MVCC_READ_CONFLICT"
    assert json.loads(hospital.evaluate_transaction("read_asset", asset))["value"] == "2"


def test_forged_signature_is_rejected_and_ledger_unchanged(net: LocalNetwork, hospital) -> None:
    before = height(net)
    proposal = hospital.new_proposal("create_asset", [new_id(), "mallory", "1"])
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged = signers.new_private_key_signer(other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with net.connect("hospital:admin") as gw:
        signed = gw.new_signed_proposal(proposal.bytes(), forged(proposal.digest()))
        with pytest.raises(EndorseError) as err:
            signed.endorse()
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "signature" in str(err.value).lower()
    assert height(net) == before


def test_identity_from_an_unknown_ca_is_rejected(net: LocalNetwork, tmp_path: Path) -> None:
    generate_org(tmp_path, "hospital", [IdentitySpec("impostor", "client")])  # same org name, rogue CA
    ident = tmp_path / "hospital" / "impostor"
    ca = net.layout.ca_cert("hospital").read_bytes()
    before = height(net)
    with connect(net.profile.peers_of("hospital")[0].address,
                 Identity("hospital", (ident / "cert.pem").read_bytes()),
                 signers.new_private_key_signer((ident / "key.pem").read_bytes()),
                 tls_root_certificates=ca, **net.tls_client()) as gw:  # TLS as a member
        contract = gw.get_network(net.profile.channel).get_contract("basic")
        with pytest.raises(EndorseError) as err:
            contract.submit_transaction("create_asset", new_id(), "x", "1")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "impostor" in str(err.value)
    assert height(net) == before


def _raw_gateway(net: LocalNetwork) -> gateway_pb2_grpc.GatewayStub:
    return gateway_pb2_grpc.GatewayStub(net.channel(net.profile.peers_of("hospital")[0].id))


def test_malformed_envelope_is_rejected_with_a_clear_status(net: LocalNetwork) -> None:
    before = height(net)
    stub = _raw_gateway(net)
    garbage = common_pb2.Envelope(payload=b"\xff\x00not a transaction", signature=b"sig")
    with pytest.raises(grpc.RpcError) as err:
        stub.Submit(gateway_pb2.SubmitRequest(channel=net.profile.channel, prepared_transaction=garbage))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed" in err.value.details()
    bad_proposal = common_pb2.SignedProposal(proposal_bytes=os.urandom(64), signature=b"x")
    with pytest.raises(grpc.RpcError) as err:
        stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=bad_proposal))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert height(net) == before


def test_replayed_transaction_is_rejected_and_counted_once(net: LocalNetwork, hospital) -> None:
    asset = new_id()
    proposal = hospital.new_proposal("create_asset", [asset, "grace", "1"])
    tx = proposal.endorse()
    commit = tx.submit()
    assert commit.get_status().successful
    after = height(net)
    with pytest.raises(SubmitError) as err:
        tx.submit()
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert proposal.tx_id in str(err.value)
    with pytest.raises(EndorseError) as err:
        proposal.endorse()
    assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
    # straight to the orderer, bypassing the gateway: refused as well
    orderer = net.profile.orderers[0]
    admin = net.layout.identity_dir("hospital", "peer0")
    from careledger.network.identity.membership import Membership
    from careledger.network.node.grpcutil import node_channel

    roots = Membership.from_crypto_dir(net.layout.crypto).ca_pems()
    with node_channel(orderer.address, roots, admin, 1 << 20) as ch:
        with pytest.raises(grpc.RpcError) as err:
            orderer_pb2_grpc.OrdererStub(ch).Broadcast(common_pb2.Envelope.FromString(tx.bytes()))
    assert err.value.code() in (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED)
    assert height(net) == after


def test_events_replay_from_block_zero_and_follow_live(net: LocalNetwork, hospital) -> None:
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "heidi", "1")
    with net.connect("hospital:admin") as gw:
        network = gw.get_network(net.profile.channel)
        with network.get_chaincode_events("basic", start_block=0) as events:
            seen = []
            for ev in events:
                seen.append(ev)
                if ev.event_name == "AssetCreated" and json.loads(ev.payload)["id"] == asset:
                    break
            assert seen[0].block_number <= seen[-1].block_number
            live = new_id()
            threading.Thread(target=hospital.submit_transaction,
                             args=("create_asset", live, "ivan", "1")).start()
            for ev in events:
                if ev.event_name == "AssetCreated" and json.loads(ev.payload)["id"] == live:
                    break


def _tx_ids_committed(net: LocalNetwork, org: str, tx_ids: list[str]) -> list[str]:
    missing = []
    with QueryClient(net.directory, org) as q:
        for tx_id in tx_ids:
            try:
                if q.transaction(tx_id).validation_code != common_pb2.VALID:
                    missing.append(tx_id)
            except grpc.RpcError:
                missing.append(tx_id)
    return missing


def test_peer_killed_mid_load_restarts_with_every_commit_and_catches_up(net: LocalNetwork,
                                                                         hospital) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            submitted = hospital.submit_async("create_asset", new_id(), "load", "1")
            if submitted.get_status().successful:
                acknowledged.append(submitted.tx_id)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        while len(acknowledged) < 10:
            threading.Event().wait(0.05)
        net.kill("peer0.board")
        mark = len(acknowledged)
        while len(acknowledged) < mark + 10:
            threading.Event().wait(0.05)
        net.start("peer0.board")
        while len(acknowledged) < mark + 20:
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.join()
    target = height(net, "hospital")
    for _ in range(100):
        if height(net, "board") >= target:
            break
        threading.Event().wait(0.1)
    assert height(net, "board") >= target
    assert _tx_ids_committed(net, "board", acknowledged) == []


def test_ledger_verify_passes_then_names_a_tampered_block(net: LocalNetwork) -> None:
    from click.testing import CliRunner

    from careledger.cli.main import cli

    runner = CliRunner()
    ok = runner.invoke(cli, ["ledger", "verify", "--dir", str(net.directory), "--json"])
    assert ok.exit_code == 0, ok.output
    assert all(r["ok"] for r in json.loads(ok.output).values())

    blocks = net.layout.node_data(net.profile.peers_of("board")[0]) / "blocks"
    files = sorted(p for p in blocks.iterdir() if p.is_file())
    path = files[0]
    data = bytearray(path.read_bytes())
    # flip a byte inside the third block's record: skip the first two length-prefixed records
    offset = 0
    for _ in range(2):
        offset += 4 + int.from_bytes(data[offset:offset + 4], "big")
    target = offset + 4 + 40
    original = data[target]
    data[target] ^= 0xFF
    path.write_bytes(bytes(data))
    try:
        bad = runner.invoke(cli, ["ledger", "verify", "--dir", str(net.directory), "--json"])
        assert bad.exit_code == 1
        report = json.loads(bad.output)["peer0.board"]
        assert report["ok"] is False
        assert report["first_bad_block"] == 2
        assert "block 2" in report["problem"]
    finally:
        data[target] = original
        path.write_bytes(bytes(data))
    assert hashlib.sha256(path.read_bytes()).digest()  # restored file still readable
