"""gRPC TLS credentials from an identity folder: the same certificate signs and serves TLS."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import grpc

from careledger.network.identity.certs import CERT_FILE, KEY_FILE
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.hsm import KEY_REF_FILE

TLS_DIR = "tls"


def server_credentials(
    identity_dir: Path, client_ca_pems: Sequence[bytes] | None
) -> grpc.ServerCredentials:
    """TLS for a node's server. With `client_ca_pems` (peers and orderers): mutual TLS, every
    client must present a certificate chaining to one of those CAs or the handshake fails.

    With None the server asks for no client certificate at all. gRPC Python has no "verify one if
    presented" mode: without require_client_auth it does not even request one, so optional client
    certificates would be silently ignored, never checked.
    """
    key_pem, cert_pem = read_pair(identity_dir)
    if client_ca_pems is not None and not client_ca_pems:
        raise IdentityError(
            f"server {identity_dir}: mutual TLS needs at least one client CA; pass None to "
            "accept clients without certificates"
        )
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=_bundle(client_ca_pems) if client_ca_pems else None,
        require_client_auth=client_ca_pems is not None,
    )


def dynamic_server_credentials(
    identity_dir: Path, client_ca_pems: Callable[[], Sequence[bytes]]
) -> grpc.ServerCredentials:
    """Mutual TLS whose client CAs are read again at each handshake: a running node trusts the CA
    of an organisation a channel configuration update adds, and stops trusting a removed one."""
    key_pem, cert_pem = read_pair(identity_dir)
    served = [_bundle(client_ca_pems())]

    def configuration(bundle: bytes) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(key_pem, cert_pem)], root_certificates=bundle)

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        bundle = _bundle(client_ca_pems())
        if bundle == served[0]:
            return None  # unchanged: grpc keeps the configuration it has
        served[0] = bundle
        return configuration(bundle)

    # grpc documents None from the fetcher as "keep the current configuration"; the stubs omit it
    return grpc.dynamic_ssl_server_credentials(configuration(served[0]), fetch,  # type: ignore[arg-type]
                                               require_client_authentication=True)


def channel_credentials(
    root_pems: Sequence[bytes], identity_dir: Path | None = None
) -> grpc.ChannelCredentials:
    """TLS for a client channel trusting `root_pems`; presents `identity_dir`'s cert when given."""
    if not root_pems:
        raise IdentityError("channel credentials need at least one root CA certificate")
    if identity_dir is None:
        return grpc.ssl_channel_credentials(root_certificates=_bundle(root_pems))
    key_pem, cert_pem = read_pair(identity_dir)
    return grpc.ssl_channel_credentials(
        root_certificates=_bundle(root_pems), private_key=key_pem, certificate_chain=cert_pem
    )


def _bundle(pems: Sequence[bytes]) -> bytes:
    return b"".join(pem if pem.endswith(b"\n") else pem + b"\n" for pem in pems)


def tls_dir(identity_dir: Path) -> Path:
    """Where an identity's TLS pair is: its own folder, or tls/ in it when its signing key stays in
    a PKCS#11 token (key.pkcs11), which gRPC's TLS cannot use."""
    identity_dir = Path(identity_dir)
    return identity_dir / TLS_DIR if (identity_dir / KEY_REF_FILE).is_file() else identity_dir


def read_pair(identity_dir: Path) -> tuple[bytes, bytes]:
    """The TLS key and certificate PEM of an identity folder (see tls_dir)."""
    identity_dir = tls_dir(identity_dir)
    try:
        return (identity_dir / KEY_FILE).read_bytes(), (identity_dir / CERT_FILE).read_bytes()
    except OSError as exc:
        raise IdentityError(
            f"cannot read TLS identity in {identity_dir}: {exc}; issue it with generate_org"
        ) from exc
