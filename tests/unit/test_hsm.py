"""Keys in a PKCS#11 token (SoftHSM): they sign the same DER ECDSA a file key does, node-side
verification (Membership) accepts them, and they never leave the token (issue 13)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.cli.main import cli
from careledger.gateway import config as sdkconfig
from careledger.gateway.identity import new_key_signer, sha256
from careledger.network.config import Layout, NetworkConfig
from careledger.network.identity.certs import (
    TLS_ROLE,
    IdentitySpec,
    generate_org,
    issue_certificate,
    load_ca,
    write_pair,
)
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.hsm import PIN_ENV, SOFTHSM_MODULE, TokenKeyRef, generate_key, open_key
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.identity.tls import read_pair
from careledger.network.ledger import channelconfig as cc
from careledger.network.ledger.channelconfig import block_config_tx
from careledger.network.local.genesis import make_genesis
from careledger.network.local.launcher import generate_crypto, resolve_profile
from careledger.network.local.softhsm import use_token
from careledger.protos import config_pb2

pytest.importorskip("pkcs11", reason="python-pkcs11 (the hsm extra) is not installed")

PIN = "2468"
TOKEN = "careledger-test"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SoftHSM token this process sees (the module reads its config once per process, so the
    setting stays for later tests), with its PIN in the environment as the CLI and SDK read it."""
    why = use_token(tmp_path_factory.mktemp("softhsm"), TOKEN, PIN)
    if why:
        pytest.skip(why)
    return TOKEN


def test_a_token_key_signs_what_membership_verifies_and_never_leaves_the_token(
    token: str, tmp_path: Path
) -> None:
    ref = TokenKeyRef(SOFTHSM_MODULE, token, f"hospital/nurse-{uuid.uuid4().hex[:8]}")
    key = generate_key(ref)
    generate_org(tmp_path, "hospital", [])
    cert = issue_certificate(load_ca(tmp_path, "hospital"), "hospital",
                             IdentitySpec("nurse-hsm", "client"), key.public_key())
    folder = tmp_path / "hospital" / "nurse-hsm"
    ref.save(folder)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    # the node-side Signer and the SDK's digest signer both sign in the token
    signer = Signer.from_dir(folder)
    membership = Membership.from_crypto_dir(tmp_path)
    assert membership.verify(signer.cert_pem, b"block", signer.sign(b"block")).id == "hospital/nurse-hsm"
    sdk_signature = new_key_signer(open_key(ref))(sha256(b"proposal"))
    assert membership.verify(signer.cert_pem, b"proposal", sdk_signature).role == "client"
    key.public_key().verify(key.sign(b"x", ec.ECDSA(hashes.SHA256())), b"x", ec.ECDSA(hashes.SHA256()))
    assert not (folder / "key.pem").exists()
    with pytest.raises(TypeError, match="stays in PKCS#11 token"):
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    # gRPC's TLS cannot use the token key: such a folder serves and presents the pair in tls/
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = issue_certificate(load_ca(tmp_path, "hospital"), "hospital",
                                 IdentitySpec("nurse-hsm", TLS_ROLE), tls_key.public_key())
    write_pair(folder / "tls", tls_key, tls_cert)
    assert read_pair(folder)[1] == tls_cert.public_bytes(serialization.Encoding.PEM)
    # a CSR signed in the token verifies too (what enrol --hsm sends)
    csr = x509.CertificateSigningRequestBuilder().subject_name(cert.subject).sign(key, hashes.SHA256())
    assert csr.is_signature_valid


def test_a_missing_key_a_taken_label_and_a_missing_pin_are_named(token: str) -> None:
    with pytest.raises(IdentityError, match="no single EC key pair labelled 'nobody'"):
        open_key(TokenKeyRef(SOFTHSM_MODULE, token, "nobody"))
    ref = TokenKeyRef(SOFTHSM_MODULE, token, f"taken-{uuid.uuid4().hex[:8]}")
    generate_key(ref)
    with pytest.raises(IdentityError, match="already holds a key labelled 'taken-"):
        generate_key(ref)
    with pytest.raises(IdentityError, match="no PKCS#11 token labelled 'elsewhere'"):
        open_key(TokenKeyRef(SOFTHSM_MODULE, "elsewhere", "x"))
    pin = os.environ.pop(PIN_ENV)
    try:
        with pytest.raises(IdentityError, match=PIN_ENV):
            open_key(TokenKeyRef(SOFTHSM_MODULE, "another", "x"))
    finally:
        os.environ[PIN_ENV] = pin


def _admin_in_token(layout: Layout, org: str, token: str) -> Path:
    """org's admin re-issued over a key made in the token (same name and role; no key.pem left)."""
    folder = layout.identity_dir(org, "admin")
    ref = TokenKeyRef(SOFTHSM_MODULE, token, f"{org}/admin-{uuid.uuid4().hex[:8]}")
    key = generate_key(ref)
    cert = issue_certificate(load_ca(layout.crypto, org), org, IdentitySpec("admin", "admin"),
                             key.public_key())
    (folder / "key.pem").unlink()
    ref.save(folder)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder


def test_an_admin_whose_key_is_in_a_token_signs_the_genesis_and_channel_updates(
    token: str, tmp_path: Path
) -> None:
    layout = Layout(tmp_path)
    config = NetworkConfig.load()
    generate_crypto(layout, config)
    profile = resolve_profile(layout, config)
    folder = _admin_in_token(layout, "hospital", token)

    # network up's genesis block: every member admin's signature counts, the token one too
    tx = block_config_tx(make_genesis(layout, profile))
    assert tx is not None
    genesis = cc.validate_genesis(tx.update_bytes, tx.signatures)

    # channel sign --as hospital/admin (token) and insurer/admin (file): 2 of 3 admins
    new = sdkconfig.copy_config(genesis.message)
    new.batch.timeout_ms = 250
    update = tmp_path / "update.pb"
    update.write_bytes(sdkconfig.new_update(genesis.message, new).SerializeToString(deterministic=True))
    for who in ("hospital/admin", "insurer/admin"):
        done = CliRunner().invoke(cli, ["channel", "sign", str(update), "--as", who, "--dir", str(tmp_path),
                                        "--json"])
        assert done.exit_code == 0, done.output
    signed = config_pb2.SignedConfigUpdate.FromString(update.read_bytes())
    signatures = [(s.endorser, s.signature) for s in signed.signatures]
    applied = cc.validate_update(genesis, signed.update, signatures)
    assert applied.message.batch.timeout_ms == 250
    assert not (folder / "key.pem").exists()

    # without the PIN the CLI names what to set instead of failing on a missing key.pem
    pin = os.environ.pop(PIN_ENV)
    try:
        done = CliRunner().invoke(cli, ["channel", "sign", str(update), "--as", "hospital/admin",
                                        "--dir", str(tmp_path), "--json"])
    finally:
        os.environ[PIN_ENV] = pin
    assert done.exit_code != 0 and PIN_ENV in done.output, done.output
