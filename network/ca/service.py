"""The CA's gRPC service: register, enrol, reenrol, revoke, CRL and list for one organisation.

Enrol is the only call without a signature (the person has no certificate yet): the one-time secret
authenticates it. Every other call but GetCRL is a CARequest inside Signed, checked by the same
signed-request code the nodes use, against this org's CA only, and refused if the signer's
certificate is revoked here.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from careledger.network.ca import registrar
from careledger.network.ca.store import (
    MAX_FAILED_ENROLMENTS,
    CAStore,
    IssuedCertificate,
    Registration,
    StoreError,
    serial_hex,
)
from careledger.network.identity.certs import (
    PSEUDONYM,
    TLS_ROLE,
    IdentitySpec,
    certificate_attributes,
    check_spec,
    issue_certificate,
    new_pseudonym,
)
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Identity, Membership
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.protos import ca_pb2, ca_pb2_grpc, common_pb2

log = logging.getLogger(__name__)

# How far a signed request's time may lie from the CA's clock: a captured request is useless later.
CLOCK_SKEW = timedelta(minutes=5)
CRL_VALIDITY = timedelta(days=1)  # a relying party fetches a fresh CRL at least daily

# RFC 5280 CRLReason names, as `revoke --reason` takes them (removeFromCRL is for delta CRLs only).
REASONS = {flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl}

INVALID = grpc.StatusCode.INVALID_ARGUMENT
DENIED = grpc.StatusCode.PERMISSION_DENIED


class CAService(ca_pb2_grpc.CertificateAuthorityServicer):
    """The servicer; `now` is injectable so tests can judge expiry and CRL dates."""

    def __init__(self, org: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], store: CAStore,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.org = org
        self._ca = ca
        self._ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
        self._membership = Membership({org: self._ca_pem})
        self._store = store
        self._now = now

    # --- the calls ----------------------------------------------------------------------------

    @unary
    def Register(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> ca_pb2.RegisterResponse:
        req, caller = self._open(request, "register")
        reg = req.register
        if reg.reset:
            return self._reset(reg, caller)
        attributes = dict(reg.attributes)
        name = reg.name
        if attributes.get("role") == "patient":  # a patient's name on the ledger is a pseudonym
            name = name or new_pseudonym()
            if not PSEUDONYM.fullmatch(name):
                raise RequestError(INVALID, f"name {name!r} would put a patient's name on the ledger: "
                                            "a patient's identity is a pseudonym like pt-7f3a9c21e4b0; "
                                            "leave the name out and the CA makes one")
        if not name:
            raise RequestError(INVALID, "register needs a name (only a patient's is made by the CA)")
        why = registrar.refusal(caller.id, caller.role, caller.attributes, reg.role, attributes)
        if why:
            raise RequestError(DENIED, f"registration of {self.org}/{name} refused: {why}")
        try:  # the name must make a certificate later, so it is checked now
            check_spec(self.org, IdentitySpec(name, reg.role, attributes))
        except IdentityError as exc:
            raise RequestError(INVALID, f"registration of {self.org}/{name} refused: {exc}") from exc
        secret = _new_secret()
        try:
            self._store.register(name, reg.role, attributes, caller.id, secret, self._now())
        except StoreError as exc:
            raise RequestError(grpc.StatusCode.ALREADY_EXISTS,
                               f"registration of {self.org}/{name} refused: {exc}") from exc
        log.info("%s registered %s/%s (role %s, attributes %s)", caller.id, self.org, name, reg.role,
                 attributes)
        return ca_pb2.RegisterResponse(name=name, secret=secret)

    @unary
    def Enroll(self, request: ca_pb2.EnrollRequest, context: grpc.ServicerContext) -> ca_pb2.EnrollResponse:
        who = f"{self.org}/{request.name}"
        registration = self._store.registration(request.name)
        if registration is not None and registration.state == "locked":  # even with the right secret
            raise self._locked(who, request.name)
        if registration is None or not self._store.secret_matches(request.name, request.secret):
            if self._store.enrol_failed(request.name) >= MAX_FAILED_ENROLMENTS:
                raise self._locked(who, request.name)
            raise RequestError(grpc.StatusCode.UNAUTHENTICATED,
                               f"enrolment of {who} refused: unknown name or wrong secret; check both "
                               "with the registrar who registered you")
        if registration.secret_used_at is not None or registration.state != "registered":
            used = registration.secret_used_at.isoformat() if registration.secret_used_at else "before"
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"enrolment of {who} refused: its secret was already used ({used}); a "
                               "secret works once: reenroll with your current certificate, or ask the "
                               "registrar for a new registration")
        cert = self._issue(registration, request.csr, f"enrolment of {who}")
        tls = (self._issue(registration, request.tls_csr, f"enrolment of {who} (TLS CSR)", tls=True)
               if request.tls_csr else None)
        try:
            self._store.enrol(request.name, request.secret, [cert, *([tls] if tls else [])], self._now())
        except StoreError as exc:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"enrolment of {who} refused: {exc}") from exc
        log.info("enrolled %s, serial %s", who, serial_hex(cert.serial_number))
        response = self._issued(cert)
        if tls is not None:
            response.tls_certificate = tls.public_bytes(serialization.Encoding.PEM)
        return response

    @unary
    def Reenroll(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> ca_pb2.EnrollResponse:
        req, caller = self._open(request, "reenroll")
        registration = self._store.registration(caller.name)
        if registration is None or registration.state == "revoked":
            state = "revoked" if registration else "not registered with this CA"
            raise RequestError(DENIED, f"reenrolment of {caller.id} refused: the identity is {state}; "
                                       f"ask a registrar of {self.org} for a new registration")
        serial = serial_hex(x509.load_pem_x509_certificate(caller.cert_pem).serial_number)
        issued = self._store.certificate(serial)
        if issued is None or issued.name != caller.name:  # e.g. one `crypto issue` made with this name
            raise RequestError(DENIED, f"reenrolment of {caller.id} refused: its certificate (serial "
                                       f"{serial}) was not issued by this CA service for that registration; "
                                       "only a certificate enrolled here renews it")
        cert = self._issue(registration, req.reenroll.csr, f"reenrolment of {caller.id}")
        self._store.add_certificate(caller.name, cert)
        log.info("reenrolled %s, serial %s", caller.id, serial_hex(cert.serial_number))
        return self._issued(cert)

    @unary
    def Revoke(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> ca_pb2.RevokeResponse:
        req, caller = self._open(request, "revoke")
        rev = req.revoke
        if caller.role != "admin":
            raise RequestError(DENIED, f"revoke refused: {caller.id} is not an admin of {self.org}; only "
                                       "an org admin revokes certificates")
        reason = rev.reason or x509.ReasonFlags.unspecified.value
        if reason not in REASONS:
            raise RequestError(INVALID, f"revoke refused: reason {reason!r} is not an RFC 5280 reason; "
                                        f"use one of {', '.join(sorted(REASONS))}")
        serials, registration = self._revocation_targets(rev)
        revoked = self._store.revoke(serials, reason, self._now(), registration)
        log.info("%s revoked %s (%s)", caller.id, [c.serial for c in revoked], reason)
        return ca_pb2.RevokeResponse(revoked=[_revoked_message(c) for c in revoked], crl=self.crl_pem())

    @unary
    def GetCRL(self, request: ca_pb2.CRLRequest, context: grpc.ServicerContext) -> ca_pb2.CRLResponse:
        return ca_pb2.CRLResponse(crl=self.crl_pem())

    @unary
    def List(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> ca_pb2.ListResponse:
        _, caller = self._open(request, "list")
        if caller.role != "admin":
            raise RequestError(DENIED, f"list refused: {caller.id} is not an admin of {self.org}")
        return ca_pb2.ListResponse(registrations=[_registration_message(r)
                                                  for r in self._store.registrations()])

    # --- the pieces ---------------------------------------------------------------------------

    def _reset(self, reg: ca_pb2.RegisterRequest, caller: Identity) -> ca_pb2.RegisterResponse:
        """A new secret for a registration not enrolled yet. Its role and attributes stay, and the
        caller must be allowed to register exactly those, so a reset grants nothing a new
        registration would not."""
        who = f"{self.org}/{reg.name}"
        if reg.role or reg.attributes:
            raise RequestError(INVALID, f"reset of {who} refused: a reset keeps the registration's role "
                                        "and attributes; send only the name")
        found = self._store.registration(reg.name)
        if found is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"reset of {who} refused: no such registration "
                                                          "at this CA; register it")
        why = registrar.refusal(caller.id, caller.role, caller.attributes, found.role, dict(found.attributes))
        if why:
            raise RequestError(DENIED, f"reset of {who} refused: {why}")
        secret = _new_secret()
        try:
            self._store.reset_secret(reg.name, secret)
        except StoreError as exc:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"reset of {who} refused: {exc}; reenroll with its certificate, or revoke "
                               "it and register a new name") from exc
        log.info("%s reset the secret of %s (was %s)", caller.id, who, found.state)
        return ca_pb2.RegisterResponse(name=reg.name, secret=secret)

    def _locked(self, who: str, name: str) -> RequestError:
        return RequestError(DENIED, f"enrolment of {who} refused: the registration is locked after "
                                    f"{MAX_FAILED_ENROLMENTS} wrong secrets, so even the right one no "
                                    f"longer works; an admin or registrar of {self.org} gives it a new "
                                    f"secret with `careledger identity register {name} --reset`")

    def crl_pem(self) -> bytes:
        """The CA's CRL now: every revoked certificate, signed by the org's CA key."""
        ca_cert, ca_key = self._ca
        now = self._now()
        revoked = self._store.revoked()
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(ca_cert.subject)
                   .last_update(now)
                   .next_update(now + CRL_VALIDITY)
                   # the number only grows, because revocations are never taken back
                   .add_extension(x509.CRLNumber(len(revoked)), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        for entry in revoked:
            assert entry.revoked_at is not None
            item = (x509.RevokedCertificateBuilder()
                    .serial_number(int(entry.serial, 16))
                    .revocation_date(entry.revoked_at))
            if entry.reason != x509.ReasonFlags.unspecified.value:
                item = item.add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
            builder = builder.add_revoked_certificate(item.build())
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def _open(self, signed: common_pb2.Signed, operation: str) -> tuple[ca_pb2.CARequest, Identity]:
        """The verified request and caller: signed by an unexpired, unrevoked certificate of this
        org, recently, for this operation."""
        try:
            req, caller = open_signed(signed, ca_pb2.CARequest, self._membership)
        except RequestError as exc:
            raise RequestError(exc.code, f"{operation} refused: {exc.message}") from exc
        if req.WhichOneof("operation") != operation:
            raise RequestError(INVALID, f"{operation} refused: the signed request carries "
                                        f"{req.WhichOneof('operation') or 'no operation'}")
        now = self._now()
        if not req.HasField("timestamp") or abs(req.timestamp.ToDatetime(UTC) - now) > CLOCK_SKEW:
            when = req.timestamp.ToDatetime(UTC).isoformat() if req.HasField("timestamp") else "none"
            raise RequestError(INVALID, f"{operation} refused: the request's time ({when}) is more than "
                                        f"{CLOCK_SKEW} from the CA's {now.isoformat()}; check the clock")
        cert = x509.load_pem_x509_certificate(caller.cert_pem)
        entry = self._store.certificate(serial_hex(cert.serial_number))
        if entry is not None and entry.revoked_at is not None:
            raise RequestError(DENIED, f"{operation} refused: the certificate of {caller.id} (serial "
                                       f"{entry.serial}) was revoked on {entry.revoked_at.isoformat()} "
                                       f"({entry.reason}); ask an admin of {self.org} for a new identity")
        return req, caller

    def _issue(self, registration: Registration, csr_bytes: bytes, what: str,
               tls: bool = False) -> x509.Certificate:
        """The certificate for a checked CSR: the registration's name, role and attributes (with
        `tls`, a TLS-only certificate for the name: role tls, no attributes, never a signer)."""
        csr = _load_csr(csr_bytes, what)
        if not csr.is_signature_valid:
            raise RequestError(INVALID, f"{what} refused: the CSR's signature does not verify; it must be "
                                        "signed by the key it carries")
        names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if names != [registration.name]:
            raise RequestError(DENIED, f"{what} refused: the CSR is for CN {', '.join(names) or 'none'}, "
                                       f"not the registered name {registration.name!r}")
        try:
            asked = certificate_attributes(csr)
        except IdentityError as exc:
            raise RequestError(INVALID, f"{what} refused: {exc}") from exc
        extra = {k: v for k, v in asked.items() if registration.attributes.get(k) != v}
        if extra:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(extra.items()))
            raise RequestError(DENIED, f"{what} refused: the CSR asks for {shown}, which the registration "
                                       "does not allow; ask the registrar to register them")
        spec = (IdentitySpec(registration.name, TLS_ROLE) if tls else
                IdentitySpec(registration.name, registration.role, dict(registration.attributes)))
        try:
            return issue_certificate(self._ca, self.org, spec, csr.public_key())
        except IdentityError as exc:
            raise RequestError(INVALID, f"{what} refused: {exc}") from exc

    def _issued(self, cert: x509.Certificate) -> ca_pb2.EnrollResponse:
        return ca_pb2.EnrollResponse(certificate=cert.public_bytes(serialization.Encoding.PEM),
                                     ca_certificate=self._ca_pem, serial=serial_hex(cert.serial_number))

    def _revocation_targets(self, rev: ca_pb2.RevokeRequest) -> tuple[list[str], str | None]:
        """The serials a revoke names (by name, serials or certificate) and the registration it ends."""
        serials: list[str] = []
        registration = None
        if rev.name:
            found = self._store.registration(rev.name)
            if found is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"revoke refused: no registration "
                                                              f"{self.org}/{rev.name} at this CA")
            serials += [c.serial for c in found.certificates]
            registration = rev.name
        for serial in rev.serials:
            serial = serial.lower().removeprefix("0x").replace(":", "")
            if self._store.certificate(serial) is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"revoke refused: this CA issued no "
                                                              f"certificate with serial {serial}")
            serials.append(serial)
        if rev.certificate:
            serials.append(self._external(rev.certificate))
        if not serials and registration is None:
            raise RequestError(INVALID, "revoke refused: name no registration, serial or certificate")
        return serials, registration

    def _external(self, pem: bytes) -> str:
        """Record a certificate of this CA issued outside the service (`crypto issue`), to revoke it."""
        try:
            cert = x509.load_pem_x509_certificate(pem)
            identity = self._membership.identity(pem, at=cert.not_valid_before_utc)
        except (ValueError, IdentityError) as exc:
            raise RequestError(INVALID, f"revoke refused: the certificate is not one of {self.org}'s "
                                        f"CA: {exc}") from exc
        self._store.add_certificate(identity.name, cert)
        return serial_hex(cert.serial_number)


def _new_secret() -> str:
    """A one-time enrolment secret: 192 random bits."""
    return secrets.token_urlsafe(24)


def _load_csr(data: bytes, what: str) -> x509.CertificateSigningRequest:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise RequestError(INVALID, f"{what} refused: malformed CSR, not a PEM or DER PKCS#10 request "
                                    f"({exc})") from exc


def _revoked_message(entry: IssuedCertificate) -> ca_pb2.RevokedCertificate:
    msg = ca_pb2.RevokedCertificate(serial=entry.serial, name=entry.name, reason=entry.reason)
    if entry.revoked_at is not None:
        msg.revoked_at.FromDatetime(entry.revoked_at)
    return msg


def _registration_message(reg: Registration) -> ca_pb2.Registration:
    msg = ca_pb2.Registration(name=reg.name, role=reg.role, attributes=dict(reg.attributes),
                              registered_by=reg.registered_by, state=reg.state)
    msg.registered_at.FromDatetime(reg.registered_at)
    for cert in reg.certificates:
        item = msg.certificates.add(serial=cert.serial, revocation_reason=cert.reason)
        item.not_before.FromDatetime(cert.not_before)
        item.not_after.FromDatetime(cert.not_after)
    return msg
