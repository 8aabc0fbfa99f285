"""Start, inspect and stop a local network: one process per node, on loopback, with TLS.

`network up` writes the crypto material and the profile into the network directory, starts the
orderers and then the peers, and returns once every node's health service answers SERVING.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from careledger.chaincode.errors import ContractDefinitionError
from careledger.chaincode.runtime import load_contract
from careledger.gateway import GatewayError
from careledger.network.ca import server as ca_server
from careledger.network.config import (
    DEFAULT_CONFIG,
    ConfigError,
    ContractInfo,
    EtcdMember,
    Layout,
    NetworkConfig,
    NodeInfo,
    Profile,
)
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.membership import Membership
from careledger.network.identity.tls import channel_credentials
from careledger.network.local import etcdcluster
from careledger.network.local.deploy import DeployError, deploy_contracts
from careledger.network.local.etcdcluster import ClusterStatus, EtcdClusterError
from careledger.network.local.genesis import ensure_genesis
from careledger.network.orderer.consensus.etcdclient import EtcdClient
from careledger.network.peer import policy

Progress = Callable[[str], None]

ETCD_HOST = "127.0.0.1"  # the local etcd cluster listens on loopback only
REMOTE_FIRST_PORT = 7050  # ports of nodes on other hosts' addresses are given out from here


class LauncherError(Exception):
    """The network could not be started or stopped; the message says why and what to do."""


def identity_specs(config: NetworkConfig) -> dict[str, list[IdentitySpec]]:
    """Who gets a certificate: every node, an admin per org, and the configured users."""
    specs = {config.orderer_org: [IdentitySpec("admin", "admin")] + [
        IdentitySpec(f"orderer{i}", "orderer", hosts=(config.orderer_host,))
        for i in range(config.orderer_count)]}
    for org in config.orgs:
        specs[org.name] = ([IdentitySpec("admin", "admin")]
                           + [IdentitySpec(f"peer{i}", "peer", hosts=(org.host,)) for i in range(org.peers)]
                           + [IdentitySpec(u.name, "client", dict(u.attributes)) for u in org.users])
    return specs


def check_contracts(source: str, orgs: Collection[str], contracts: Iterable[ContractInfo]) -> None:
    """Refuse, before any process starts, what would only fail once the peers run: a policy that
    does not parse or names an org the network lacks, and a contract class that does not import.

    `source` names the file the contracts come from (the network TOML or the profile)."""
    known = sorted(orgs)
    problems: list[str] = []
    for contract in contracts:
        where = f"{source}: contracts.{contract.name}"
        try:
            unknown = sorted(policy.parse(contract.policy).orgs() - set(known))
        except policy.PolicyError as exc:
            problems.append(f"{where}.policy: {exc}")
        else:
            for org in unknown:
                hint = get_close_matches(org, known, n=1)
                problems.append(f'{where}.policy "{contract.policy}" names org "{org}", which is none '
                                f"of the network's orgs ({', '.join(known)})"
                                + (f'; did you mean "{hint[0]}"?' if hint else ""))
        try:
            load_contract(contract.cls)
        except ContractDefinitionError as exc:
            problems.append(f"{where}.class: {exc}")
        except Exception as exc:  # the module imported but raised: SyntaxError, NameError, ...
            problems.append(f"{where}.class: contract spec {contract.cls!r}: cannot import: "
                            f"{type(exc).__name__}: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))


def generate_crypto(layout: Layout, config: NetworkConfig) -> None:
    """Make (idempotently) a CA per organisation and a certificate per node, admin and user."""
    for org, specs in identity_specs(config).items():
        generate_org(layout.crypto, org, specs)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_is_free(host: str, port: int) -> bool:
    """Free to listen on, as servers do with SO_REUSEADDR (old connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _is_local(host: str) -> bool:
    """Whether this machine has the address: a network prepared for other hosts has others'."""
    with socket.socket() as s:
        try:
            s.bind((host, 0))
            return True
        except OSError:
            return False


def resolve_profile(layout: Layout, config: NetworkConfig) -> Profile:
    """Assign addresses; a restarted network keeps the ports it had when they are still free."""
    previous: dict[str, tuple[int, int]] = {}
    try:
        old = Profile.load(layout.root)
        previous = {n.id: (n.port, n.ops_port) for n in (*old.peers, *old.orderers)}
        previous |= {m.name: (m.client_port, m.peer_port) for m in old.etcd_members}
    except ConfigError:
        pass

    used: set[int] = set()

    def port(host: str, wanted: int | None) -> int:
        if not _is_local(host):  # another host's address (network prepare): nothing to probe here
            chosen = wanted or REMOTE_FIRST_PORT
            while chosen in used:
                chosen += 1
            used.add(chosen)
            return chosen
        chosen = wanted if wanted and wanted not in used and _port_is_free(host, wanted) else 0
        while not chosen or chosen in used:
            chosen = _free_port(host)
        used.add(chosen)
        return chosen

    def node(name: str, org: str, host: str) -> NodeInfo:
        grpc_port, ops_port = previous.get(f"{name}.{org}", (None, None))
        return NodeInfo(name, org, host, port(host, grpc_port), port(host, ops_port))

    def etcd_member(name: str) -> EtcdMember:
        client, peer = previous.get(name, (None, None))
        member = EtcdMember(name, ETCD_HOST, port(ETCD_HOST, client), port(ETCD_HOST, peer))
        if etcdcluster.data_exists(layout, member) and (client, peer) != (member.client_port,
                                                                            member.peer_port):
            raise LauncherError(
                f"etcd member {name} keeps its data in {layout.etcd_data(member)} and must listen on "
                f"ports {client} and {peer} again, but one is taken; free it and run `network up` again")
        return member

    orderer = config.orderer
    members: tuple[EtcdMember, ...] = ()
    if orderer.consensus == "etcd" and not orderer.etcd.endpoints:
        members = tuple(etcd_member(f"etcd{i}") for i in range(orderer.etcd.members))
        orderer = replace(orderer, etcd=replace(orderer.etcd,
                                                endpoints=tuple(m.client_address for m in members)))
    return Profile(
        channel=config.channel,
        orderer_org=config.orderer_org,
        orgs=tuple(o.name for o in config.orgs),
        orderer=orderer,
        orderers=tuple(node(f"orderer{i}", config.orderer_org, config.orderer_host)
                       for i in range(config.orderer_count)),
        peers=tuple(node(f"peer{i}", o.name, o.host) for o in config.orgs for i in range(o.peers)),
        contracts=config.contracts,
        etcd_members=members,
        records_org=config.records_org,
        access=config.access,
        peer=config.peer,
    )


@dataclass(frozen=True)
class NodeStatus:
    id: str
    kind: str
    address: str
    pid: int | None
    running: bool
    serving: bool


def _read_pids(layout: Layout) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(layout.pids.read_text()).items()}
    except FileNotFoundError:
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _kind(node: NodeInfo, profile: Profile) -> str:
    return "orderer" if node in profile.orderers else "peer"


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (and SIGTERM, SIGHUP) until the block is done, then raise KeyboardInterrupt:
    a process started inside is always recorded in pids.json, a stop inside always completes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum))
                for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt(f"signal {signal.Signals(caught[0]).name} while starting the network")


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so that `up` cleans up after any."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _spawn(layout: Layout, process_id: str, argv: list[str], log_path: Path) -> int:
    """Start a detached process logging to log_path and note its pid in pids.json (no interrupt
    can come between the two)."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    with _interrupts_deferred(), open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        pids = _read_pids(layout)
        pids[process_id] = proc.pid
        layout.pids.write_text(json.dumps(pids, indent=2) + "\n")
    return proc.pid


def start_node(layout: Layout, profile: Profile, node: NodeInfo) -> int:
    """Start one node as a detached process logging to logs/<id>.log; returns its pid."""
    module = f"careledger.network.{_kind(node, profile)}.server"
    argv = [sys.executable, "-m", module, "--dir", str(layout.root), "--name", node.id]
    return _spawn(layout, node.id, argv, layout.node_log(node))


def ca_id(org: str) -> str:
    """The process id of an org's CA service in pids.json, logs/ and `network status`."""
    return f"ca.{org}"


