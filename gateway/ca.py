"""The SDK side of an organisation's CA service: register, enroll, reenroll, revoke, CRL, list.

The key of an enrolling identity is made here, on the caller's side (or in its PKCS#11 token): only
a CSR signed by it travels, so the CA never sees a private key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.message import Message

from careledger.gateway.config import new_update
from careledger.gateway.config import revoke as revoke_in_config
from careledger.gateway.errors import GatewayError
from careledger.gateway.identity import Identity, Signer, sha256
from careledger.network.identity.certs import ATTRIBUTES_OID, CERT_FILE, encode_attributes, write_pair
from careledger.network.identity.hsm import TokenKeyRef
from careledger.network.identity.tls import TLS_DIR
from careledger.protos import ca_pb2, ca_pb2_grpc, common_pb2, config_pb2

_Request = TypeVar("_Request", bound=Message)
_Response = TypeVar("_Response", bound=Message)

DEFAULT_TIMEOUT = 10.0


class CAError(GatewayError):
    """The CA refused or could not answer a call; `code` is its gRPC status, `stage` the call."""


@dataclass(frozen=True)
class Registered:
    """A registration: the name (made by the CA for a patient) and its one-time secret."""

    name: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Enrolment:
    """A certificate the CA issued for the caller's key, with the CA certificate that verifies it."""

    certificate: bytes
    ca_certificate: bytes
    serial: str
    tls_certificate: bytes = b""  # when enroll was given a tls_key


@dataclass(frozen=True)
class Revoked:
    """A certificate revoked by a call, by serial."""

    serial: str
    name: str
    reason: str
    revoked_at: datetime


@dataclass(frozen=True)
class Revocation:
    """What revoke did: the certificates newly revoked and the CA's CRL after it (PEM)."""

    revoked: list[Revoked]
    crl: bytes


@dataclass(frozen=True)
class IssuedCertificate:
    serial: str
    not_before: datetime
    not_after: datetime
    revocation_reason: str


@dataclass(frozen=True)
class RegistrationInfo:
    """One registration as `list` shows it to an admin."""

    name: str
    role: str
    attributes: dict[str, str]
    registered_by: str
    registered_at: datetime
    state: str
    certificates: list[IssuedCertificate]


