"""Identity layer: real P-256 keys and certificates in tmp folders, real gRPC over mutual TLS."""

from __future__ import annotations

import hashlib
import ipaddress
import stat
from concurrent import futures
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from careledger.network.identity.certs import (
    ATTRIBUTES_OID,
    IdentitySpec,
    generate_ca,
    generate_org,
    issue_identity,
)
from careledger.network.identity.errors import IdentityExistsError
from careledger.network.identity.membership import (
    BadSignatureError,
    ExpiredIdentityError,
    Identity,
    Membership,
    UnknownIdentityError,
)
from careledger.network.identity.signing import Signer, sign, sign_digest
from careledger.network.identity.tls import channel_credentials, server_credentials

SPECS = [
    IdentitySpec("peer0", "peer", hosts=("peer0.hospital.example", "10.0.0.5")),
    IdentitySpec("admin", "admin"),
    IdentitySpec("alice", "client", {"role": "practitioner", "license": "MD-1"}),
]


@pytest.fixture(scope="module")
def crypto(tmp_path_factory: pytest.TempPathFactory) -> Path:
    crypto_dir = tmp_path_factory.mktemp("crypto")
    generate_org(crypto_dir, "hospital", SPECS)
    generate_org(crypto_dir, "insurer", [IdentitySpec("peer0", "peer")])
    return crypto_dir


@pytest.fixture()
def membership(crypto: Path) -> Membership:
    return Membership.from_crypto_dir(crypto)


