"""Deploy the network TOML's contracts through the real lifecycle when `network up` starts a network.

The TOML names the contracts and their initial policies (the operator's wish); the ledger holds the
truth. For each contract without a committed definition: package it from its installed source,
install the package on every peer (as the peer's org admin), have every org's admin approve
sequence 1, and commit. Each step runs concurrently across peers, orgs and contracts, so start-up
waits for about two blocks. A resumed network whose contracts are defined only gets any missing
package installed. Returns once every peer has committed the definitions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc

from careledger.gateway import GatewayError, connect_local
from careledger.network.config import Layout, Profile
from careledger.network.local import lifecycleclient
from careledger.network.local.lifecycleclient import Proposed
from careledger.network.peer import contractpackage
from careledger.network.tools.queryclient import QueryClient

INITIAL_VERSION = "1.0"  # a TOML contract's first definition
ADMIN = "admin"

T = TypeVar("T")


class DeployError(Exception):
    """A contract could not be deployed; the message names it and the step."""


def _all(pool: ThreadPoolExecutor, calls: Iterable[Callable[[], T]]) -> list[T]:
    return [f.result() for f in [pool.submit(call) for call in calls]]


def deploy_contracts(directory: Path, progress: Callable[[str], None] = lambda _: None,
                     timeout: float = 60.0) -> list[Proposed]:
    """Define the profile's contracts on the ledger (those not yet defined); the new definitions."""
    layout = Layout(directory.resolve())
    profile = Profile.load(layout.root)
    if not profile.contracts:
        return []
    first_org = profile.orgs[0]
    deadline = time.monotonic() + timeout
    defined = _retried(deadline, partial(lifecycleclient.definitions, layout.root, (first_org, ADMIN)))
    packages: dict[str, bytes] = {}
    wanted: list[Proposed] = []
    for contract in profile.contracts:
        existing = defined.get(contract.name)
        archive = contractpackage.build_from_module(contract.name, existing.version if existing
                                                    else INITIAL_VERSION, contract.cls)
        info = contractpackage.inspect(archive)
        if existing is None:
            wanted.append(Proposed(contract.name, INITIAL_VERSION, 1, contract.policy, info.package_id))
            packages[info.package_id] = archive
        elif existing.package_id == info.package_id:
            packages[info.package_id] = archive  # a resumed network: make sure every peer has it
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="deploy") as pool, ExitStack() as stack:
        started = time.monotonic()
        _all(pool, [partial(_retried, deadline, partial(
                        lifecycleclient.install, layout.root, peer.id, (peer.org, ADMIN), archive))
                    for peer in profile.peers for archive in packages.values()])
        if packages:
            progress(f"installed {len(packages)} contract package(s) on {len(profile.peers)} peer(s) in "
                     f"{time.monotonic() - started:.1f}s")
        if not wanted:
            return []
        # one connection per org admin, shared by its calls
        gateways = {org: stack.enter_context(connect_local(layout.root, f"{org}:{ADMIN}"))
                    for org in profile.orgs}

        def submit_all(function: str, orgs: Iterable[str]) -> list[dict[str, Any]]:
            return _all(pool, [partial(_retried, deadline, partial(
                            lifecycleclient.submit_on, gateways[org], profile.channel, function, p))
                               for org in orgs for p in wanted])

        approved = submit_all("approve", profile.orgs)
        # Each approval's commit was confirmed by its own org's peer only; the commit counts the
        # approvals its endorsers have committed, and a range of them that changes between its
        # simulation and validation makes it invalid: so every peer first has every approval.
        _wait_for_peers(layout.root, profile, max(deadline - time.monotonic(), 1.0), "the approvals",
                        1 + max(int(a["block"]) for a in approved))
        submit_all("commit", [first_org])
    _wait_for_peers(layout.root, profile, max(deadline - time.monotonic(), 1.0), "the contract definitions")
    progress(f"defined {', '.join(f'{p.name} {p.version}' for p in wanted)} on the ledger "
             f"(approved by {', '.join(profile.orgs)}) in {time.monotonic() - started:.1f}s")
    return wanted


def _retried(deadline: float, call: Callable[[], T]) -> T:
    """call, again after a pause while a node is unreachable (UNAVAILABLE: a busy machine may be
    slow to accept a connection just after start-up), until `deadline`. Again is harmless: an
    install is idempotent, an approval writes the same key, and a call no node took was not
    ordered."""
    pause = 0.1
    while True:
        try:
            return call()
        except (GatewayError, grpc.RpcError) as exc:
            code = exc.code if isinstance(exc, GatewayError) else exc.code()
            if code != grpc.StatusCode.UNAVAILABLE or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _wait_for_peers(root: Path, profile: Profile, timeout: float, what: str,
                    target: int | None = None) -> None:
    """Until every peer's height reaches `target` (default: the highest one), so that every peer
    has committed `what`."""
    deadline = time.monotonic() + timeout

    def height(peer_id: str) -> int:
        def ask() -> int:
            with QueryClient(root, profile.node(peer_id).org, ADMIN, profile.node(peer_id)) as client:
                return client.chain_info().height

        return _retried(deadline, ask)

    if target is None:
        target = max(height(p.id) for p in profile.peers)
    for peer in profile.peers:
        while height(peer.id) < target:
            if time.monotonic() > deadline:
                raise DeployError(f"{peer.id} has not committed {what} (height "
                                  f"{height(peer.id)} < {target}) after {timeout:.0f}s")
            time.sleep(0.05)
