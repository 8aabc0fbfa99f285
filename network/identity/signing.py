"""ECDSA P-256 signing over SHA-256, so that every signature in the ledger verifies the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from careledger.network.identity import hsm
from careledger.network.identity.errors import IdentityError, KeyFormatError


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Parse an unencrypted PEM private key and insist that it is ECDSA."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"private key is not an unencrypted PEM key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFormatError(f"private key is {type(key).__name__}, not an ECDSA key")
    return key


def load_identity_key(identity_dir: Path) -> ec.EllipticCurvePrivateKey:
    """An identity folder's private key: key.pem, or the PKCS#11 token key key.pkcs11 names (its
    PIN from $CARELEDGER_PKCS11_PIN); either signs the same way."""
    identity_dir = Path(identity_dir)
    if (identity_dir / hsm.KEY_REF_FILE).is_file():
        return hsm.open_key(hsm.TokenKeyRef.load(identity_dir))
    return load_private_key((identity_dir / "key.pem").read_bytes())


# Built once: the algorithm objects are immutable, and building one per signature (ABC isinstance
# checks included) cost a client a few percent of each request.
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """DER-encoded ECDSA signature over SHA-256(data)."""
    return key.sign(data, _ECDSA_SHA256)


def sign_digest(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """Sign an already computed SHA-256 digest; verifies exactly like sign(data) (offline signing)."""
    if len(digest) != hashes.SHA256.digest_size:
        raise ValueError(f"digest must be {hashes.SHA256.digest_size} bytes, got {len(digest)}")
    return key.sign(digest, _ECDSA_PREHASHED_SHA256)


def key_matches(signer: Signer) -> bool:
    """Whether the signer's key is the one its certificate names (from_dir makes sure of it)."""
    try:
        return bool(x509.load_pem_x509_certificate(signer.cert_pem).public_key() == signer.key.public_key())
    except ValueError:
        return False


@dataclass(frozen=True)
class Signer:
    """A node's or user's signing identity: its certificate (sent as creator) and private key."""

    cert_pem: bytes
    org: str
    name: str
    key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    @classmethod
    def from_dir(cls, identity_dir: Path) -> Signer:
        """Load cert.pem and key.pem from an identity folder; org and name come from the cert."""
        identity_dir = Path(identity_dir)
        try:
            cert_pem = (identity_dir / "cert.pem").read_bytes()
            key = load_identity_key(identity_dir)
        except OSError as exc:
            raise IdentityError(
                f"cannot read identity in {identity_dir}: {exc}; issue it with generate_org"
            ) from exc
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise IdentityError(f"{identity_dir / 'cert.pem'} is not a PEM certificate") from exc
        if cert.public_key() != key.public_key():
            raise IdentityError(f"{identity_dir}: the key does not belong to cert.pem")
        return cls(
            cert_pem=cert_pem,
            org=subject_field(cert, NameOID.ORGANIZATION_NAME),
            name=subject_field(cert, NameOID.COMMON_NAME),
            key=key,
        )

    @property
    def id(self) -> str:
        """The identity's id as Membership reports it: "org/name"."""
        return f"{self.org}/{self.name}"

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(data) with this identity's key."""
        return sign(self.key, data)

    def sign_digest(self, digest: bytes) -> bytes:
        """Signature over a precomputed SHA-256 digest with this identity's key."""
        return sign_digest(self.key, digest)


_SUBJECT_LABELS = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU (role)",
}


def subject_field(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    """The single value of a subject attribute (CN, O, OU); identities with zero or two are refused."""
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise IdentityError(
            f"certificate {cert.subject.rfc4514_string()!r} must have exactly one "
            f"{_SUBJECT_LABELS.get(oid, oid.dotted_string)} in its subject; reissue it with "
            "generate_org"
        )
    return str(values[0].value)
