"""Bad input to the CA service: each is refused with a gRPC status and a message naming the identity
and what to do, and nothing is issued or changed (issue 13)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cafixtures import ORG, RunningCA, enrol, signed_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from careledger.gateway.ca import CAError, new_key
from careledger.gateway.identity import sha256
from careledger.network.ca.store import MAX_FAILED_ENROLMENTS
from careledger.network.identity.certs import IdentitySpec, issue_identity
from careledger.protos import ca_pb2

pytest_plugins = ("cafixtures",)


def ledger_of(ca: RunningCA) -> tuple[list[tuple], list[tuple]]:
    """Every registration and certificate row the CA holds, to show a refusal changed nothing."""
    with sqlite3.connect(ca.layout.data / "ca" / ORG / "ca.sqlite") as db:
        return (db.execute("SELECT * FROM registrations ORDER BY name").fetchall(),
                db.execute("SELECT * FROM certificates ORDER BY serial").fetchall())


def refused(ca: RunningCA, call: Callable[[], object], code: grpc.StatusCode, *words: str,
            counted: str = "") -> str:
    """Run a call the CA must refuse with `code`, its message naming `words`; the store unchanged
    (but for one more wrong secret counted against registration `counted`, if named)."""
    before = ledger_of(ca)
    with pytest.raises(CAError) as err:
        call()
    assert err.value.code == code, err.value
    for word in words:
        assert word in err.value.message, err.value.message
    if counted:
        assert failures(ca, counted) == 1 + failures_in(before, counted)
        before = ledger_of(ca)[0], before[1]
    assert ledger_of(ca) == before, "a refused call changed the CA's store"
    return err.value.message


def failures_in(ledger: tuple[list[tuple], list[tuple]], name: str) -> int:
    return next(int(row[-1]) for row in ledger[0] if row[0] == name)


def failures(ca: RunningCA, name: str) -> int:
    """The wrong secrets counted against registration `name` (the last column)."""
    return failures_in(ledger_of(ca), name)


@pytest.fixture()
def registered(ca: RunningCA) -> str:
    """The secret of a fresh registration `drnew` (role=practitioner, licence MD-7)."""
    with ca.client("admin") as admin:
        return admin.register("drnew", "client", {"role": "practitioner", "license": "MD-7"}).secret


def test_a_wrong_secret_is_refused(ca: RunningCA, registered: str) -> None:
    with ca.client() as person:
        refused(ca, lambda: person.enroll("drnew", registered + "x", new_key()),
                grpc.StatusCode.UNAUTHENTICATED, "hospital/drnew", "wrong secret", counted="drnew")
        refused(ca, lambda: person.enroll("nobody", registered, new_key()),
                grpc.StatusCode.UNAUTHENTICATED, "hospital/nobody", "unknown name")


def test_after_five_wrong_secrets_even_the_right_one_is_refused_until_a_registrar_resets_it(
    ca: RunningCA, registered: str, tmp_path: Path
) -> None:
    with ca.client() as guesser:
        for _ in range(MAX_FAILED_ENROLMENTS - 1):
            refused(ca, lambda: guesser.enroll("drnew", "guess", new_key()),
                    grpc.StatusCode.UNAUTHENTICATED, "hospital/drnew", "wrong secret", counted="drnew")
        # the fifth wrong secret locks the registration and says so
        refused(ca, lambda: guesser.enroll("drnew", "guess", new_key()), grpc.StatusCode.PERMISSION_DENIED,
                "hospital/drnew", "locked after 5 wrong secrets", "identity register drnew --reset",
                counted="drnew")
        # locked: the right secret is refused too, nothing is issued, nothing more is counted
        refused(ca, lambda: guesser.enroll("drnew", registered, new_key()), grpc.StatusCode.PERMISSION_DENIED,
                "hospital/drnew", "even the right one")
    with ca.client("admin") as admin:
        assert next(r for r in admin.list() if r.name == "drnew").state == "locked"
    assert not ledger_of(ca)[1]

    # a reset by someone who may not register the same role and attributes is refused
    with ca.client("frontdesk") as frontdesk:
        refused(ca, lambda: frontdesk.reset_secret("drnew"), grpc.StatusCode.PERMISSION_DENIED,
                "reset of hospital/drnew", "may not grant attribute")
    with ca.client("admin") as admin:
        fresh = admin.reset_secret("drnew")
        info = next(r for r in admin.list() if r.name == "drnew")
    assert (fresh.name, info.state, info.role, info.attributes) == (
        "drnew", "registered", "client", {"role": "practitioner", "license": "MD-7"})
    assert failures(ca, "drnew") == 0
    with ca.client() as person:  # the old secret is gone; the new one enrols, once
        refused(ca, lambda: person.enroll("drnew", registered, new_key()), grpc.StatusCode.UNAUTHENTICATED,
                "wrong secret", counted="drnew")
    signer = enrol(ca, "drnew", fresh.secret, tmp_path / "drnew")
    assert signer.name == "drnew"
    with ca.client("admin") as admin:  # an enrolled registration's secret is not reset
        refused(ca, lambda: admin.reset_secret("drnew"), grpc.StatusCode.FAILED_PRECONDITION,
                "reset of hospital/drnew", "is enrolled", "reenroll")
        refused(ca, lambda: admin.reset_secret("nobody"), grpc.StatusCode.NOT_FOUND, "hospital/nobody")


def test_wrong_secrets_against_an_enrolled_registration_lock_nothing(
    ca: RunningCA, registered: str, tmp_path: Path
) -> None:
    enrol(ca, "drnew", registered, tmp_path / "drnew")
    with ca.client() as guesser:
        for _ in range(MAX_FAILED_ENROLMENTS + 1):
            refused(ca, lambda: guesser.enroll("drnew", "guess", new_key()),
                    grpc.StatusCode.UNAUTHENTICATED, "wrong secret")
    with ca.client("admin") as admin:
        assert next(r for r in admin.list() if r.name == "drnew").state == "enrolled"


def test_a_used_secret_is_refused(ca: RunningCA, registered: str, tmp_path: Path) -> None:
    enrol(ca, "drnew", registered, tmp_path / "drnew")
    with ca.client() as thief:
        refused(ca, lambda: thief.enroll("drnew", registered, new_key()),
                grpc.StatusCode.FAILED_PRECONDITION, "hospital/drnew", "already used", "reenroll")


def test_a_csr_for_another_name_is_refused_and_the_secret_still_works(
    ca: RunningCA, registered: str, tmp_path: Path
) -> None:
    key = new_key()
    other = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])).sign(key, hashes.SHA256())
    request = ca_pb2.EnrollRequest(name="drnew", secret=registered,
                                   csr=other.public_bytes(serialization.Encoding.PEM))
    with ca.client() as person:
        refused(ca, lambda: person._call("Enroll", person._stub.Enroll, request),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/drnew", "CN admin", "'drnew'")
    enrol(ca, "drnew", registered, tmp_path / "drnew")  # the refusal did not use up the secret


def test_a_csr_asking_for_attributes_the_registration_lacks_is_refused(
    ca: RunningCA, registered: str
) -> None:
    with ca.client() as person:
        refused(ca, lambda: person.enroll("drnew", registered, new_key(), {"role": "admin-of-all"}),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/drnew", "role=admin-of-all", "registrar")
        refused(ca, lambda: person.enroll("drnew", registered, new_key(), {"license": "MD-8"}),
                grpc.StatusCode.PERMISSION_DENIED, "license=MD-8")
        # asking for exactly what was registered is fine
        assert person.enroll("drnew", registered, new_key(), {"license": "MD-7"}).serial


def test_malformed_or_forged_csrs_and_keys_the_ledger_cannot_verify_are_refused(
    ca: RunningCA, registered: str
) -> None:
    with ca.client() as person:
        pem_junk = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        for junk in (b"", b"not a csr", pem_junk):
            request = ca_pb2.EnrollRequest(name="drnew", secret=registered, csr=junk)
            refused(ca, lambda r=request: person._call("Enroll", person._stub.Enroll, r),  # type: ignore[misc]
                    grpc.StatusCode.INVALID_ARGUMENT, "hospital/drnew", "malformed CSR")
        p384 = ec.generate_private_key(ec.SECP384R1())
        refused(ca, lambda: person.enroll("drnew", registered, p384),
                grpc.StatusCode.INVALID_ARGUMENT, "hospital/drnew", "P-256")
        # a CSR whose signature does not match its key (bytes changed after signing)
        good = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drnew")])).sign(new_key(), hashes.SHA256())
        der = bytearray(good.public_bytes(serialization.Encoding.DER))
        der[-5] ^= 0x01
        request = ca_pb2.EnrollRequest(name="drnew", secret=registered, csr=bytes(der))
        message = refused(ca, lambda: person._call("Enroll", person._stub.Enroll, request),
                          grpc.StatusCode.INVALID_ARGUMENT, "hospital/drnew")
        assert "signature" in message or "malformed" in message


def test_a_registrar_granting_a_role_or_attribute_it_may_not_is_refused(ca: RunningCA) -> None:
    with ca.client("frontdesk") as desk:
        refused(ca, lambda: desk.register("mallory", "admin"),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/mallory", "role 'admin'", "registrar_roles")
        refused(ca, lambda: desk.register("mallory", "client", {"role": "practitioner"}),
                grpc.StatusCode.PERMISSION_DENIED, "role=practitioner", "registrar_attrs")
        refused(ca, lambda: desk.register("mallory", "client", {"registrar_roles": "client,admin"}),
                grpc.StatusCode.PERMISSION_DENIED, "registrar_roles admin")
        refused(ca, lambda: desk.register("John Smith", "client", {"role": "patient"}),
                grpc.StatusCode.INVALID_ARGUMENT, "pseudonym")
    with ca.client("nurse") as nurse:
        refused(ca, lambda: nurse.register("mallory", "client"),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/nurse is not a registrar")
    with ca.client("admin") as admin:
        admin.register("taken", "client")
        refused(ca, lambda: admin.register("taken", "client"),
                grpc.StatusCode.ALREADY_EXISTS, "hospital/taken", "already registered")


def test_revoke_and_list_by_anyone_but_an_org_admin_are_refused(ca: RunningCA, registered: str) -> None:
    with ca.client("frontdesk") as desk:
        refused(ca, lambda: desk.revoke(name="drnew", reason="keyCompromise"),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/frontdesk is not an admin")
        refused(ca, lambda: desk.list(), grpc.StatusCode.PERMISSION_DENIED, "hospital/frontdesk")
    with ca.client("admin") as admin:
        refused(ca, lambda: admin.revoke(name="drnew", reason="stolen"),
                grpc.StatusCode.INVALID_ARGUMENT, "'stolen'", "keyCompromise")
        refused(ca, lambda: admin.revoke(serials=["abc123"]), grpc.StatusCode.NOT_FOUND, "abc123")


def test_reenrol_with_a_revoked_expired_or_foreign_certificate_is_refused(
    ca: RunningCA, registered: str, tmp_path: Path
) -> None:
    enrol(ca, "drnew", registered, tmp_path / "drnew")
    root = ca.layout.ca_cert(ORG).read_bytes()
    # a certificate of the same registration, issued by the org CA (a copy of its folder), expired
    past = datetime.now(UTC) - timedelta(days=30)
    expired_dir = tmp_path / "expired"
    (expired_dir / ORG / "ca").mkdir(parents=True)
    for name in ("cert.pem", "key.pem"):
        (expired_dir / ORG / "ca" / name).write_bytes((ca.layout.crypto / ORG / "ca" / name).read_bytes())
    issue_identity(expired_dir, ORG, IdentitySpec("drnew", "client"), not_before=past,
                   not_after=past + timedelta(days=29))
    with signed_client(ca.address, root, expired_dir / ORG / "drnew") as expired:
        refused(ca, lambda: expired.reenroll(new_key()),
                grpc.StatusCode.PERMISSION_DENIED, "reenroll refused", "hospital/drnew", "not at")
    # a valid certificate with the registration's name that the service did not issue
    issue_identity(expired_dir, ORG, IdentitySpec("drnew", "client"), overwrite=True)
    with signed_client(ca.address, root, expired_dir / ORG / "drnew") as offline:
        refused(ca, lambda: offline.reenroll(new_key()),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/drnew", "not issued by this CA service")
    with ca.client("admin") as admin:
        admin.revoke(name="drnew", reason="keyCompromise")
    with signed_client(ca.address, root, tmp_path / "drnew") as revoked:
        refused(ca, lambda: revoked.reenroll(new_key()),
                grpc.StatusCode.PERMISSION_DENIED, "hospital/drnew", "revoked", "keyCompromise")


def test_a_signed_request_replayed_later_or_for_another_call_is_refused(
    ca: RunningCA, registered: str
) -> None:
    with ca.client("admin") as admin:
        signed = admin._signed(list=ca_pb2.ListRequest())
        refused(ca, lambda: admin._call("Revoke", admin._stub.Revoke, signed),
                grpc.StatusCode.INVALID_ARGUMENT, "revoke refused", "carries list")
        old = ca_pb2.CARequest.FromString(signed.payload)
        old.timestamp.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
        payload = old.SerializeToString()
        assert admin._signer is not None
        stale = type(signed)(payload=payload, signature=admin._signer(sha256(payload)))
        refused(ca, lambda: admin._call("List", admin._stub.List, stale),
                grpc.StatusCode.INVALID_ARGUMENT, "list refused", "clock")