def _cert(crypto: Path, org: str, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((crypto / org / name / "cert.pem").read_bytes())


def test_generate_org_writes_ca_and_identities_with_private_keys(crypto: Path) -> None:
    for name in ("ca", "peer0", "admin", "alice"):
        folder = crypto / "hospital" / name
        assert (folder / "cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        key = folder / "key.pem"
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_ca_is_a_ten_year_certificate_signing_authority(crypto: Path) -> None:
    ca = _cert(crypto, "hospital", "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert timedelta(days=3649) < lifetime < timedelta(days=3651)


def test_leaf_certificate_carries_subject_attributes_sans_and_both_ekus(crypto: Path) -> None:
    cert = _cert(crypto, "hospital", "alice")
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {
        NameOID.COMMON_NAME: "alice",
        NameOID.ORGANIZATION_NAME: "hospital",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "client",
    }
    ext = cert.extensions.get_extension_for_oid(ATTRIBUTES_OID)
    assert not ext.critical
    assert ext.value.value == b'{"license":"MD-1","role":"practitioner"}'
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.not_valid_before_utc < datetime.now(UTC)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == timedelta(days=365)


def test_node_certificate_names_its_hosts_and_loopback(crypto: Path) -> None:
    san = _cert(crypto, "hospital", "peer0").extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert set(san.value.get_values_for_type(x509.DNSName)) == {
        "peer0",
        "peer0.hospital.example",
        "localhost",
    }
    assert set(san.value.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("127.0.0.1"),
    }


def test_membership_reads_role_and_attributes_back(crypto: Path, membership: Membership) -> None:
    alice = membership.identity((crypto / "hospital" / "alice" / "cert.pem").read_bytes())
    assert (alice.id, alice.org, alice.name, alice.role) == (
        "hospital/alice",
        "hospital",
        "alice",
        "client",
    )
    assert dict(alice.attributes) == {"role": "practitioner", "license": "MD-1"}
    assert membership.orgs == frozenset({"hospital", "insurer"})
    assert len(membership.ca_pems()) == 2


def test_generate_org_is_idempotent_and_adds_only_missing_identities(tmp_path: Path) -> None:
    generate_org(tmp_path, "board", [IdentitySpec("admin", "admin")])
    before = {p: p.read_bytes() for p in (tmp_path / "board").rglob("*.pem")}
    generate_org(tmp_path, "board", [IdentitySpec("admin", "admin"), IdentitySpec("bob", "client")])
    assert all(p.read_bytes() == data for p, data in before.items())
    assert (tmp_path / "board" / "bob" / "cert.pem").is_file()


def test_issue_identity_refuses_to_replace_an_identity_unless_asked(tmp_path: Path) -> None:
    generate_org(tmp_path, "board", [IdentitySpec("admin", "admin")])
    old = (tmp_path / "board" / "admin" / "cert.pem").read_bytes()
    with pytest.raises(IdentityExistsError, match="board/admin"):
        issue_identity(tmp_path, "board", IdentitySpec("admin", "admin"))
    with pytest.raises(IdentityExistsError, match="board"):
        generate_ca(tmp_path, "board")
    issue_identity(tmp_path, "board", IdentitySpec("admin", "admin"), overwrite=True)
    assert (tmp_path / "board" / "admin" / "cert.pem").read_bytes() != old


def test_sign_and_sign_digest_both_verify(crypto: Path, membership: Membership) -> None:
    signer = Signer.from_dir(crypto / "hospital" / "alice")
    assert (signer.org, signer.name, signer.id) == ("hospital", "alice", "hospital/alice")
    data = b"proposal bytes"
    digest = hashlib.sha256(data).digest()
    for signature in (signer.sign(data), sign(signer.key, data), sign_digest(signer.key, digest)):
        assert membership.verify(signer.cert_pem, data, signature).id == "hospital/alice"
        assert membership.verify_digest(signer.cert_pem, digest, signature).id == "hospital/alice"


def test_tampered_data_or_garbled_signature_is_bad_signature(
    crypto: Path, membership: Membership
) -> None:
    signer = Signer.from_dir(crypto / "hospital" / "alice")
    signature = signer.sign(b"pay 10")
    with pytest.raises(BadSignatureError, match="hospital/alice"):
        membership.verify(signer.cert_pem, b"pay 1000", signature)
    with pytest.raises(BadSignatureError):
        membership.verify(signer.cert_pem, b"pay 10", b"not a DER signature")


def test_signature_by_another_identity_is_bad_signature(
    crypto: Path, membership: Membership
) -> None:
    alice = Signer.from_dir(crypto / "hospital" / "alice")
    admin = Signer.from_dir(crypto / "hospital" / "admin")
    with pytest.raises(BadSignatureError):
        membership.verify(alice.cert_pem, b"data", admin.sign(b"data"))


def test_certificate_from_rogue_ca_with_same_org_name_is_unknown(
    tmp_path: Path, membership: Membership
) -> None:
    generate_org(tmp_path, "hospital", [IdentitySpec("mallory", "admin")])
    rogue = Signer.from_dir(tmp_path / "hospital" / "mallory")
    with pytest.raises(UnknownIdentityError, match="not issued by the CA of org 'hospital'"):
        membership.verify(rogue.cert_pem, b"data", rogue.sign(b"data"))


def test_certificate_of_org_outside_the_channel_is_unknown(crypto: Path) -> None:
    hospital_only = Membership.from_crypto_dir(crypto, ["hospital"])
    with pytest.raises(UnknownIdentityError, match="'insurer' is not a member"):
        hospital_only.identity((crypto / "insurer" / "peer0" / "cert.pem").read_bytes())


def test_garbage_bytes_and_ca_certificate_are_unknown(crypto: Path, membership: Membership) -> None:
    with pytest.raises(UnknownIdentityError, match="not a PEM X.509"):
        membership.identity(b"\x00garbage")
    with pytest.raises(UnknownIdentityError, match="CN=ca.hospital"):
        membership.identity((crypto / "hospital" / "ca" / "cert.pem").read_bytes())


def test_expired_certificate_is_refused_but_valid_in_its_period(
    crypto: Path, membership: Membership, tmp_path: Path
) -> None:
    org_dir = tmp_path / "hospital"
    org_dir.mkdir()
    (org_dir / "ca").symlink_to(crypto / "hospital" / "ca")
    now = datetime.now(UTC)
    folder = issue_identity(
        tmp_path,
        "hospital",
        IdentitySpec("old", "client"),
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    cert_pem = (folder / "cert.pem").read_bytes()
    with pytest.raises(ExpiredIdentityError, match="hospital/old"):
        membership.identity(cert_pem)
    assert membership.identity(cert_pem, at=now - timedelta(days=2)).id == "hospital/old"
    with pytest.raises(ExpiredIdentityError):  # the cache must not skip the expiry check
        membership.identity(cert_pem)


def test_verified_identity_is_cached_per_certificate(crypto: Path, membership: Membership) -> None:
    cert_pem = (crypto / "hospital" / "peer0" / "cert.pem").read_bytes()
    first = membership.identity(cert_pem)
    assert isinstance(first, Identity)
    assert membership.identity(bytes(cert_pem)) is first
    assert hash(first) == hash(membership.identity(cert_pem))


def test_a_revocation_landing_while_a_certificate_is_judged_is_not_undone_by_the_cache(
    crypto: Path, membership: Membership
) -> None:
    """A node's Membership is updated in place by a configuration update while requests are being
    verified: a judgement made under the old revocations must not be cached past the update."""
    cert_pem = (crypto / "hospital" / "alice" / "cert.pem").read_bytes()
    serial = f"{_cert(crypto, 'hospital', 'alice').serial_number:x}"
    cas = {org: (crypto / org / "ca" / "cert.pem").read_bytes() for org in ("hospital", "insurer")}
    judge = membership._parse

    def judged_as_the_update_lands(*args: object) -> object:
        verified = judge(*args)  # type: ignore[arg-type]
        membership.update(cas, {"hospital": [serial]})
        return verified

    membership._parse = judged_as_the_update_lands  # type: ignore[method-assign]
    assert membership.identity(cert_pem).id == "hospital/alice"  # judged before the update
    membership._parse = judge  # type: ignore[method-assign]
    with pytest.raises(UnknownIdentityError, match=f"hospital/alice \\(serial {serial}\\) was revoked"):
        membership.identity(cert_pem)


@pytest.fixture()
def health_server(crypto: Path, membership: Membership):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    creds = server_credentials(crypto / "hospital" / "peer0", membership.ca_pems())
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None)


def _check_health(target: str, creds: grpc.ChannelCredentials) -> int:
    with grpc.secure_channel(target, creds) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_mutual_tls_health_check_succeeds_with_a_client_certificate(
    crypto: Path, membership: Membership, health_server: str
) -> None:
    creds = channel_credentials(membership.ca_pems(), crypto / "insurer" / "peer0")
    assert _check_health(health_server, creds) == health_pb2.HealthCheckResponse.SERVING


def test_mutual_tls_refuses_a_client_without_a_certificate(
    membership: Membership, health_server: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _check_health(health_server, channel_credentials(membership.ca_pems()))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
