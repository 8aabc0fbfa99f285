"""Bad input against live nodes: a clear status and message, and the ledger unchanged."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from careledger.gateway import (
    BlockEventsError,
    ChaincodeEventsError,
    EndorseError,
    EvaluateError,
    GatewayError,
    Identity,
    InvalidRequestError,
    connect,
    signers,
)
from careledger.network.identity.certs import IdentitySpec, generate_org, issue_identity
from careledger.network.identity.signing import Signer
from careledger.network.identity.tls import channel_credentials
from careledger.network.ledger.protoutil import compute_tx_id
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc, orderer_pb2, orderer_pb2_grpc


def chain_tips(net: LocalNetwork) -> list[tuple[int, bytes]]:
    """Every peer's height and last block hash, each read over that peer's own Query service."""
    tips = []
    for node in net.profile.peers:
        with QueryClient(net.directory, node.org, peer=node) as q:
            info = q.chain_info()
            tips.append((info.height, info.current_block_hash))
    return tips


@contextmanager
def ledger_unchanged(net: LocalNetwork) -> Iterator[None]:
    """The block inside changes no peer's ledger (waits one batch timeout for a stray block)."""
    before = chain_tips(net)
    yield
    time.sleep(net.profile.orderer.batch_timeout_ms / 1000 + 0.2)
    assert chain_tips(net) == before


def test_oversized_payload_is_refused_with_resource_exhausted(net: LocalNetwork, hospital) -> None:
    huge = "x" * (net.profile.orderer.max_message_bytes + 1024)
    with ledger_unchanged(net), pytest.raises(GatewayError) as err:
        hospital.submit_transaction("create_asset", "too-big", "alice", huge)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_non_utf8_argument_is_refused_naming_the_argument(net: LocalNetwork, hospital) -> None:
    with ledger_unchanged(net), pytest.raises(EndorseError) as err:
        hospital.submit_transaction("create_asset", b"\xff\xfe", "alice", "1")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in str(err.value)


def test_unknown_contract_and_function_say_so(net: LocalNetwork) -> None:
    with net.connect("hospital:admin") as gw, ledger_unchanged(net):
        network = gw.get_network(net.profile.channel)
        with pytest.raises(EndorseError) as err:
            network.get_contract("radiology").submit_transaction("order_scan")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        assert "contract 'radiology' is not deployed" in str(err.value)
        with pytest.raises(EvaluateError) as err:
            network.get_contract("basic").evaluate_transaction("steal_assets")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        assert "has no function 'steal_assets'" in str(err.value)


def test_expired_certificate_is_refused(net: LocalNetwork) -> None:
    now = datetime.now(UTC)
    folder = issue_identity(net.layout.crypto, "hospital", IdentitySpec("expired-carl", "client"),
                            not_before=now - timedelta(days=30), not_after=now - timedelta(days=1),
                            overwrite=True)
    with connect(net.profile.peers_of("hospital")[0].address,
                 Identity("hospital", (folder / "cert.pem").read_bytes()),
                 signers.new_private_key_signer((folder / "key.pem").read_bytes()),
                 tls_root_certificates=net.layout.ca_cert("hospital").read_bytes(),
                 **net.tls_client()) as gw:  # TLS as a member; the proposal signed by carl
        basic = gw.get_network(net.profile.channel).get_contract("basic")
        with ledger_unchanged(net), pytest.raises(EndorseError) as err:
            basic.submit_transaction("create_asset", "from-the-past", "carl", "1")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "expired" in str(err.value).lower()