def start_ca(layout: Layout, profile: Profile, org: str) -> NodeInfo:
    """Start `careledger ca serve` for a member org (`network up --ca`) on a free port of the org's
    host; it writes that address to data/ca/ORG/endpoint, where `careledger identity` finds it."""
    host = profile.peers_of(org)[0].host
    node = NodeInfo("ca", org, host, _free_port(host))
    argv = [sys.executable, "-m", "careledger.network.ca.server", "--dir", str(layout.root), "--org", org,
            "--host", host, "--port", str(node.port)]
    _spawn(layout, ca_id(org), argv, layout.node_log(node))
    return node


def ca_nodes(layout: Layout) -> list[NodeInfo]:
    """The CA services `network up --ca` started here, at the addresses they last listened on."""
    nodes = []
    for process_id in _read_pids(layout):
        org = process_id.removeprefix("ca.")
        if org != process_id:
            host, _, port = ca_server.endpoint(layout, org).rpartition(":")
            nodes.append(NodeInfo("ca", org, host, int(port or 0)))
    return nodes


def start_etcd_member(layout: Layout, profile: Profile, member: EtcdMember) -> int:
    """Start one member of the local etcd cluster (logs/<name>.log); returns its pid."""
    argv = etcdcluster.member_argv(etcdcluster.find_etcd(), layout, profile, member)
    return _spawn(layout, member.name, argv, layout.etcd_log(member))


