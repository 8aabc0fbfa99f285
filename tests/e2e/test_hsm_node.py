"""A node whose signing key is in a PKCS#11 token (SoftHSM) endorses, and the network takes its
signatures (issue 13). On a network of its own, since one of its peers is rebuilt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.network.identity.certs import (
    CERT_FILE,
    KEY_FILE,
    TLS_ROLE,
    IdentitySpec,
    issue_certificate,
    load_ca,
    write_pair,
)
from careledger.network.identity.hsm import SOFTHSM_MODULE, TokenKeyRef, generate_key
from careledger.network.identity.tls import TLS_DIR
from careledger.network.local.softhsm import use_token
from careledger.network.local.testing import LocalNetwork, local_network
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

CONFIG = Path(__file__).with_name("network.toml")
TOKEN, PIN = "careledger-test", "2468"  # the token the other SoftHSM tests use, if they ran first
PEER = "peer0.insurer"


@pytest.fixture(scope="module")
def hsm_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    pytest.importorskip("pkcs11", reason="python-pkcs11 (the hsm extra) is not installed")
    # the nodes started below inherit the token's settings, as a node's service environment would
    why = use_token(tmp_path_factory.mktemp("softhsm"), TOKEN, PIN)
    if why:
        pytest.skip(why)
    with local_network(CONFIG, tmp_path_factory.mktemp("hsmnet") / "net") as net:
        yield net


def move_signing_key_into_token(net: LocalNetwork, node_id: str) -> x509.Certificate:
    """Give a stopped node a signing key made in the token (a new certificate, same role and
    names) and a TLS-only pair in tls/; no signing key is left in a file. The new certificate."""
    node = net.profile.node(node_id)
    folder = net.layout.identity_dir(node.org, node.name)
    old = x509.load_pem_x509_certificate((folder / CERT_FILE).read_bytes())
    sans = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    hosts = tuple(str(n.value) for n in sans)
    ca = load_ca(net.layout.crypto, node.org)
    ref = TokenKeyRef(SOFTHSM_MODULE, TOKEN, f"{net.directory.name}/{node_id}")
    key = generate_key(ref)
    cert = issue_certificate(ca, node.org, IdentitySpec(node.name, "peer", hosts=hosts), key.public_key())
    tls_key = ec.generate_private_key(ec.SECP256R1())
    write_pair(folder / TLS_DIR, tls_key,
               issue_certificate(ca, node.org, IdentitySpec(node.name, TLS_ROLE, hosts=hosts),
                                 tls_key.public_key()))
    ref.save(folder)
    (folder / KEY_FILE).unlink()
    (folder / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def test_a_peer_signing_in_a_token_endorses_and_every_peer_commits_its_endorsement(
    hsm_net: LocalNetwork,
) -> None:
    net = hsm_net
    net.stop(PEER)
    cert = move_signing_key_into_token(net, PEER)
    net.start(PEER)

    # basic's policy is AND(hospital, insurer): the insurer peer's endorsement is signed in the token
    with net.connect("hospital:admin") as gateway:
        contract = gateway.get_network(net.profile.channel).get_contract("basic")
        submitted = contract.submit_async("create_asset", "hsm-asset", "ann", "100")
        status = submitted.get_status()
    assert status.code_name == "VALID", status

    pem = cert.public_bytes(serialization.Encoding.PEM)
    for org in ("hospital", "insurer"):  # the token-signing peer commits it as well
        with QueryClient(net.directory, org) as peer:
            deadline = time.monotonic() + 10
            while peer.chain_info().height <= status.block_number:
                assert time.monotonic() < deadline, f"{org}'s peer never reached block {status.block_number}"
                time.sleep(0.05)
            processed = peer.transaction(status.tx_id)
        assert processed.validation_code == common_pb2.VALID
        tx = common_pb2.Transaction.FromString(processed.envelope.payload)
        assert pem in {e.endorser for e in tx.endorsements}, "the insurer endorsement was made in the token"
