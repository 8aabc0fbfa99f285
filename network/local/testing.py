"""A real local network for tests: separate processes, TLS, files in a temporary directory."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from careledger.gateway import Gateway, connect_local
from careledger.network.config import Layout, Profile
from careledger.network.identity.tls import channel_credentials
from careledger.network.local import etcdcluster, launcher


class LocalNetwork:
    """A running network in `directory`; stop it with `down()` (the context manager does)."""

    def __init__(self, directory: Path, profile: Profile) -> None:
        self.directory = directory
        self.layout = Layout(directory)
        self.profile = profile

    def connect(self, who: str = "hospital:admin", peer: str | None = None) -> Gateway:
        return connect_local(self.directory, who, peer=peer)

    def tls_client(self, who: str = "hospital:admin") -> dict[str, bytes]:
        """connect()'s TLS client settings for ORG:USER: the peers require mutual TLS."""
        folder = self.identity_dir(who)
        return {"tls_client_certificate": (folder / "cert.pem").read_bytes(),
                "tls_client_key": (folder / "key.pem").read_bytes()}

    def identity_dir(self, who: str) -> Path:
        """The folder of ORG:USER's certificate and key (USER defaults to admin)."""
        org, _, user = who.partition(":")
        return self.layout.identity_dir(org, user or "admin")

    def channel(self, node_id: str, who: str | None = "hospital:admin") -> grpc.Channel:
        """A raw gRPC channel to a node over TLS, presenting ORG:USER's certificate (None: none)."""
        node = self.profile.node(node_id)
        roots = [self.layout.ca_cert(org).read_bytes()
                 for org in [*self.profile.orgs, self.profile.orderer_org]]
        folder = None if who is None else self.identity_dir(who)
        return grpc.secure_channel(node.address, channel_credentials(roots, folder))

    def kill(self, node_id: str) -> None:
        """kill -9 one node: no chance to flush or say goodbye."""
        launcher.stop_node(self.layout, node_id, signal.SIGKILL)

    def stop(self, node_id: str) -> None:
        """Stop one node cleanly (SIGTERM)."""
        launcher.stop_node(self.layout, node_id)

    def start(self, node_id: str, timeout: float = 30.0) -> None:
        node = self.profile.node(node_id)
        launcher.start_node(self.layout, self.profile, node)
        launcher.wait_healthy(self.layout, self.profile, [node], timeout, lambda _: None)

    def kill_etcd(self, member: str) -> None:
        """kill -9 one member of the local etcd cluster (e.g. "etcd0")."""
        launcher.stop_node(self.layout, member, signal.SIGKILL)

    def start_etcd(self, *members: str, timeout: float = 30.0) -> None:
        """Start these killed etcd members again; returns once they answer with a raft leader."""
        started = [m for m in self.profile.etcd_members if m.name in members]
        if len(started) != len(members):
            raise ValueError(f"no such etcd member among {members}: the cluster has "
                             f"{[m.name for m in self.profile.etcd_members]}")
        for member in started:
            launcher.start_etcd_member(self.layout, self.profile, member)
        etcdcluster.wait_healthy(self.profile, started, timeout, lambda _: None)

    def leader(self) -> str | None:
        """The orderer that leads the etcd-ordered chain now, or None (no leader, etcd down)."""
        from careledger.network.orderer.consensus.etcdclient import EtcdError

        try:
            status = launcher.consensus_status(self.directory)
        except EtcdError:
            return None
        return status.leader if status is not None else None

    def wait_for_leader(self, not_this: str | None = None, timeout: float = 30.0) -> str | None:
        """The leading orderer once there is one other than `not_this`; None after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.leader()
            if now is not None and now != not_this:
                return now
            time.sleep(0.1)
        return None

    def down(self) -> None:
        launcher.down(self.directory)


@contextmanager
def local_network(config: Path | None = None, directory: Path | None = None,
                  keep: bool = False, peers_per_org: int | None = None, orderers: int | None = None,
                  consensus: str | None = None) -> Iterator[LocalNetwork]:
    """Start a network (in a fresh temporary directory unless one is given) and stop it afterwards."""
    root = directory or Path(tempfile.mkdtemp(prefix="careledger-"))
    profile = launcher.up(root, config, peers_per_org=peers_per_org, orderers=orderers,
                          consensus=consensus)
    net = LocalNetwork(root.resolve(), profile)
    try:
        yield net
    finally:
        net.down()
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
