"""Who the client is (Identity) and how it signs (Signer), kept apart so keys can live in an HSM."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from careledger.gateway.errors import InvalidKeyError

Signer = Callable[[bytes], bytes]
"""Takes the SHA-256 digest of a message and returns a DER-encoded ECDSA signature over it."""

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Identity:
    """The client's org and PEM X.509 certificate; the certificate is the creator of each request."""

    org: str
    certificate: bytes

    def __post_init__(self) -> None:
        if _PEM_CERT not in self.certificate:
            raise ValueError(f"identity of org {self.org!r}: certificate is not a PEM certificate")


def new_private_key_signer(key_pem: bytes) -> Signer:
    """A Signer for a PEM ECDSA private key; it signs digests (Prehashed SHA-256)."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        raise InvalidKeyError(f"private key is not an unencrypted PEM key: {err}") from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidKeyError(f"private key is {type(key).__name__}, not an ECDSA key")
    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()))

    def sign(digest: bytes) -> bytes:
        return key.sign(digest, algorithm)

    return sign


def sha256(data: bytes) -> bytes:
    """The digest a Signer expects for data."""
    return hashlib.sha256(data).digest()
