"""Who the client is (Identity) and how it signs (Signer), kept apart so keys can live in an HSM.

Keys are read and used by the identity helpers the nodes use too (careledger.network.identity, the
one room of network/ the SDK may import), so a key the SDK accepts signs exactly as a node's does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from careledger.gateway.errors import InvalidKeyError
from careledger.network.identity.errors import KeyFormatError
from careledger.network.identity.signing import load_private_key, sign_digest

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
    """A Signer for a PEM ECDSA private key; it signs digests (Prehashed SHA-256).

    Raises InvalidKeyError if key_pem is not an unencrypted PEM ECDSA private key.
    """
    try:
        key = load_private_key(key_pem)
    except KeyFormatError as err:
        raise InvalidKeyError(str(err)) from err
    return new_key_signer(key)


def new_key_signer(key: ec.EllipticCurvePrivateKey) -> Signer:
    """A Signer for a key object: a loaded PEM key, or one that stays in a PKCS#11 token
    (careledger.network.identity.hsm.TokenKey), which signs the digest there."""

    def sign(digest: bytes) -> bytes:
        return sign_digest(key, digest)

    return sign


def sha256(data: bytes) -> bytes:
    """The digest a Signer expects for data."""
    return hashlib.sha256(data).digest()
