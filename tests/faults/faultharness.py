"""What every fault scenario shares: a steady SDK load, and the checks that nothing acknowledged is lost.

A transaction counts as acknowledged only when the SDK reported it committed VALID. After the fault,
`check_network` waits for the peers to agree on a height and then proves, peer by peer over each
peer's own Query service, that every acknowledged transaction is there and VALID, that all peers
serve byte-identical blocks (validation codes included) and hold identical world state, history
and transaction index, and that `careledger ledger verify` passes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from careledger.gateway import GatewayError
from careledger.network.config import NodeInfo
from careledger.network.ledger.blockstore import read_raw_blocks
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

log = logging.getLogger("faults")

REPO = Path(__file__).resolve().parents[2]
NETWORK_CONFIG = REPO / "tests" / "e2e" / "network.toml"  # one orderer, a peer per org, 300 ms batches


class Load:
    """Clients submitting create_asset in a loop through the SDK, each via its own org's gateway.

    `acknowledged` holds the tx id of every transaction whose status came back VALID, and `acks`
    when (monotonic) and in which block; refused or unknown outcomes are counted in `failures` and
    never treated as committed. `unresolved` holds the txs Submit accepted but whose commit status
    never came (the SDK gave up waiting).
    """

    def __init__(self, net: LocalNetwork, gateways: Sequence[str] = ("hospital", "insurer")) -> None:
        self._net = net
        self._gateways = list(gateways)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._acked = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self.acknowledged: list[str] = []
        self.acks: list[tuple[float, int]] = []  # (monotonic time, block number), in time order
        self.failures = 0
        self.last_failure = ""
        self.unresolved: list[str] = []  # accepted by Submit, but no commit status came back

    def start(self) -> Load:
        for org in self._gateways:
            thread = threading.Thread(target=self._run, args=(org,), name=f"load-{org}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, org: str) -> None:
        with self._net.connect(f"{org}:admin") as gateway:
            contract = gateway.get_network(self._net.profile.channel).get_contract("basic")
            while not self._stop.is_set():
                submitted = None
                try:
                    submitted = contract.submit_async("create_asset", f"fault-{uuid.uuid4().hex[:16]}",
                                                      "campaign", "1")
                    status = submitted.get_status()
                except GatewayError as exc:
                    with self._lock:
                        self.failures += 1
                        self.last_failure = str(exc).splitlines()[0][:200]
                        if submitted is not None:  # Submit said it was taken; its status never came
                            self.unresolved.append(submitted.tx_id)
                    self._stop.wait(0.1)
                    continue
                with self._acked:
                    if status.successful:
                        self.acknowledged.append(submitted.tx_id)
                        self.acks.append((time.monotonic(), status.block_number))
                        self._acked.notify_all()
                    else:
                        self.failures += 1
                        self.last_failure = f"{submitted.tx_id} {status.code_name}"

    def wait_for(self, more: int, timeout: float = 60.0) -> bool:
        """Block until `more` further transactions are acknowledged; False on timeout."""
        with self._acked:
            target = len(self.acknowledged) + more
            return self._acked.wait_for(lambda: len(self.acknowledged) >= target, timeout)

    def _first_ack(self, since: float, past_block: int) -> float | None:
        for when, block in self.acks:  # caller holds the lock
            if when >= since and block > past_block:
                return when
        return None

    def recovered(self, since: float, past_block: int, timeout: float = 60.0) -> float | None:
        """Seconds from `since` until the first acknowledgement (at or after `since`) of a tx in a
        block after `past_block`, i.e. a block cut after the fault; None if none came in `timeout`."""
        with self._acked:
            if not self._acked.wait_for(lambda: self._first_ack(since, past_block) is not None, timeout):
                return None
            return self._first_ack(since, past_block) - since  # type: ignore[operator]

    def acknowledged_between(self, start: float, end: float, past_block: int) -> int:
        """How many txs in blocks after `past_block` were acknowledged between start and end."""
        with self._lock:
            return sum(start <= when < end and block > past_block for when, block in self.acks)

    @property
    def newest_block(self) -> int:
        """The highest block number any acknowledged tx was in (-1 before the first)."""
        with self._lock:
            return max((block for _, block in self.acks), default=-1)

    def stop(self) -> list[str]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        with self._lock:
            return list(self.acknowledged)


def height(net: LocalNetwork, node: NodeInfo, timeout: float = 2.0) -> int | None:
    """The peer's ledger height over its Query service, or None if it does not answer."""
    try:
        with QueryClient(net.directory, node.org, peer=node, timeout=timeout) as q:
            return q.chain_info().height
    except grpc.RpcError:
        return None


def heights(net: LocalNetwork) -> dict[str, int | None]:
    return {n.id: height(net, n) for n in net.profile.peers}


