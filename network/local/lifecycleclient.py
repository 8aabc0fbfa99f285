"""A client of the peers' Lifecycle service (install a contract package, list installed ones) and of
the `_lifecycle` contract (approve, commit, definitions), as an identity of a network directory.

The CLI (`careledger contract ...`) and `network up`'s deployment both call it: one mechanism.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from careledger.gateway import CommitError, Gateway, connect_local
from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.identity.tls import channel_credentials
from careledger.network.peer.definitions import LIFECYCLE, Definition
from careledger.protos import common_pb2, lifecycle_pb2, lifecycle_pb2_grpc

INSTALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Proposed:
    """A contract definition as admins approve and commit it."""

    name: str
    version: str
    sequence: int
    policy: str
    package_id: str

    def args(self) -> list[str]:
        return [self.name, self.version, str(self.sequence), self.policy, self.package_id]


def _request(signer: Signer, **operation: Any) -> common_pb2.Signed:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    payload = lifecycle_pb2.LifecycleRequest(creator=signer.cert_pem, timestamp=stamp,
                                             **operation).SerializeToString()
    return common_pb2.Signed(payload=payload, signature=signer.sign(payload))


def _stub(layout: Layout, profile: Profile, peer: NodeInfo, who: tuple[str, str]) -> tuple[
        grpc.Channel, lifecycle_pb2_grpc.LifecycleStub]:
    roots = Membership.from_crypto_dir(layout.crypto, profile.orgs).ca_pems()
    limit = profile.orderer.max_message_bytes + (1 << 16)
    # peers require mutual TLS: the identity's certificate is its TLS client certificate too
    channel = grpc.secure_channel(peer.address, channel_credentials(roots, layout.identity_dir(*who)),
                                  options=[("grpc.max_send_message_length", limit)])
    return channel, lifecycle_pb2_grpc.LifecycleStub(channel)


def install(directory: Path, peer_id: str, who: tuple[str, str],
            archive: bytes) -> lifecycle_pb2.InstallResponse:
    """Install a package on one peer as identity (org, name); grpc.RpcError carries a refusal."""
    reply: lifecycle_pb2.InstallResponse = _call(
        directory, peer_id, who, lambda stub: stub.InstallPackage, install=archive)
    return reply


def installed(directory: Path, peer_id: str, who: tuple[str, str]) -> lifecycle_pb2.QueryInstalledResponse:
    """The packages one peer holds, asked as identity (org, name) (an admin of the peer's org)."""
    reply: lifecycle_pb2.QueryInstalledResponse = _call(
        directory, peer_id, who, lambda stub: stub.QueryInstalled, query_installed=True)
    return reply


def _call(directory: Path, peer_id: str, who: tuple[str, str],
          method: Callable[[lifecycle_pb2_grpc.LifecycleStub], Callable[..., Any]], **operation: Any) -> Any:
    """One signed Lifecycle call to one peer as identity (org, name): both operations open, sign and
    wait the same way, so they differ only in the method and the request's operation."""
    layout = Layout(directory.resolve())
    profile = Profile.load(layout.root)
    channel, stub = _stub(layout, profile, profile.node(peer_id), who)
    with channel:
        signer = Signer.from_dir(layout.identity_dir(*who))
        return method(stub)(_request(signer, **operation), timeout=INSTALL_TIMEOUT)


def submit_on(gateway: Gateway, channel: str, function: str, proposed: Proposed) -> dict[str, Any]:
    """approve or commit through a connected gateway, as its identity; waits for a VALID commit
    and gives the contract's answer with tx_id and block (EndorseError / CommitError: refused)."""
    submitted = gateway.get_network(channel).get_contract(LIFECYCLE).submit_async(function, *proposed.args())
    status = submitted.get_status()
    if not status.successful:
        raise CommitError(status.tx_id, status.code, status.block_number)
    answer: dict[str, Any] = json.loads(submitted.result)
    return answer | {"tx_id": status.tx_id, "block": status.block_number}


def submit(directory: Path, who: tuple[str, str], function: str, proposed: Proposed) -> dict[str, Any]:
    """submit_on through the identity's org's peer of the local network in `directory`."""
    with connect_local(directory, f"{who[0]}:{who[1]}") as gateway:
        return submit_on(gateway, Profile.load(directory).channel, function, proposed)


def evaluate(directory: Path, who: tuple[str, str], function: str, *args: str) -> Any:
    """A `_lifecycle` query (definitions, definition NAME, approvals NAME [SEQUENCE])."""
    with connect_local(directory, f"{who[0]}:{who[1]}") as gateway:
        network = gateway.get_network(Profile.load(directory).channel)
        return json.loads(network.get_contract(LIFECYCLE).evaluate_transaction(function, *args))


def definitions(directory: Path, who: tuple[str, str]) -> dict[str, Definition]:
    """The committed definitions, by name."""
    return {d["name"]: Definition(d["name"], d["version"], int(d["sequence"]), d["policy"], d["package_id"])
            for d in evaluate(directory, who, "definitions")}
