"""Who belongs to a channel: the org CAs, and turning a creator certificate into a trusted Identity.

Every message a node receives carries its creator's certificate; Membership decides whether that
certificate was issued by one of the channel's org CAs and whether a signature is really its own.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from careledger.network.identity.certs import CA_DIR, CERT_FILE, ROLES, certificate_attributes
from careledger.network.identity.errors import (
    BadSignatureError,
    ExpiredIdentityError,
    IdentityError,
    UnknownIdentityError,
)
from careledger.network.identity.signing import Signer, subject_field

__all__ = [
    "BadSignatureError",
    "ExpiredIdentityError",
    "Identity",
    "IdentityError",
    "Membership",
    "UnknownIdentityError",
    "serial_hex",
]

CACHE_SIZE = 4096
# Signatures verified lately, by any Membership of this process: a peer checks the same envelope
# signature in its gateway's Submit (the live member Membership) and again when it validates the
# block that holds it (the Membership of the configuration in force read from state, another object).
SIGNATURE_CACHE_SIZE = 4096
# (certificate, SHA-256 of the signed bytes, signature, prehashed): the certificate's public key
# verified that signature over those bytes. Only successes, and only that mathematical fact, which no
# configuration changes: whether the certificate is trusted (issuer, revocation, validity at a
# time) is judged by each Membership on every call, before this cache is consulted.
_SIGNATURES: OrderedDict[tuple[bytes, bytes, bytes, bool], None] = OrderedDict()
_SIGNATURES_LOCK = threading.Lock()
# built once, not per check (it holds no state). ECDSA over SHA-256(data) is ECDSA over the digest,
# which the cache key computes anyway: verify never hashes the data a second time.
_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))


def remember_own_signature(signer: Signer, data: bytes, signature: bytes) -> None:
    """Note a signature this process just made over `data`, so that validating it later (a peer
    validating its own endorsement) skips the ECDSA check. Only for a signer whose key is the one
    its certificate names (`signing.key_matches`), or every other peer would judge it otherwise."""
    _remember((signer.cert_pem, hashlib.sha256(data).digest(), signature, False))


def _remember(key: tuple[bytes, bytes, bytes, bool]) -> None:
    with _SIGNATURES_LOCK:
        _SIGNATURES[key] = None
        while len(_SIGNATURES) > SIGNATURE_CACHE_SIZE:
            _SIGNATURES.popitem(last=False)


def forget_signatures() -> None:
    """Forget every verified signature (a benchmark measuring first checks; tests)."""
    with _SIGNATURES_LOCK:
        _SIGNATURES.clear()


@dataclass(frozen=True)
class Identity:
    """A certificate that a channel org's CA issued, with the facts policies and contracts use."""

    org: str
    name: str
    role: str
    attributes: Mapping[str, str] = field(hash=False)
    cert_pem: bytes = field(repr=False)
    not_before: datetime
    not_after: datetime

    @property
    def id(self) -> str:
        """Unique within a channel: "org/name"."""
        return f"{self.org}/{self.name}"


@dataclass(frozen=True)
class _Verified:
    identity: Identity
    public_key: ec.EllipticCurvePublicKey


