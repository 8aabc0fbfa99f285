"""Identity errors, one module so that certs, signing and membership share them without cycles."""

from __future__ import annotations


class IdentityError(Exception):
    """Base: an identity could not be issued, loaded or trusted; the message says which and why."""


class UnknownIdentityError(IdentityError):
    """The certificate is malformed, not issued by a channel org's CA, or claims the wrong org."""


class ExpiredIdentityError(IdentityError):
    """The certificate is outside its validity period at the time of the check."""


class BadSignatureError(IdentityError):
    """The signature does not verify for the certificate's public key."""


class IdentityExistsError(IdentityError):
    """Issuing would overwrite a CA or identity that already exists on disk."""


class KeyFormatError(IdentityError):
    """A private key file is not a PEM-encoded ECDSA key."""
