"""ECDSA P-256 keys that stay in a PKCS#11 token (an HSM, a smart card, SoftHSM), signing there.

A `TokenKey` is a cryptography `EllipticCurvePrivateKey` whose `sign` asks the token, so everything
that signs with a key (Signer, the SDK's signers, CSRs, certificates) works unchanged and produces
the same DER ECDSA signatures as a key in a file. An identity folder holds `key.pkcs11` instead of
`key.pem`: which module, token and key label; the user PIN comes from $CARELEDGER_PKCS11_PIN, never
from a file. Through python-pkcs11 (the optional extra `careledger[hsm]`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from careledger.network.identity.errors import IdentityError, KeyFormatError

KEY_REF_FILE = "key.pkcs11"
PIN_ENV = "CARELEDGER_PKCS11_PIN"
MODULE_ENV = "CARELEDGER_PKCS11_MODULE"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"  # Debian's softhsm2 package

_INSTALL = "PKCS#11 keys need python-pkcs11: pip install 'careledger[hsm]'"


@dataclass(frozen=True)
class TokenKeyRef:
    """Where a key lives: the PKCS#11 module (.so), the token's label and the key's label."""

    module: str
    token: str
    label: str

    def save(self, folder: Path) -> Path:
        """Write key.pkcs11 into an identity folder (no secret in it: the PIN stays in the env)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / KEY_REF_FILE
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> TokenKeyRef:
        path = Path(folder) / KEY_REF_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(str(raw["module"]), str(raw["token"]), str(raw["label"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFormatError(
                f"{path} is not a PKCS#11 key reference (module, token, label): {exc}") from exc


def default_module() -> str:
    """$CARELEDGER_PKCS11_MODULE, else SoftHSM's module as Debian installs it."""
    return os.environ.get(MODULE_ENV, SOFTHSM_MODULE)


def pin_from_env() -> str:
    pin = os.environ.get(PIN_ENV, "")
    if not pin:
        raise IdentityError(f"the key is in a PKCS#11 token: set ${PIN_ENV} to the token's user PIN")
    return pin


class _Token:
    """One logged-in session per token and process: PKCS#11 logs in per application, so a second
    login fails; the lock serialises operations, which a session does not allow concurrently."""

    _open: dict[tuple[str, str], _Token] = {}
    _opening = threading.Lock()

    def __init__(self, session: Any) -> None:
        self.session = session
        self.lock = threading.Lock()

    @classmethod
    def get(cls, module: str, token: str, pin: str) -> _Token:
        pkcs11 = _pkcs11()
        with cls._opening:
            found = cls._open.get((module, token))
            if found is None:
                try:
                    lib = pkcs11.lib(module)
                    session = lib.get_token(token_label=token).open(user_pin=pin, rw=True)
                except pkcs11.exceptions.NoSuchToken as exc:
                    raise IdentityError(f"no PKCS#11 token labelled {token!r} in {module}") from exc
                except pkcs11.exceptions.PinIncorrect as exc:
                    raise IdentityError(f"wrong PIN for PKCS#11 token {token!r} (from ${PIN_ENV})") from exc
                except (pkcs11.exceptions.PKCS11Error, RuntimeError, OSError) as exc:
                    raise IdentityError(f"cannot open PKCS#11 token {token!r} with {module}: "
                                        f"{type(exc).__name__} {exc}") from exc
                found = cls._open[(module, token)] = cls(session)
            return found


class TokenKey(ec.EllipticCurvePrivateKey):
    """A P-256 private key inside a token: it signs there and never leaves it."""

    def __init__(self, ref: TokenKeyRef, token: _Token, private: Any,
                 public: ec.EllipticCurvePublicKey) -> None:
        self.ref = ref
        self._token = token
        self._private = private
        self._public = public

    def sign(self, data: bytes | bytearray | memoryview,
             signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        """DER ECDSA over SHA-256(data), or over `data` itself when it is a Prehashed digest."""
        algorithm = getattr(signature_algorithm, "algorithm", None)
        if isinstance(algorithm, Prehashed) and isinstance(algorithm._algorithm, hashes.SHA256):
            digest = bytes(data)
        elif isinstance(algorithm, hashes.SHA256):
            digest = hashlib.sha256(data).digest()
        else:
            raise ValueError(f"a token key signs ECDSA with SHA-256 only, not {algorithm!r}")
        if len(digest) != hashes.SHA256.digest_size:
            raise ValueError(f"digest must be {hashes.SHA256.digest_size} bytes, got {len(digest)}")
        pkcs11 = _pkcs11()
        with self._token.lock:
            raw = self._private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
        half = len(raw) // 2  # PKCS#11 gives r || s; the ledger's signatures are DER
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        self._stays()

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._stays()

    def private_bytes(self, encoding: serialization.Encoding, format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._stays()

    def __copy__(self) -> TokenKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenKey:
        return self

    def _stays(self) -> NoReturn:
        raise TypeError(f"key {self.ref.label!r} stays in PKCS#11 token {self.ref.token!r}: it only signs")


def open_key(ref: TokenKeyRef, pin: str | None = None) -> TokenKey:
    """The token key `ref` names (PIN: given, else $CARELEDGER_PKCS11_PIN)."""
    pkcs11 = _pkcs11()
    token = _Token.get(ref.module, ref.token, pin or pin_from_env())
    with token.lock:
        try:
            private = token.session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                                            key_type=pkcs11.KeyType.EC, label=ref.label)
            public = token.session.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY,
                                           key_type=pkcs11.KeyType.EC, label=ref.label)
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as exc:
            raise IdentityError(f"PKCS#11 token {ref.token!r} holds no single EC key pair labelled "
                                f"{ref.label!r} ({type(exc).__name__})") from exc
    return TokenKey(ref, token, private, _public(public, ref))


def generate_key(ref: TokenKeyRef, pin: str | None = None) -> TokenKey:
    """Make a P-256 key pair inside the token under `ref.label`: sensitive and not extractable,
    so the private key can never be read out. Refused if the label is taken."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    token = _Token.get(ref.module, ref.token, pin or pin_from_env())
    with token.lock:
        if list(token.session.get_objects({pkcs11.Attribute.LABEL: ref.label})):
            raise IdentityError(f"PKCS#11 token {ref.token!r} already holds a key labelled {ref.label!r}; "
                                "choose another label")
        params = token.session.create_domain_parameters(
            pkcs11.KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        public, private = params.generate_keypair(
            store=True, label=ref.label,
            private_template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False})
    return TokenKey(ref, token, private, _public(public, ref))


def _public(key: Any, ref: TokenKeyRef) -> ec.EllipticCurvePublicKey:
    from pkcs11.util.ec import encode_ec_public_key

    public = serialization.load_der_public_key(encode_ec_public_key(key))
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise KeyFormatError(
            f"PKCS#11 key {ref.label!r} is not ECDSA P-256, the only kind the ledger verifies")
    return public


def _pkcs11() -> Any:
    """python-pkcs11, imported only when a token key is used (it is an optional extra)."""
    try:
        import pkcs11
        import pkcs11.exceptions
    except ImportError as exc:
        raise IdentityError(_INSTALL) from exc
    return pkcs11
