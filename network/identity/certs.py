"""Certificate authorities and identities on disk, one ECDSA P-256 CA per organisation.

An identity's role and attributes travel inside its certificate, so any node can decide what a
creator may do from the certificate alone, without a directory lookup.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from careledger.network.identity.errors import IdentityError, IdentityExistsError
from careledger.network.identity.signing import load_private_key

# Private OID carrying an identity's attributes as sorted-key JSON (99999 is not an assigned PEN).
ATTRIBUTES_OID = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1.1")

ROLES = frozenset({"admin", "peer", "orderer", "client"})
NODE_ROLES = frozenset({"peer", "orderer"})
# A certificate that only serves TLS (the CA service's): Membership accepts only ROLES as signers, so
# such a certificate can never sign a transaction.
TLS_ROLE = "tls"
NODE_HOSTS = ("localhost", "127.0.0.1")

# A patient's identity name is their id on the ledger: a pseudonym, never a name (issue 10).
PSEUDONYM = re.compile(r"pt-[a-z0-9]{8,32}")

CA_VALIDITY = timedelta(days=3650)
LEAF_VALIDITY = timedelta(days=365)
BACKDATE = timedelta(minutes=1)

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
CA_DIR = "ca"


@dataclass(frozen=True)
class IdentitySpec:
    """What to put in an identity's certificate."""

    name: str
    role: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()


def generate_org(crypto_dir: Path, org: str, identities: Sequence[IdentitySpec]) -> None:
    """Create the org's CA if missing, then every listed identity that is missing; safe to rerun."""
    if not _has_pair(Path(crypto_dir) / org / CA_DIR):
        generate_ca(crypto_dir, org)
    for spec in identities:
        if not _has_pair(Path(crypto_dir) / org / spec.name):
            issue_identity(crypto_dir, org, spec)


def generate_ca(crypto_dir: Path, org: str) -> Path:
    """Create a self-signed CA for `org` under `<crypto_dir>/<org>/ca` and return that folder."""
    _check_name("org", org)
    ca_dir = Path(crypto_dir) / org / CA_DIR
    if _has_pair(ca_dir):
        raise IdentityExistsError(
            f"CA of org {org!r} already exists in {ca_dir}; remove the org folder to start over"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{org}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )
    not_before = datetime.now(UTC) - BACKDATE
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    write_pair(ca_dir, key, cert)
    return ca_dir


def issue_identity(
    crypto_dir: Path,
    org: str,
    spec: IdentitySpec,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    overwrite: bool = False,
) -> Path:
    """Issue `spec` from the org's CA into `<crypto_dir>/<org>/<name>` and return that folder."""
    check_spec(org, spec)
    identity_dir = Path(crypto_dir) / org / spec.name
    if not overwrite and _has_pair(identity_dir):
        raise IdentityExistsError(
            f"identity {org}/{spec.name} already exists in {identity_dir}; pass overwrite=True "
            "to reissue it"
        )
    ca = load_ca(crypto_dir, org)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(ca, org, spec, key.public_key(), not_before=not_before, not_after=not_after)
    write_pair(identity_dir, key, cert)
    return identity_dir


def issue_certificate(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    org: str,
    spec: IdentitySpec,
    public_key: object,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    """Sign `spec`'s certificate over a public key made elsewhere (a CSR's, so that a key never
    leaves its owner); `ca` is load_ca's pair. issue_identity uses it for keys it makes itself."""
    check_spec(org, spec)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise IdentityError(
            f"identity {org}/{spec.name}: the key is not ECDSA P-256, the only kind the ledger verifies"
        )
    ca_cert, ca_key = ca
    start = not_before or datetime.now(UTC) - BACKDATE
    end = not_after or start + LEAF_VALIDITY
    if end <= start:
        raise IdentityError(f"identity {org}/{spec.name}: not_after {end} is not after {start}")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, spec.name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, spec.role),
        ]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_sans(spec)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(
            x509.UnrecognizedExtension(ATTRIBUTES_OID, encode_attributes(spec.attributes)),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def load_ca(crypto_dir: Path, org: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The certificate and key of `org`'s CA under `<crypto_dir>/<org>/ca`."""
    return _load_ca(Path(crypto_dir) / org / CA_DIR, org)


def check_spec(org: str, spec: IdentitySpec) -> None:
    """Refuse a spec whose names could not be folders or whose role is unknown, before issuing."""
    _check_name("org", org)
    _check_name("identity name", spec.name)
    if spec.name == CA_DIR:
        raise IdentityError(f"identity name {CA_DIR!r} is reserved for the CA of org {org!r}")
    if spec.role not in ROLES | {TLS_ROLE}:
        raise IdentityError(
            f"identity {org}/{spec.name}: role {spec.role!r} is not one of {sorted(ROLES)}"
        )


def encode_attributes(attributes: Mapping[str, str]) -> bytes:
    """The attribute extension's value: compact JSON with sorted keys, so equal maps give equal bytes."""
    for k, v in attributes.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise IdentityError(f"attribute {k!r}={v!r}: attribute names and values must be str")
    return json.dumps(dict(attributes), sort_keys=True, separators=(",", ":")).encode()


def certificate_attributes(cert: x509.Certificate | x509.CertificateSigningRequest) -> dict[str, str]:
    """The attributes a certificate carries (or a CSR asks for); empty when it has no attribute
    extension."""
    try:
        ext = cert.extensions.get_extension_for_oid(ATTRIBUTES_OID)
    except x509.ExtensionNotFound:
        return {}
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise IdentityError(f"attribute extension of {cert.subject.rfc4514_string()} is not raw")
    try:
        attributes = json.loads(value.value)
    except ValueError as exc:
        raise IdentityError(
            f"attribute extension of {cert.subject.rfc4514_string()} is not JSON: {exc}"
        ) from exc
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise IdentityError(
            f"attribute extension of {cert.subject.rfc4514_string()} is not a str->str object"
        )
    return attributes


def new_pseudonym() -> str:
    """A fresh patient pseudonym: pt- and 12 random hex digits."""
    return f"pt-{secrets.token_hex(6)}"


def _sans(spec: IdentitySpec) -> list[x509.GeneralName]:
    """The identity's own name, its hosts, and for nodes the loopback names, deduplicated."""
    hosts = [spec.name, *spec.hosts]
    if spec.role in NODE_ROLES:
        hosts.extend(NODE_HOSTS)
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _check_name(what: str, value: str) -> None:
    """Names become folder names, so refuse anything that could escape the crypto dir."""
    if not value or value in {".", ".."} or any(c in value for c in "/\\\0") or value.strip() != value:
        raise IdentityError(f"{what} {value!r} is not a usable folder name; use letters, digits, -_.")


def _has_pair(folder: Path) -> bool:
    return (folder / CERT_FILE).is_file() and (folder / KEY_FILE).is_file()


def _load_ca(ca_dir: Path, org: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not _has_pair(ca_dir):
        raise IdentityError(
            f"org {org!r} has no CA in {ca_dir}; run generate_org or generate_ca for it first"
        )
    cert = x509.load_pem_x509_certificate((ca_dir / CERT_FILE).read_bytes())
    return cert, load_private_key((ca_dir / KEY_FILE).read_bytes())


def write_pair(folder: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    """Write key (mode 0600) then certificate, each atomically, so a crash never leaves a
    half-written file; the layout of an identity folder (cert.pem, key.pem)."""
    folder.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(folder / KEY_FILE, key_pem, 0o600)
    _write_atomic(folder / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