def start_etcd_cluster(layout: Layout, profile: Profile, timeout: float, progress: Progress) -> None:
    """Start every member of the local cluster and wait until it has elected a raft leader."""
    for member in profile.etcd_members:
        start_etcd_member(layout, profile, member)
        progress(f"started {member.name} (etcd) on {member.client_address}")

    def check_alive(member: EtcdMember) -> None:
        pid = _read_pids(layout).get(member.name)
        if pid is None or not _alive(pid):
            raise LauncherError(f"etcd member {member.name} exited during start-up; see "
                                f"{layout.etcd_log(member)}")

    etcdcluster.wait_healthy(profile, profile.etcd_members, timeout, check_alive)
    progress(f"etcd cluster of {len(profile.etcd_members)} member(s) healthy")


def health_check(layout: Layout, profile: Profile, node: NodeInfo, timeout: float = 1.0) -> bool:
    """Ask the node's standard gRPC health service over mutual TLS, as its org's admin (a CA
    service, serving one-way TLS, ignores the client certificate)."""
    roots = Membership.from_crypto_dir(layout.crypto, [*profile.orgs, profile.orderer_org]).ca_pems()
    creds = channel_credentials(roots, layout.identity_dir(node.org, "admin"))
    with grpc.secure_channel(node.address, creds) as channel:
        try:
            # types-grpcio-health-checking declares HealthStub without its methods (grpc's own
            # generated stub sets them in __init__); the call returns a HealthCheckResponse
            reply = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def wait_healthy(layout: Layout, profile: Profile, nodes: list[NodeInfo], timeout: float,
                 progress: Progress) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending:
        pids = _read_pids(layout)
        for node in list(pending):
            pid = pids.get(node.id)
            if pid is None or not _alive(pid):
                raise LauncherError(f"{node.id} exited during start-up; see {layout.node_log(node)}")
            if health_check(layout, profile, node):
                pending.remove(node)
                progress(f"{node.id} serving on {node.address}")
        if pending and time.monotonic() > deadline:
            names = ", ".join(n.id for n in pending)
            raise LauncherError(f"{names} not healthy after {timeout:.0f}s; see logs in {layout.logs}")
        if pending:
            time.sleep(0.2)


def prepare(directory: Path, config_path: Path | None = None, progress: Progress = lambda _: None,
            peers_per_org: int | None = None, orderers: int | None = None,
            consensus: str | None = None) -> Profile:
    """What `up` writes before it starts anything: crypto material, network.json and genesis.block
    (`network prepare`, for a network whose nodes run on other hosts: each host's address comes
    from the TOML's `host`, and ports of addresses this machine lacks count up from 7050)."""
    layout = Layout(directory.resolve())
    try:  # a resumed network keeps its ordering unless told otherwise: a switch could fork the chain
        before = Profile.load(layout.root)
        orderers = orderers or len(before.orderers)
        consensus = consensus or before.orderer.consensus
    except ConfigError:
        pass
    config = NetworkConfig.load(config_path).with_ordering(orderers, consensus)
    if peers_per_org is not None:
        config = config.with_peers_per_org(peers_per_org)
    check_contracts(str(config_path or DEFAULT_CONFIG), [o.name for o in config.orgs], config.contracts)
    if config.orderer.consensus == "etcd" and not config.orderer.etcd.endpoints:
        etcdcluster.find_etcd()  # before anything is started: say how to install it
    layout.root.mkdir(parents=True, exist_ok=True)
    progress(f"generating crypto material in {layout.crypto}")
    generate_crypto(layout, config)
    profile = resolve_profile(layout, config)
    profile.save(layout.root)
    ensure_genesis(layout, profile)  # block 0: the channel configuration the nodes take theirs from
    return profile