def test_a_result_too_large_for_the_network_is_refused_naming_the_transaction(
    net: LocalNetwork, hospital
) -> None:
    # below the request limit, but the endorsed result (which holds the value twice) is not
    big = "y" * (net.profile.orderer.max_message_bytes * 2 // 3)
    proposal = hospital.new_proposal("create_asset", ["big-result", "alice", big])
    with ledger_unchanged(net), pytest.raises(EndorseError) as err:
        proposal.endorse()
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert proposal.tx_id in str(err.value) and "max_message_bytes" in str(err.value)


# -- input hygiene ------------------------------------------------------------------------------

CONTROL_KEYS = [
    ("a\x00b", "'a\\x00b'", "U+0000"),                    # NUL
    ("scan\x1b[31mred\x1b[0m", "'scan\\x1b[31mred\\x1b[0m'", "U+001B"),  # ANSI escape
    ("invoice\u202etxt.exe", "'invoice\\u202etxt.exe'", "U+202E"),  # right-to-left override
    ("iso\u2067late", "'iso\\u2067late'", "U+2067"),        # bidi isolate
    ("csi\x9b2J", "'csi\\x9b2J'", "U+009B"),                # C1 control
    ("del\x7f", "'del\\x7f'", "U+007F"),                    # DEL
]


@pytest.mark.parametrize(("key", "escaped", "code"), CONTROL_KEYS)
def test_a_key_with_a_control_character_is_refused_naming_it_escaped(
    net: LocalNetwork, hospital, key: str, escaped: str, code: str
) -> None:
    with ledger_unchanged(net):
        with pytest.raises(EndorseError) as err:
            hospital.submit_transaction("create_asset", key, "ward-3", "1")
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert f"key {escaped} contains the control character {code}" in str(err.value)
        assert "\x1b" not in str(err.value) and "\u202e" not in str(err.value)  # nothing raw echoed
        with pytest.raises(EvaluateError) as err:
            hospital.evaluate_transaction("read_asset", key)
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert f"key {escaped}" in str(err.value)


def _signed_proposal(net: LocalNetwork, function: str, contract: str = "basic",
                     args: tuple[str, ...] = ()) -> common_pb2.SignedProposal:
    """A proposal built and signed by hand as hospital:admin, bypassing the SDK's own checks."""
    signer = Signer.from_dir(net.layout.identity_dir("hospital", "admin"))
    nonce = os.urandom(24)
    header = common_pb2.Header(channel=net.profile.channel, tx_id=compute_tx_id(nonce, signer.cert_pem),
                               creator=signer.cert_pem, nonce=nonce)
    header.timestamp.GetCurrentTime()
    proposal = common_pb2.Proposal(header=header, contract=contract, function=function,
                                   args=[a.encode() for a in args]).SerializeToString()
    return common_pb2.SignedProposal(proposal_bytes=proposal, signature=signer.sign(proposal))


def _gateway(net: LocalNetwork) -> gateway_pb2_grpc.GatewayStub:
    return gateway_pb2_grpc.GatewayStub(net.channel(net.profile.peers_of("hospital")[0].id))


def test_a_10000_character_function_name_is_refused_by_sdk_and_peer(net: LocalNetwork, hospital) -> None:
    name = "f" * 10_000
    with ledger_unchanged(net):
        with pytest.raises(InvalidRequestError, match="10000 characters long; the peers accept at most 128"):
            hospital.submit_transaction(name)
        stub = _gateway(net)
        endorse, evaluate = gateway_pb2.EndorseRequest, gateway_pb2.EvaluateRequest
        for call in (lambda p: stub.Endorse(endorse(proposed_transaction=p), timeout=10),
                     lambda p: stub.Evaluate(evaluate(proposed_transaction=p), timeout=10)):
            with pytest.raises(grpc.RpcError) as err:
                call(_signed_proposal(net, name))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # not RESOURCE_EXHAUSTED
            assert "function name 'ffff" in err.value.details()
            assert "is 10000 characters long; the limit is 128" in err.value.details()
            assert len(err.value.details()) < 400


def test_an_empty_endorse_or_evaluate_request_is_invalid_argument(net: LocalNetwork) -> None:
    stub = _gateway(net)
    with ledger_unchanged(net):
        with pytest.raises(grpc.RpcError) as err:
            stub.Endorse(gateway_pb2.EndorseRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details().startswith("endorse request carries no signed proposal")
        with pytest.raises(grpc.RpcError) as err:
            stub.Evaluate(gateway_pb2.EvaluateRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details().startswith("evaluate request carries no signed proposal")


def _height(net: LocalNetwork) -> int:
    with QueryClient(net.directory, "hospital") as q:
        return q.chain_info().height


def test_streams_from_a_block_far_beyond_the_height_answer_out_of_range(net: LocalNetwork) -> None:
    far = _height(net) + 1000
    with net.connect("hospital:admin") as gw, ledger_unchanged(net):
        network = gw.get_network(net.profile.channel)
        started = time.monotonic()
        with pytest.raises(BlockEventsError) as err, network.get_block_events(start_block=far) as blocks:
            next(iter(blocks))
        assert err.value.code == grpc.StatusCode.OUT_OF_RANGE
        assert f"BlockEvents cannot start at block {far}: the ledger's height is" in str(err.value)
        with pytest.raises(ChaincodeEventsError) as err, \
                network.get_chaincode_events("basic", start_block=far) as events:
            next(iter(events))
        assert err.value.code == grpc.StatusCode.OUT_OF_RANGE
        assert f"ChaincodeEvents cannot start at block {far}" in str(err.value)
        assert time.monotonic() - started < 20  # two bounded waits of 5 s, not the client's deadline
    signer = Signer.from_dir(net.layout.identity_dir("orderer", "admin"))
    payload = orderer_pb2.SeekRequest(channel=net.profile.channel, creator=signer.cert_pem, start=far,
                                      follow=True).SerializeToString()
    orderer = orderer_pb2_grpc.OrdererStub(net.channel(net.profile.orderers[0].id, "orderer:admin"))
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as rpc:
        next(orderer.Deliver(common_pb2.Signed(payload=payload, signature=signer.sign(payload)), timeout=60))
    assert rpc.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert f"Deliver cannot start at block {far}" in rpc.value.details()
    assert time.monotonic() - started < 10


# -- TLS: every node requires a client certificate from a channel CA ------------------------------

def _health(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    channel = (grpc.insecure_channel(target) if credentials is None
               else grpc.secure_channel(target, credentials))
    with channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("node_id", ["peer0.hospital", "orderer0.orderer"])
def test_a_node_refuses_clients_without_a_channel_ca_certificate(
    net: LocalNetwork, tmp_path: Path, node_id: str
) -> None:
    node = net.profile.node(node_id)
    roots = [net.layout.ca_cert(org).read_bytes() for org in [*net.profile.orgs, net.profile.orderer_org]]
    generate_org(tmp_path, "hospital", [IdentitySpec("mallory", "admin")])  # rogue CA, same org name
    with ledger_unchanged(net):
        assert _health(node.address, None) == grpc.StatusCode.UNAVAILABLE  # plaintext
        assert _health(node.address, channel_credentials(roots)) == grpc.StatusCode.UNAVAILABLE  # no cert
        rogue = channel_credentials(roots, tmp_path / "hospital" / "mallory")
        assert _health(node.address, rogue) == grpc.StatusCode.UNAVAILABLE  # unknown CA
        member = channel_credentials(roots, net.layout.identity_dir("hospital", "alice"))
        assert _health(node.address, member) == grpc.StatusCode.OK


def test_the_sdk_without_a_tls_client_certificate_is_refused_at_the_handshake(net: LocalNetwork) -> None:
    folder = net.layout.identity_dir("hospital", "alice")
    with connect(net.profile.peers_of("hospital")[0].address,
                 Identity("hospital", (folder / "cert.pem").read_bytes()),
                 signers.new_private_key_signer((folder / "key.pem").read_bytes()),
                 tls_root_certificates=net.layout.ca_cert("hospital").read_bytes()) as gw, \
            ledger_unchanged(net):
        with pytest.raises(EvaluateError) as err:
            gw.get_network(net.profile.channel).get_contract("basic").evaluate_transaction(
                "read_asset", "anything")
    assert err.value.code == grpc.StatusCode.UNAVAILABLE
