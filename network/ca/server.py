"""The CA process of one organisation: `careledger ca serve --org ORG --dir NETDIR`.

It holds the org's CA key (crypto/ORG/ca) and keeps its state under data/ca/ORG: the SQLite store,
a TLS certificate of its own (role `tls`, so it can never sign a transaction) and `endpoint`, the
address it listens on, which `careledger identity` reads when no --ca is given.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.network.ca.service import CAService
from careledger.network.ca.store import CAStore
from careledger.network.config import Layout
from careledger.network.identity.certs import (
    CERT_FILE,
    TLS_ROLE,
    IdentitySpec,
    issue_certificate,
    load_ca,
    write_pair,
)
from careledger.network.node.grpcutil import STOP_GRACE, new_server, set_serving
from careledger.network.node.nodeproc import run_until_signal
from careledger.protos import ca_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_PORT = 7054
ENDPOINT_FILE = "endpoint"
MAX_MESSAGE_BYTES = 1024 * 1024  # a CSR or a CRL of many thousand serials
RENEW_TLS_BEFORE = timedelta(days=30)


def ca_data_dir(layout: Layout, org: str) -> Path:
    """Where the CA service of `org` keeps its state inside a network directory."""
    return layout.data / "ca" / org


def endpoint(layout: Layout, org: str) -> str:
    """The address the org's CA service last listened on ("" if it never ran here)."""
    path = ca_data_dir(layout, org) / ENDPOINT_FILE
    return path.read_text().strip() if path.is_file() else ""


def tls_identity(layout: Layout, org: str, host: str) -> Path:
    """The folder of the service's TLS pair, issued by the org's CA for `host` and loopback, and
    reissued when it is near its end or was made for another host."""
    folder = ca_data_dir(layout, org) / "tls"
    hosts = tuple(dict.fromkeys((host, "localhost", "127.0.0.1")))
    cert_path = folder / CERT_FILE
    if cert_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = {str(n.value) for n in sans}
        if cert.not_valid_after_utc - datetime.now(UTC) > RENEW_TLS_BEFORE and set(hosts) <= names:
            return folder
    key = ec.generate_private_key(ec.SECP256R1())
    spec = IdentitySpec(f"ca.{org}", TLS_ROLE, hosts=hosts)
    write_pair(folder, key, issue_certificate(load_ca(layout.crypto, org), org, spec, key.public_key()))
    return folder


def free_port(host: str) -> int:
    """A port free now, for --port 0 (gRPC's new_server does not tell which port it bound)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="careledger-ca")
    parser.add_argument("--dir", required=True, type=Path, help="network directory (holds crypto/ORG/ca)")
    parser.add_argument("--org", required=True, help="the organisation whose CA this is")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s ca.{args.org} %(name)s: %(message)s")
    layout = Layout(args.dir.resolve())
    data = ca_data_dir(layout, args.org)
    (data / ENDPOINT_FILE).unlink(missing_ok=True)  # whoever waits for it must not find the last run's
    store = CAStore(data / "ca.sqlite")
    service = CAService(args.org, load_ca(layout.crypto, args.org), store)
    address = f"{args.host}:{args.port or free_port(args.host)}"
    # one-way TLS: a person enrolling has no certificate yet; the calls that need one are signed
    server, health = new_server(tls_identity(layout, args.org, args.host), None, address,
                                MAX_MESSAGE_BYTES, workers=16, max_streams=1)
    ca_pb2_grpc.add_CertificateAuthorityServicer_to_server(service, server)
    server.start()
    set_serving(health, True)
    (data / ENDPOINT_FILE).write_text(address + "\n")
    log.info("CA of %s serving on %s (state in %s)", args.org, address, data)

    def stop() -> None:
        set_serving(health, False)
        server.stop(grace=STOP_GRACE).wait()
        store.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