def up(directory: Path, config_path: Path | None = None, progress: Progress = lambda _: None,
       timeout: float = 60.0, peers_per_org: int | None = None, orderers: int | None = None,
       consensus: str | None = None, ca: bool = False) -> Profile:
    """Bring the network up (or resume a stopped one with its ledgers); returns its profile.

    With `ca`, each member org's CA service (`careledger ca serve`) runs too, stopped by `down`.
    `orderers` and `consensus` override the config's; if anything fails to start, or the caller
    is interrupted (Ctrl-C, SIGTERM, SIGHUP), whatever did start is stopped again before the error
    or KeyboardInterrupt is raised: no process is left behind.
    """
    layout = Layout(directory.resolve())
    running = [n for n in status(directory) if n.running]
    if running:
        raise LauncherError(f"a network is already running in {layout.root} "
                            f"({', '.join(n.id for n in running)}); run `careledger network down` first")
    profile = prepare(directory, config_path, progress, peers_per_org, orderers, consensus)
    layout.pids.unlink(missing_ok=True)
    try:
        with _stop_signals_interrupt():
            if profile.etcd_members:
                start_etcd_cluster(layout, profile, timeout, progress)
            # the CAs need nothing but crypto: they start first and are ready by the peers' turn
            cas = [start_ca(layout, profile, org) for org in profile.orgs] if ca else []
            for group in (profile.orderers, profile.peers):
                for node in group:
                    start_node(layout, profile, node)
                    progress(f"started {node.id}")
                wait_healthy(layout, profile, list(group), timeout, progress)
            wait_healthy(layout, profile, cas, timeout, progress)
            try:  # the TOML's contracts, defined on the ledger by the real lifecycle
                deploy_contracts(layout.root, progress, timeout)
            except (DeployError, GatewayError, grpc.RpcError) as exc:
                raise LauncherError(f"deploying the contracts failed: {exc}; see logs in "
                                    f"{layout.logs}") from exc
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            progress("interrupted: stopping what was started")
        try:
            with _interrupts_deferred():
                down(directory, progress)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C during the clean-up: it completed anyway
        if isinstance(exc, (LauncherError, EtcdClusterError)):
            raise LauncherError(str(exc)) from exc
        raise
    return profile


def status(directory: Path) -> list[NodeStatus]:
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
    except ConfigError:
        return []
    pids = _read_pids(layout)
    result = []
    for node in (*profile.orderers, *profile.peers):
        pid = pids.get(node.id)
        running = pid is not None and _alive(pid)
        serving = running and health_check(layout, profile, node)
        result.append(NodeStatus(node.id, _kind(node, profile), node.address, pid, running, serving))
    for node in ca_nodes(layout):
        pid = pids[node.id]
        running = _alive(pid)
        serving = running and bool(node.port) and health_check(layout, profile, node)
        result.append(NodeStatus(node.id, "ca", node.address if node.port else "", pid, running, serving))
    if profile.etcd_members:
        with EtcdClient.for_orderers(profile.orderer) as client:
            for member in profile.etcd_members:
                pid = pids.get(member.name)
                running = pid is not None and _alive(pid)
                serving = running and client.member_status(member.client_address).healthy
                result.append(NodeStatus(member.name, "etcd", member.client_address, pid, running, serving))
    return result


def consensus_status(directory: Path) -> ClusterStatus | None:
    """For etcd consensus: which orderer leads and how each etcd member is; None for solo."""
    profile = Profile.load(directory.resolve())
    return etcdcluster.cluster_status(profile) if profile.orderer.consensus == "etcd" else None


def stop_node(layout: Layout, node_id: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Stop one node (SIGTERM, then SIGKILL after timeout); False if it was not running."""
    return bool(stop_nodes(layout, [node_id], sig, timeout))


def stop_nodes(layout: Layout, node_ids: list[str], sig: int = signal.SIGTERM,
               timeout: float = 10.0) -> list[str]:
    """Signal every listed node at once, then wait for each (SIGKILL after timeout); returns
    those that were running."""
    pids = _read_pids(layout)
    running = {n: pids[n] for n in node_ids if n in pids and _alive(pids[n])}
    for pid in running.values():
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in running.values()):
        if time.monotonic() > deadline:
            for pid in running.values():
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)
    return list(running)


def down(directory: Path, progress: Progress = lambda _: None) -> list[str]:
    """Stop exactly the processes this directory's `network up` started; keeps ledgers and keys."""
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
        etcd_members = {m.name for m in profile.etcd_members}
        orderers = {n.id for n in profile.orderers}
    except ConfigError:
        etcd_members, orderers = set(), set()
    # peers first (they would look for their orderers), then orderers, then etcd (which the
    # orderers would look for); each group stops in parallel
    ids = list(_read_pids(layout))
    if ids:
        progress(f"stopping {len(ids)} process(es) in {layout.root}")
    stopped: list[str] = []
    for group in ([i for i in ids if i not in orderers | etcd_members],
                  [i for i in ids if i in orderers], [i for i in ids if i in etcd_members]):
        stopped += stop_nodes(layout, group)
    for node_id in stopped:
        progress(f"stopped {node_id}")
    layout.pids.unlink(missing_ok=True)
    return stopped


def heights(directory: Path, profile: Profile, peers: list[NodeStatus]) -> dict[str, int]:
    """Ledger height of each serving peer, asked through its Query service as its org's admin."""
    from careledger.network.tools.queryclient import QueryClient

    result = {}
    for status_ in peers:
        node = profile.node(status_.id)
        try:
            with QueryClient(directory, node.org, peer=node, timeout=2.0) as client:
                result[node.id] = client.chain_info().height
        except grpc.RpcError:
            continue
    return result