def new_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key, the only kind the ledger verifies."""
    return ec.generate_private_key(ec.SECP256R1())


def certificate_request(name: str, key: ec.EllipticCurvePrivateKey,
                        attributes: Mapping[str, str] | None = None) -> bytes:
    """A PEM CSR for `name`, signed by `key` (which may live in a PKCS#11 token); `attributes`
    asks for certificate attributes, which must match the registration's."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
    if attributes:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ATTRIBUTES_OID, encode_attributes(attributes)), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class CAClient:
    """A connection to one org's CA service over TLS (trusting `tls_root_certificate`, the org's
    CA certificate). Register, reenroll, revoke and list sign with `identity` and `signer`."""

    def __init__(self, address: str, tls_root_certificate: bytes, *, identity: Identity | None = None,
                 signer: Signer | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self._identity = identity
        self._signer = signer
        self._timeout = timeout
        self._channel = grpc.secure_channel(
            address, grpc.ssl_channel_credentials(root_certificates=tls_root_certificate))
        self._stub = ca_pb2_grpc.CertificateAuthorityStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CAClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(self, name: str = "", role: str = "client",
                 attributes: Mapping[str, str] | None = None) -> Registered:
        """Register `name` (leave it out for a patient, role=patient: the CA makes a pseudonym);
        the caller must be an org admin or a registrar allowed to grant role and attributes."""
        request = ca_pb2.RegisterRequest(name=name, role=role, attributes=dict(attributes or {}))
        response = self._call("Register", self._stub.Register, self._signed(register=request))
        return Registered(response.name, response.secret)

    def reset_secret(self, name: str) -> Registered:
        """A new one-time secret for registration `name`, not enrolled yet (its secret lost, or
        locked after too many wrong ones); its role and attributes stay. The caller must be an org
        admin or a registrar allowed to grant them."""
        request = ca_pb2.RegisterRequest(name=name, reset=True)
        response = self._call("Register", self._stub.Register, self._signed(register=request))
        return Registered(response.name, response.secret)

    def enroll(self, name: str, secret: str, key: ec.EllipticCurvePrivateKey,
               attributes: Mapping[str, str] | None = None,
               tls_key: ec.EllipticCurvePrivateKey | None = None) -> Enrolment:
        """Get a certificate for `key` with the registration's secret, which then stops working.
        With `tls_key`, also a TLS-only certificate for it: for a `key` in a PKCS#11 token, which
        gRPC's TLS cannot use."""
        request = ca_pb2.EnrollRequest(
            name=name, secret=secret, csr=certificate_request(name, key, attributes),
            tls_csr=certificate_request(name, tls_key) if tls_key is not None else b"")
        return _enrolment(self._call("Enroll", self._stub.Enroll, request))

    def reenroll(self, key: ec.EllipticCurvePrivateKey) -> Enrolment:
        """A new certificate (same name, role, attributes) for `key`, signed for by the current,
        unexpired and unrevoked identity."""
        name = x509.load_pem_x509_certificate(self._me().certificate).subject.get_attributes_for_oid(
            NameOID.COMMON_NAME)[0].value
        request = ca_pb2.ReenrollRequest(csr=certificate_request(str(name), key))
        return _enrolment(self._call("Reenroll", self._stub.Reenroll, self._signed(reenroll=request)))

    def revoke(self, *, name: str = "", serials: Iterable[str] = (), certificate: bytes = b"",
               reason: str = "unspecified") -> Revocation:
        """Revoke every certificate of registration `name`, or these serials, or this certificate,
        with an RFC 5280 reason (keyCompromise, affiliationChanged, superseded, ...); org admins only."""
        request = ca_pb2.RevokeRequest(name=name, serials=list(serials), certificate=certificate,
                                       reason=reason)
        response = self._call("Revoke", self._stub.Revoke, self._signed(revoke=request))
        return Revocation([Revoked(r.serial, r.name, r.reason, r.revoked_at.ToDatetime(UTC))
                           for r in response.revoked], response.crl)

    def crl(self) -> bytes:
        """The CA's revocation list now, PEM, signed by the org's CA."""
        response: ca_pb2.CRLResponse = self._call("GetCRL", self._stub.GetCRL, ca_pb2.CRLRequest())
        return response.crl

    def list(self) -> list[RegistrationInfo]:
        """Every registration with its certificates; org admins only."""
        response = self._call("List", self._stub.List, self._signed(list=ca_pb2.ListRequest()))
        return [RegistrationInfo(
            r.name, r.role, dict(r.attributes), r.registered_by, r.registered_at.ToDatetime(UTC), r.state,
            [IssuedCertificate(c.serial, c.not_before.ToDatetime(UTC), c.not_after.ToDatetime(UTC),
                               c.revocation_reason) for c in r.certificates])
            for r in response.registrations]

    def _me(self) -> Identity:
        if self._identity is None or self._signer is None:
            raise ValueError("this CA call is signed: create the CAClient with identity= and signer=")
        return self._identity

    def _signed(self, **operation: object) -> common_pb2.Signed:
        request = ca_pb2.CARequest(creator=self._me().certificate, **operation)  # type: ignore[arg-type]
        request.timestamp.FromDatetime(datetime.now(UTC))
        payload = request.SerializeToString()
        assert self._signer is not None
        return common_pb2.Signed(payload=payload, signature=self._signer(sha256(payload)))

    def _call(self, stage: str, method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
              request: _Request) -> _Response:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as err:
            code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
            details = err.details() if isinstance(err, grpc.Call) else str(err)
            raise CAError(details or f"CA at {self.address} did not answer", code=code,
                          stage=f"CA {stage}") from err


def write_identity(folder: Path, key: ec.EllipticCurvePrivateKey, enrolment: Enrolment) -> Path:
    """Write key.pem (mode 0600) and cert.pem into `folder`, the layout of crypto/ORG/NAME, so the
    CLI's --as and connect_local can use the identity."""
    write_pair(Path(folder), key, x509.load_pem_x509_certificate(enrolment.certificate))
    return Path(folder)


def revocation_update(current: config_pb2.ChannelConfig, org: str,
                      crl_pem: bytes) -> config_pb2.SignedConfigUpdate | None:
    """An unsigned channel configuration update putting on the ledger every serial that `org`'s
    CRL lists and the configuration in force does not (None when there is none). Once enough
    admins sign it and it commits, every node refuses those certificates. The CRL must verify
    with the org's CA certificate as the configuration holds it."""
    found = next((o for o in current.orgs if o.name == org), None)
    if found is None:
        raise ValueError(f"organisation {org} is not in the channel configuration")
    crl = x509.load_pem_x509_crl(crl_pem)
    ca_key = x509.load_pem_x509_certificate(found.ca_cert).public_key()
    if not isinstance(ca_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(ca_key):
        raise ValueError(f"the CRL is not signed by the CA of {org} in the channel configuration")
    new = current
    for entry in crl:
        if format(entry.serial_number, "x") not in found.revoked_serials:
            new = revoke_in_config(new, org, format(entry.serial_number, "x"))
    return None if new is current else new_update(current, new)


def write_token_identity(folder: Path, ref: TokenKeyRef, enrolment: Enrolment,
                         tls_key: ec.EllipticCurvePrivateKey) -> Path:
    """An identity folder whose signing key stays in a PKCS#11 token: cert.pem, key.pkcs11 (which
    token and label; no PIN) and tls/ with the TLS pair (key.pem 0600), read by --as and
    connect_local like any identity folder."""
    folder = Path(folder)
    if not enrolment.tls_certificate:
        raise ValueError("the enrolment carries no TLS certificate: enroll with tls_key=")
    write_pair(folder / TLS_DIR, tls_key, x509.load_pem_x509_certificate(enrolment.tls_certificate))
    ref.save(folder)
    (folder / CERT_FILE).write_bytes(enrolment.certificate)
    return folder


def _enrolment(response: ca_pb2.EnrollResponse) -> Enrolment:
    return Enrolment(response.certificate, response.ca_certificate, response.serial,
                     response.tls_certificate)