class Membership:
    """The CAs of a channel's orgs; thread-safe, so one instance serves all of a node's RPCs."""

    def __init__(self, cas: Mapping[str, bytes],
                 revoked: Mapping[str, Iterable[str]] | None = None) -> None:
        """Trust the CAs in `cas` (org -> PEM), except the certificates whose hex serials an org
        lists in `revoked` (org -> serials, as `serial_hex` writes them)."""
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, _Verified] = OrderedDict()
        self._generation = 0
        self.update(cas, revoked)

    def update(self, cas: Mapping[str, bytes],
               revoked: Mapping[str, Iterable[str]] | None = None) -> None:
        """Trust these CAs and revocations from now on, in place: every service holding this
        Membership follows a channel configuration update without being rebuilt."""
        loaded = {org: _load_ca_cert(org, pem) for org, pem in cas.items()}
        with self._lock:
            self._cas: dict[str, x509.Certificate] = loaded
            self._ca_pems = {org: bytes(pem) for org, pem in cas.items()}
            self._revoked = {org: frozenset(s.lower() for s in serials)
                             for org, serials in (revoked or {}).items()}
            self.orgs: frozenset[str] = frozenset(loaded)
            self._cache.clear()
            self._generation += 1  # a judgement under the old CAs and revocations is not cached

    @classmethod
    def from_crypto_dir(cls, crypto_dir: Path, orgs: Iterable[str] | None = None) -> Membership:
        """Trust the CAs under `<crypto_dir>/<org>/ca`; all orgs found there when `orgs` is None."""
        crypto_dir = Path(crypto_dir)
        if orgs is None:
            orgs = sorted(
                p.name for p in crypto_dir.iterdir() if (p / CA_DIR / CERT_FILE).is_file()
            )
        cas: dict[str, bytes] = {}
        for org in orgs:
            path = crypto_dir / org / CA_DIR / CERT_FILE
            try:
                cas[org] = path.read_bytes()
            except OSError as exc:
                raise IdentityError(
                    f"org {org!r} has no CA certificate at {path}; run generate_org for it"
                ) from exc
        return cls(cas)

    def ca_pems(self) -> list[bytes]:
        """The CA certificates in org order, e.g. as TLS roots for node-to-node connections."""
        return [self._ca_pems[org] for org in sorted(self._ca_pems)]

    def identity(self, cert_pem: bytes, at: datetime | None = None) -> Identity:
        """The Identity behind `cert_pem` if a channel org's CA issued it and it is valid at `at`."""
        return self._current(cert_pem, at).identity

    def verify(self, cert_pem: bytes, data: bytes, signature: bytes, at: datetime | None = None) -> Identity:
        """The signer's Identity if `signature` is its ECDSA signature over SHA-256(data) and the
        certificate is valid at `at` (default: now; a committer passes its block's time)."""
        return self._check(cert_pem, data, signature, False, at)

    def verify_digest(self, cert_pem: bytes, digest: bytes, signature: bytes) -> Identity:
        """Like verify, for a signature over an already computed SHA-256 digest."""
        return self._check(cert_pem, digest, signature, True)

    def _check(
        self, cert_pem: bytes, payload: bytes, signature: bytes, prehashed: bool,
        at: datetime | None = None,
    ) -> Identity:
        """The certificate is judged (cached) and its validity at `at` checked on every call; the
        ECDSA check is skipped for a signature this process verified with the same certificate."""
        verified = self._current(cert_pem, at)
        identity = verified.identity
        signed = hashlib.sha256(payload).digest()  # names what was signed; verified as is
        # the cached certificate's bytes: entries share them
        key = (identity.cert_pem, signed, bytes(signature), prehashed)
        with _SIGNATURES_LOCK:
            if key in _SIGNATURES:
                _SIGNATURES.move_to_end(key)
                return identity
        try:
            verified.public_key.verify(signature, payload if prehashed else signed, _PREHASHED)
        except (InvalidSignature, ValueError) as exc:
            raise BadSignatureError(
                f"signature does not verify for identity {identity.id}; the data was changed or "
                "signed with another key"
            ) from exc
        _remember(key)
        return identity

    def _current(self, cert_pem: bytes, at: datetime | None) -> _Verified:
        """Verified once per certificate, but the validity period is checked on every call."""
        verified = self._verified(cert_pem)
        identity = verified.identity
        when = _aware(at) if at is not None else datetime.now(UTC)
        if not identity.not_before <= when <= identity.not_after:
            raise ExpiredIdentityError(
                f"identity {identity.id} is valid from {identity.not_before.isoformat()} to "
                f"{identity.not_after.isoformat()}, not at {when.isoformat()}; reissue it"
            )
        return verified

    def _verified(self, cert_pem: bytes) -> _Verified:
        """Parse and chain-check once per distinct certificate; later calls hit the LRU cache."""
        key = bytes(cert_pem)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            cas, revoked, generation = self._cas, self._revoked, self._generation
        verified = self._parse(key, cas, revoked)
        with self._lock:
            # judged by CAs and revocations an update replaced meanwhile: not cached, or a
            # certificate revoked by that update would pass until evicted
            if generation == self._generation:
                self._cache[key] = verified
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return verified

    def _parse(self, cert_pem: bytes, cas: Mapping[str, x509.Certificate],
               revoked: Mapping[str, frozenset[str]]) -> _Verified:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise UnknownIdentityError(
                f"creator is not a PEM X.509 certificate ({exc}); send the identity's cert.pem"
            ) from exc
        subject = cert.subject.rfc4514_string()
        try:
            org = subject_field(cert, NameOID.ORGANIZATION_NAME)
            name = subject_field(cert, NameOID.COMMON_NAME)
            role = subject_field(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
            attributes = certificate_attributes(cert)
        except IdentityError as exc:
            raise UnknownIdentityError(str(exc)) from exc
        ca = cas.get(org)
        if ca is None:
            raise UnknownIdentityError(
                f"identity {subject!r}: org {org!r} is not a member (members: "
                f"{sorted(self.orgs)}); use an identity of a channel org"
            )
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise UnknownIdentityError(
                f"identity {subject!r} was not issued by the CA of org {org!r}; it may come from "
                "another network's CA with the same org name"
            ) from exc
        if serial_hex(cert) in revoked.get(org, ()):
            raise UnknownIdentityError(
                f"identity {org}/{name} (serial {serial_hex(cert)}) was revoked by org {org!r}; "
                "ask its admin for a new certificate"
            )
        public_key = cert.public_key()
        if role not in ROLES or _is_ca(cert) or not isinstance(
            public_key, ec.EllipticCurvePublicKey
        ):
            raise UnknownIdentityError(
                f"identity {subject!r} is not a signing identity (role {role!r}, CA or non-ECDSA "
                "key); use a peer, orderer, admin or client certificate"
            )
        identity = Identity(
            org=org,
            name=name,
            role=role,
            attributes=MappingProxyType(attributes),
            cert_pem=cert_pem,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
        return _Verified(identity, public_key)


def serial_hex(cert: x509.Certificate) -> str:
    """A certificate's serial as revocation lists name it: lowercase hex, no leading zeros."""
    return f"{cert.serial_number:x}"


def _load_ca_cert(org: str, pem: bytes) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"CA certificate of org {org!r} is not PEM X.509: {exc}") from exc
    if not _is_ca(cert):
        raise IdentityError(f"CA certificate of org {org!r} lacks BasicConstraints ca=True")
    if subject_field(cert, NameOID.ORGANIZATION_NAME) != org:
        raise IdentityError(
            f"CA certificate given for org {org!r} names org "
            f"{subject_field(cert, NameOID.ORGANIZATION_NAME)!r}; check the channel config"
        )
    return cert


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _aware(at: datetime) -> datetime:
    """Naive datetimes are taken as UTC, the zone certificates use."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
