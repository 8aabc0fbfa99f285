"""The CA service of hospital running in this process over real TLS gRPC, for the CA unit tests:
a network directory with the org's CA, an admin, a front-desk registrar and a plain client.

(PYTEST_DONT_REWRITE: the test modules import it before pytest loads it as their plugin, with
`pytest_plugins = ("cafixtures",)`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from careledger.gateway import Identity
from careledger.gateway.ca import CAClient, new_key, write_identity
from careledger.gateway.identity import new_private_key_signer
from careledger.network.ca.server import free_port, tls_identity
from careledger.network.ca.service import CAService
from careledger.network.ca.store import CAStore
from careledger.network.config import Layout
from careledger.network.identity.certs import IdentitySpec, generate_org, load_ca
from careledger.network.identity.signing import Signer
from careledger.network.node.grpcutil import new_server
from careledger.protos import ca_pb2_grpc

ORG = "hospital"
FRONT_DESK = {"registrar_roles": "client", "registrar_attrs": "role=patient"}


@dataclass
class RunningCA:
    """A CA service on a free port of this process, and what it needs to be restarted."""

    layout: Layout
    address: str
    server: grpc.Server
    store: CAStore

    def client(self, who: str | None = None) -> CAClient:
        """A client signing as crypto/hospital/WHO (None: an enrolling person, no identity)."""
        root = self.layout.ca_cert(ORG).read_bytes()
        if who is None:
            return CAClient(self.address, root)
        return signed_client(self.address, root, self.layout.identity_dir(ORG, who))

    def stop(self) -> None:
        self.server.stop(None).wait()
        self.store.close()


def signed_client(address: str, root: bytes, folder: Path) -> CAClient:
    identity = Identity(ORG, (folder / "cert.pem").read_bytes())
    return CAClient(address, root, identity=identity,
                    signer=new_private_key_signer((folder / "key.pem").read_bytes()))


def start_ca(layout: Layout) -> RunningCA:
    store = CAStore(layout.data / "ca" / ORG / "ca.sqlite")
    port = free_port("127.0.0.1")
    server, _ = new_server(tls_identity(layout, ORG, "127.0.0.1"), None, f"127.0.0.1:{port}", 1 << 20,
                           workers=4, max_streams=1)
    ca_pb2_grpc.add_CertificateAuthorityServicer_to_server(
        CAService(ORG, load_ca(layout.crypto, ORG), store), server)
    server.start()
    return RunningCA(layout, f"127.0.0.1:{port}", server, store)


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path)
    generate_org(layout.crypto, ORG, [
        IdentitySpec("admin", "admin"),
        IdentitySpec("frontdesk", "client", FRONT_DESK),
        IdentitySpec("nurse", "client", {"role": "nurse"}),
    ])
    return layout


@pytest.fixture()
def ca(layout: Layout) -> Iterator[RunningCA]:
    running = start_ca(layout)
    yield running
    running.stop()


def enrol(ca: RunningCA, name: str, secret: str, folder: Path) -> Signer:
    key = new_key()
    with ca.client() as person:
        write_identity(folder, key, person.enroll(name, secret, key))
    return Signer.from_dir(folder)