def wait_caught_up(net: LocalNetwork, node: NodeInfo, target: int, timeout: float = 60.0) -> float | None:
    """Seconds until `node` holds `target` blocks, or None if it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        h = height(net, node, timeout=1.0)
        if h is not None and h >= target:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def serving(net: LocalNetwork, node: NodeInfo) -> bool:
    return launcher.health_check(net.layout, net.profile, node, timeout=1.0)


def converge(net: LocalNetwork, timeout: float = 90.0) -> int:
    """Wait until every peer answers with the same height for a second; returns it."""
    deadline = time.monotonic() + timeout
    last: dict[str, int | None] = {}
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = heights(net)
        values = set(now.values())
        if now != last:
            last, stable_since = now, time.monotonic()
        elif len(values) == 1 and None not in values and time.monotonic() - stable_since > 1.0:
            return next(iter(values))  # type: ignore[return-value]
        time.sleep(0.2)
    raise AssertionError(f"peers did not converge within {timeout:.0f}s: {last}")


def peer_blocks(net: LocalNetwork, node: NodeInfo, count: int) -> list[bytes]:
    """Blocks 0..count-1 as the peer serves them, serialized deterministically."""
    with QueryClient(net.directory, node.org, peer=node, timeout=10.0) as q:
        return [q.block(n).SerializeToString(deterministic=True) for n in range(count)]


def valid_tx_ids(blocks: Iterable[bytes]) -> set[str]:
    found = set()
    for raw in blocks:
        block = common_pb2.Block.FromString(raw)
        for env, code in zip(block.data.envelopes, block.metadata.validation_codes, strict=True):
            if code != common_pb2.VALID:
                continue
            tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env).payload)
            found.add(common_pb2.Proposal.FromString(tx.proposal).header.tx_id)
    return found


def state_digest(net: LocalNetwork, node: NodeInfo) -> str:
    """SHA-256 over the peer's world state, key history and tx index, read from its state.db."""
    path = net.layout.node_data(node) / "state.db"
    digest = hashlib.sha256()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        for table, order in (("state", "ns, key"), ("history", "ns, key, block_num, tx_num"),
                             ("txindex", "tx_id")):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # noqa: S608
                digest.update(repr(row).encode())
    return digest.hexdigest()


def ledger_verify(net: LocalNetwork) -> tuple[bool, str]:
    """Run `careledger ledger verify` as an operator would; (clean, what it said if not)."""
    run = subprocess.run([sys.executable, "-m", "careledger.cli", "ledger", "verify", "--dir",
                          str(net.directory), "--json"], capture_output=True, text=True, timeout=300)
    if run.returncode == 0:
        return True, ""
    try:
        bad = {k: v["problem"] for k, v in json.loads(run.stdout).items() if not v["ok"]}
        return False, json.dumps(bad)
    except (ValueError, KeyError):
        return False, (run.stdout + run.stderr)[-500:]


@dataclass
class Verdict:
    """What the after-fault checks found; `problems` is empty when all passed."""

    height: int = 0
    acknowledged: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)  # tx ids VALID on the first peer

    @property
    def ok(self) -> bool:
        return not self.problems


def check_network(net: LocalNetwork, acknowledged: Sequence[str]) -> Verdict:
    """Every acknowledged tx VALID on every peer, identical blocks and state, ledger verify clean."""
    verdict = Verdict(acknowledged=len(acknowledged))
    try:
        verdict.height = converge(net)
    except AssertionError as exc:
        verdict.problems.append(str(exc))
        return verdict
    reference: tuple[str, list[bytes]] | None = None
    missing_anywhere: set[str] = set()
    states: dict[str, str] = {}
    for node in net.profile.peers:
        blocks = peer_blocks(net, node, verdict.height)
        missing = set(acknowledged) - valid_tx_ids(blocks)
        if missing:
            verdict.problems.append(f"{node.id}: {len(missing)} acknowledged tx missing or not VALID, "
                                    f"e.g. {sorted(missing)[0]}")
        missing_anywhere |= missing
        if reference is None:
            reference = (node.id, blocks)
            verdict.valid = valid_tx_ids(blocks)
        else:
            differ = [n for n, (a, b) in enumerate(zip(reference[1], blocks, strict=True)) if a != b]
            if differ:
                verdict.problems.append(f"{node.id} and {reference[0]} serve different blocks: {differ[:5]}")
        states[node.id] = state_digest(net, node)
    if len(set(states.values())) != 1:
        verdict.problems.append(f"world state differs between peers: {states}")
    if reference is not None:
        verdict.problems += orderers_forked(net, reference[1])
    clean, said = ledger_verify(net)
    if not clean:
        verdict.problems.append(f"ledger verify failed: {said}")
    verdict.lost = len(missing_anywhere)
    return verdict


def _header(raw: bytes) -> bytes:
    return common_pb2.Block.FromString(raw).header.SerializeToString(deterministic=True)


def orderers_forked(net: LocalNetwork, peer_blocks_: Sequence[bytes]) -> list[str]:
    """Each orderer's stored chain must be a prefix of the peers' (same headers); what differs."""
    chain = [_header(raw) for raw in peer_blocks_]
    problems = []
    for node in net.profile.orderers:
        path = net.layout.node_data(node) / "blocks" / "blocks.bin"
        stored = [_header(raw) for raw in read_raw_blocks(path).blocks] if path.is_file() else []
        differ = [n for n, header in enumerate(stored) if n >= len(chain) or header != chain[n]]
        if differ:
            problems.append(f"{node.id} stores other blocks than the peers from block {differ[0]} on")
    return problems


def shut_down(net: LocalNetwork) -> None:
    """Peers first, then orderers: a peer stops at once when its orderer is still there."""
    for node in net.profile.peers:
        launcher.stop_node(net.layout, node.id)
    net.down()


def log_mentions(net: LocalNetwork, node: NodeInfo, *needles: str) -> list[str]:
    """Lines of the node's log containing every needle."""
    path = net.layout.node_log(node)
    if not path.is_file():
        return []
    return [line for line in path.read_text(errors="replace").splitlines() if all(n in line for n in needles)]
