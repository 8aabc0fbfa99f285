"""W3C Verifiable Credentials 2.0 secured as VC-JOSE compact JWS (ES256), checkable off-line.

A licence leaves the ledger as a signed document so that a verifier who holds only the board CA's
certificate can check it without network access: the signer's certificate travels in the JWS
header (x5c), Membership decides whether the board's CA issued it, and a signed Bitstring Status
List credential says whether the licence has since been revoked or suspended.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from careledger.network.identity.certs import certificate_attributes
from careledger.network.identity.errors import ExpiredIdentityError, IdentityError
from careledger.network.identity.membership import Identity, Membership
from careledger.network.identity.signing import Signer, subject_field

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ALG = "ES256"
TYP = "vc+jwt"  # media type application/vc+jwt (VC-JOSE-COSE, section 3.1)
CTY = "vc"
ISSUER_PREFIX = "urn:careledger:org:"
ISSUER_ROLE = "registrar"  # the attribute role an identity needs to sign for its org
MIN_STATUS_BITS = 131_072  # 16 KiB: the Bitstring Status List minimum, for group privacy
MAX_STATUS_BYTES = 16 * 1024 * 1024  # refuse to inflate more than this (compression bombs)
_COORDINATE = 32  # bytes of r and of s in a P-256 signature
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")

Document = dict[str, Any]


class Failure(StrEnum):
    """Why a credential did not verify; the value is what the CLI prints."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad signature"
    UNKNOWN_ISSUER = "unknown issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class VerificationError(IdentityError):
    """A credential or status list failed one check; `failure` names which."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(f"{failure}: {message}")
        self.failure = failure
        self.detail = message


@dataclass(frozen=True)
class SignedDocument:
    """A JWS whose signature and signer were checked: the document and who signed it."""

    document: Document
    signer: Identity
    header: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class StatusCheck:
    """The status list entry that was checked and the list's own issue time."""

    purpose: str
    list_id: str
    index: int
    list_valid_from: str | None


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential that passed every check, as of `checked_at`."""

    credential: Document
    signer: Identity
    checked_at: datetime
    status: StatusCheck | None = None


# --- issuing ---------------------------------------------------------------------------------


def issue_credential(document: Mapping[str, Any], signer: Signer) -> str:
    """Secure a VC 2.0 document with `signer`'s key as a compact JWS (application/vc+jwt).

    Refuses a document that is not a VC 2.0 credential or names another issuer than the
    signer's org, so a wrong --as fails here rather than at every verifier.
    """
    doc = dict(document)
    try:
        _check_credential_shape(doc)
    except VerificationError as exc:
        raise IdentityError(f"cannot sign: {exc}") from exc
    cert = _load_cert(signer.cert_pem)
    _check_signer(cert, signer.id, signer.org, doc["issuer"], IdentityError)
    header = {
        "alg": ALG,
        "typ": TYP,
        "cty": CTY,
        "kid": signer.id,
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    signing_input = f"{_b64(_json(header))}.{_b64(_json(doc))}"
    return f"{signing_input}.{_b64(_raw_signature(signer.sign(signing_input.encode())))}"


def status_list_credential(
    list_id: str,
    purpose: str,
    indices: Iterable[int],
    issuer: str,
    valid_from: datetime,
    length: int = MIN_STATUS_BITS,
) -> Document:
    """An unsigned BitstringStatusListCredential with the bits at `indices` set."""
    return {
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": _iso(valid_from),
        "credentialSubject": {
            "id": f"{list_id}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_bitstring(indices, length),
        },
    }


def encode_bitstring(indices: Iterable[int], length: int = MIN_STATUS_BITS) -> str:
    """GZIP + multibase base64url ('u' prefix, no padding) of a bitstring; index 0 is the first
    byte's most significant bit. mtime=0 makes equal lists encode to equal text."""
    if length < MIN_STATUS_BITS or length % 8:
        raise ValueError(f"status list length {length} must be a multiple of 8, >= {MIN_STATUS_BITS}")
    bits = bytearray(length // 8)
    for index in indices:
        if not 0 <= index < length:
            raise ValueError(f"status list index {index} is outside 0..{length - 1}")
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + _b64(gzip.compress(bytes(bits), mtime=0))


def decode_bitstring(encoded: object) -> bytes:
    """The bitstring behind an encodedList; raises VerificationError(MALFORMED) when it is not one."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise _malformed("status list encodedList is not multibase base64url (no 'u' prefix)")
    compressed = _unb64(encoded[1:], "status list encodedList")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        bits = inflater.decompress(compressed, MAX_STATUS_BYTES + 1)
    except zlib.error as exc:
        raise _malformed(f"status list encodedList is not GZIP data: {exc}") from exc
    if len(bits) > MAX_STATUS_BYTES or not inflater.eof:
        raise _malformed(f"status list is truncated or inflates beyond {MAX_STATUS_BYTES} bytes")
    if len(bits) * 8 < MIN_STATUS_BITS:
        raise _malformed(f"status list has {len(bits) * 8} bits, fewer than {MIN_STATUS_BITS}")
    return bits


def bit_is_set(bits: bytes, index: int) -> bool:
    """Whether the status bit at `index` is 1."""
    if not 0 <= index < len(bits) * 8:
        raise _malformed(f"status list index {index} is outside the list's {len(bits) * 8} bits")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


# --- verifying -------------------------------------------------------------------------------


def verify_credential(
    token: str,
    ca_pem: bytes,
    *,
    at: datetime | None = None,
    status_list: str | None = None,
) -> VerifiedCredential:
    """Check a VC-JOSE credential off-line as of `at` (default now); raise VerificationError.

    Checks, in order: JWS form, that the board CA issued the x5c certificate and it is valid at
    `at`, the ES256 signature, the signer's registrar role and issuer claim, the validity window,
    and with `status_list` (itself a signed status list credential) that its bit is not set.
    """
    when = _aware(at) if at is not None else datetime.now(UTC)
    try:
        membership = Membership({_ca_org(ca_pem): ca_pem})
    except IdentityError as exc:
        raise IdentityError(f"board CA certificate: {exc}") from exc
    signed = verify_signed(token, membership, when)
    credential = signed.document
    _check_credential_shape(credential)
    start = _time(credential.get("validFrom"), "validFrom") if "validFrom" in credential else None
    end = _time(credential.get("validUntil"), "validUntil") if "validUntil" in credential else None
    if start is not None and when < start:
        raise VerificationError(
            Failure.NOT_YET_VALID, f"credential is valid from {_iso(start)}, not at {_iso(when)}"
        )
    if end is not None and when >= end:
        raise VerificationError(
            Failure.EXPIRED, f"credential expired at {_iso(end)}; checked at {_iso(when)}"
        )
    status = None
    if status_list is not None:
        status = _check_status(credential, status_list, membership, when)
    return VerifiedCredential(credential, signed.signer, when, status)


def verify_signed(token: str, membership: Membership, at: datetime) -> SignedDocument:
    """The JWS payload if its x5c certificate is a member's, valid at `at`, holding the issuer role,
    and the ES256 signature verifies; the payload's issuer must name the signer's org."""
    header, document, signing_input, signature = _split(token)
    if header.get("alg") != ALG:
        raise _malformed(f"JWS alg is {header.get('alg')!r}; only {ALG} is accepted")
    if header.get("typ") != TYP:
        raise _malformed(f"JWS typ is {header.get('typ')!r}, not {TYP!r}")
    if "crit" in header:
        raise _malformed(f"JWS has critical header parameters {header['crit']!r} this verifier lacks")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise _malformed("JWS header has no x5c certificate")
    try:
        der = base64.b64decode(chain[0], validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"x5c[0] is not a base64 DER certificate: {exc}") from exc
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    try:
        signer = membership.identity(cert_pem, at)
    except ExpiredIdentityError as exc:
        failure = Failure.NOT_YET_VALID if at < cert.not_valid_before_utc else Failure.EXPIRED
        raise VerificationError(failure, f"signing certificate: {exc}") from exc
    except IdentityError as exc:
        raise VerificationError(Failure.UNKNOWN_ISSUER, str(exc)) from exc
    public_key = cert.public_key()
    if len(signature) != 2 * _COORDINATE or not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise VerificationError(
            Failure.BAD_SIGNATURE, f"signature is {len(signature)} bytes, not a raw ES256 r||s of 64"
        )
    r = int.from_bytes(signature[:_COORDINATE], "big")
    s = int.from_bytes(signature[_COORDINATE:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise VerificationError(
            Failure.BAD_SIGNATURE,
            f"signature does not verify for {signer.id}; the document was changed or signed with another key",
        ) from exc
    _check_signer(cert, signer.id, signer.org, document.get("issuer"), _unknown_issuer)
    return SignedDocument(document, signer, header)


def _check_status(credential: Document, token: str, membership: Membership, at: datetime) -> StatusCheck:
    """The credential's entry for this list, after checking the list's signature and form."""
    try:
        signed = verify_signed(token, membership, at)
    except VerificationError as exc:
        raise VerificationError(exc.failure, f"status list: {exc.detail}") from exc
    listing = signed.document
    subject = listing.get("credentialSubject")
    types = listing.get("type")
    if (
        not isinstance(types, list)
        or "BitstringStatusListCredential" not in types
        or not isinstance(subject, dict)
        or subject.get("type") != "BitstringStatusList"
    ):
        raise _malformed("status list file is not a BitstringStatusListCredential")
    list_id, purpose = listing.get("id"), subject.get("statusPurpose")
    if not isinstance(list_id, str) or not isinstance(purpose, str):
        raise _malformed("status list credential lacks an id or a statusPurpose")
    if "validUntil" in listing and at >= _time(listing["validUntil"], "status list validUntil"):
        raise VerificationError(Failure.EXPIRED, f"status list {list_id} expired at {listing['validUntil']}")
    entries = credential.get("credentialStatus", [])
    entries = entries if isinstance(entries, list) else [entries]
    entry = next(
        (e for e in entries if isinstance(e, dict) and e.get("statusListCredential") == list_id), None
    )
    if entry is None:
        pointed = sorted(str(e.get("statusListCredential")) for e in entries if isinstance(e, dict))
        raise _malformed(f"credential has no status entry for list {list_id!r} (it names {pointed})")
    if entry.get("type") != "BitstringStatusListEntry" or entry.get("statusPurpose") != purpose:
        raise _malformed(
            f"credential's entry for {list_id!r} is not a BitstringStatusListEntry for {purpose!r}"
        )
    if str(entry.get("statusSize", 1)) != "1":
        raise _malformed(f"status size {entry['statusSize']!r} is not supported; only 1 bit")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isdigit():
        raise _malformed(f"statusListIndex {raw_index!r} is not a non-negative integer string")
    index = int(raw_index)
    if bit_is_set(decode_bitstring(subject.get("encodedList")), index):
        failure = Failure.SUSPENDED if purpose == "suspension" else Failure.REVOKED
        raise VerificationError(
            failure,
            f"bit {index} is set in {purpose} list {list_id} issued {listing.get('validFrom')}",
        )
    return StatusCheck(purpose, list_id, index, listing.get("validFrom"))


# --- helpers ---------------------------------------------------------------------------------


def _split(token: str) -> tuple[dict[str, Any], Document, bytes, bytes]:
    """Header, payload, signing input and signature of a compact JWS, or MALFORMED."""
    if not isinstance(token, str):
        raise _malformed("a compact JWS is text")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise _malformed(f"a compact JWS has 3 dot-separated parts, this has {len(parts)}")
    header = _json_object(_unb64(parts[0], "JWS header"), "JWS header")
    payload = _json_object(_unb64(parts[1], "JWS payload"), "JWS payload")
    return header, payload, f"{parts[0]}.{parts[1]}".encode(), _unb64(parts[2], "JWS signature")


def _check_credential_shape(doc: Mapping[str, Any]) -> None:
    context, types = doc.get("@context"), doc.get("type")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        raise _malformed(f"@context must start with {VC_CONTEXT}")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise _malformed("type must be a list holding VerifiableCredential")
    if not isinstance(doc.get("issuer"), str) or not isinstance(doc.get("credentialSubject"), dict):
        raise _malformed("a credential needs an issuer URL and a credentialSubject object")


def _check_signer(
    cert: x509.Certificate,
    signer_id: str,
    org: str,
    issuer: object,
    error: Callable[[str], Exception],
) -> None:
    """The signer must hold role=registrar and the document must name the signer's org as issuer."""
    role = certificate_attributes(cert).get("role")
    if role != ISSUER_ROLE:
        raise error(f"{signer_id} has role {role!r}, not {ISSUER_ROLE!r}; only registrars sign for {org}")
    if issuer != f"{ISSUER_PREFIX}{org}":
        raise error(f"issuer {issuer!r} is not {ISSUER_PREFIX}{org}, the org of signer {signer_id}")


def _unknown_issuer(message: str) -> VerificationError:
    return VerificationError(Failure.UNKNOWN_ISSUER, message)


def _malformed(message: str) -> VerificationError:
    return VerificationError(Failure.MALFORMED, message)


def _raw_signature(der: bytes) -> bytes:
    """JWS ES256 wants r||s, each 32 bytes big-endian (RFC 7518 section 3.4), not DER."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")


def _ca_org(ca_pem: bytes) -> str:
    try:
        return subject_field(x509.load_pem_x509_certificate(ca_pem), NameOID.ORGANIZATION_NAME)
    except ValueError as exc:
        raise IdentityError(f"board CA certificate is not PEM X.509: {exc}") from exc


def _load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"signer certificate is not PEM X.509: {exc}") from exc


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _malformed(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _malformed(f"{what} is not a JSON object")
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str, what: str) -> bytes:
    """Strict base64url without padding: stray characters are an error, not silently dropped."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise _malformed(f"{what} is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise _malformed(f"{what} {value!r} is not an ISO 8601 date-time")
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError as exc:
        raise _malformed(f"{what} {value!r} is not an ISO 8601 date-time") from exc


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _aware(moment).isoformat().replace("+00:00", "Z")
