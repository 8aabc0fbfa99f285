"""The fault campaign: inject faults into a live network under load and prove nothing acknowledged is lost.

    python -m tests.faults.campaign [--full] [--scenario 1,2,3,4,5,6,7,8] [--markdown FILE]

Each scenario starts its own network (separate processes, TLS), runs a steady load of SDK submits,
injects its fault, and then checks every peer (faultharness.check_network): every acknowledged tx
present and VALID, identical blocks and world state on all peers, `ledger verify` clean. The
result is one table row per scenario; RELIABILITY.md holds the table of the last full run.
Scenarios 1-3 fault the replicated ordering service: three orderers on a three-member etcd cluster.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling helpers, however we are run

from faultdisk import full_disk  # noqa: E402
from faultharness import (  # noqa: E402
    NETWORK_CONFIG,
    Load,
    Verdict,
    check_network,
    height,
    log_mentions,
    serving,
    shut_down,
    wait_caught_up,
)
from faultinputs import Case, new_cases, run_e2e_cases  # noqa: E402
from faultordering import (  # noqa: E402
    ORDERERS,
    chain_tip,
    etcd_members,
    kill_ordering_service,
)

from careledger.network.config import NodeInfo  # noqa: E402
from careledger.network.local import launcher  # noqa: E402
from careledger.network.local.testing import LocalNetwork, local_network  # noqa: E402
from careledger.protos import common_pb2  # noqa: E402


@dataclass
class Row:
    """One line of the campaign table."""

    number: str
    scenario: str
    faults: str
    acknowledged: int | None = None
    lost: int | None = None
    recovery: float | None = None
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    def judge(self, verdict: Verdict) -> None:
        self.acknowledged, self.lost = verdict.acknowledged, verdict.lost
        if not verdict.ok:
            self.ok = False
            self.notes.extend(verdict.problems)

    def fail(self, why: str) -> None:
        self.ok = False
        self.notes.append(why)

    def recovered(self, seconds: float | None, what: str) -> None:
        """Count one recovery; None means it never happened."""
        if seconds is None:
            self.fail(f"{what}: no recovery")
        else:
            self.recovery = max(self.recovery or 0.0, seconds)


def _peer(net: LocalNetwork, org: str) -> NodeInfo:
    return net.profile.peers_of(org)[0]


def _top(net: LocalNetwork, but: NodeInfo) -> int:
    """The highest height among the other peers."""
    return max((h for n in net.profile.peers if n != but and (h := height(net, n)) is not None), default=0)


def _kill_when_block_file_grows(net: LocalNetwork, victim: NodeInfo, timeout: float = 10.0) -> bool:
    """kill -9 the moment the victim's block file grows: its newest block is on disk, its state
    update is (very likely) not yet. Polls stat() without sleeping; False if it never grew."""
    path = net.layout.node_data(victim) / "blocks" / "blocks.bin"
    size = path.stat().st_size
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.stat().st_size != size:
            net.kill(victim.id)
            return True
    return False


def kill_peers_during_commit(kills: int = 3, seed: int = 4) -> Row:
    """Scenario 4: kill -9 a peer while it commits, over and over; each time it restarts and catches up.

    Kills alternate between two moments: the instant the victim's block file grows (the block is
    written, its state not yet applied), and 0-20 ms after a client was told its tx committed (the
    gateway peer has just committed that block, so the victim is likely validating it). Victims
    rotate over the three peers, gateways and endorsers included.
    """
    rng = random.Random(seed)
    row = Row("4", "peer kill -9 during commit, repeatedly", f"{kills} × kill -9")
    with local_network(NETWORK_CONFIG) as net:
        try:
            load = Load(net, ("hospital", "insurer", "board")).start()
            load.wait_for(10)
            peers = list(net.profile.peers)
            for i in range(kills):
                victim = peers[(i + 2) % len(peers)]  # board first: it serves no endorsement
                if i % 2 == 0:
                    if not _kill_when_block_file_grows(net, victim):
                        net.kill(victim.id)
                        row.notes.append(f"kill {i + 1}: no block arrived in 10 s; killed anyway")
                else:
                    load.wait_for(1, timeout=30)
                    time.sleep(rng.uniform(0.0, 0.02))
                    net.kill(victim.id)
                time.sleep(rng.uniform(0.3, 1.5))  # the others keep committing meanwhile
                target = _top(net, victim)
                started = time.monotonic()
                net.start(victim.id)
                caught = wait_caught_up(net, victim, target)
                row.recovered(None if caught is None else time.monotonic() - started, f"kill {i + 1}")
                load.wait_for(3, timeout=60)
            acknowledged = load.stop()
            row.judge(check_network(net, acknowledged))
            half_done = sum(len(log_mentions(net, n, marker)) for n in peers
                            for marker in ("torn tail", "replayed blocks"))
            row.notes.append(f"{half_done} of {kills} kills left a half-done commit that the restart "
                             "completed (torn tail cut, or stored block replayed into state)")
            row.notes.append(f"{load.failures} submits refused or unanswered while peers were down "
                             "(never counted as acknowledged)")
        finally:
            shut_down(net)
    return row


# -- the replicated ordering service (etcd) --------------------------------------------------------

def _etcd_network() -> AbstractContextManager[LocalNetwork]:
    return local_network(NETWORK_CONFIG, orderers=ORDERERS, consensus="etcd")


def _tip(net: LocalNetwork, load: Load, row: Row) -> int:
    """The newest block in etcd; if etcd does not say, the newest acknowledged one (noted)."""
    tip = chain_tip(net)
    if tip is None:
        row.notes.append("etcd did not tell its newest block once; recovery counted from the newest "
                         "acknowledged block instead")
        return load.newest_block
    return tip


def _clients_told(row: Row, load: Load, verdict: Verdict) -> None:
    """Note what clients heard besides acknowledgements, and txs Submit accepted that never committed."""
    row.notes.append(f"{load.failures} submits refused or unanswered (never counted as acknowledged)"
                     + (f"; last: {load.last_failure}" if load.failures else ""))
    dropped = [tx for tx in load.unresolved if tx not in verdict.valid]
    if dropped:  # Submit returns once the tx is in a block in etcd (consensus/etcd.py): none may vanish
        row.fail(f"{len(dropped)} tx accepted by Submit never reached a block; each client waited out its "
                 f"commit status (60 s) and cannot resubmit: {', '.join(tx[:16] for tx in dropped[:4])}")


def kill_orderer_leader(kills: int = 2, seed: int = 1) -> Row:
    """Scenario 1: kill -9 the leading orderer, again and again, under load.

    Each time another orderer must take the lead (its etcd lease expires), ordering goes on, and
    the killed orderer is restarted once blocks flow again, so the cluster is back to three.
    Recovery: from the kill to the first acknowledgement of a tx in a block cut after it.
    """
    rng = random.Random(seed)
    row = Row("1", "orderer leader kill -9, repeatedly",
              f"{kills} × kill -9 of the leading orderer (of {ORDERERS}), each restarted after")
    moves: list[float] = []
    with _etcd_network() as net:
        try:
            load = Load(net, ("hospital", "insurer")).start()
            load.wait_for(10)
            for i in range(kills):
                old = net.wait_for_leader()
                if old is None:
                    row.fail(f"kill {i + 1}: no orderer leads")
                    break
                time.sleep(rng.uniform(0.0, 0.6))  # anywhere in a batch
                net.kill(old)
                killed = time.monotonic()
                time.sleep(0.3)  # a write the leader sent just before it died lands, or never will
                tip = _tip(net, load, row)
                new = net.wait_for_leader(not_this=old)
                if new is None:
                    row.fail(f"kill {i + 1}: no orderer took the lead from {old}")
                else:
                    moves.append(time.monotonic() - killed)
                row.recovered(load.recovered(killed, tip), f"kill {i + 1} ({old})")
                net.start(old)
                load.wait_for(5, timeout=60)
            acknowledged = load.stop()
            verdict = check_network(net, acknowledged)
            row.judge(verdict)
            _clients_told(row, load, verdict)
            if moves:
                row.notes.append(f"leadership moved to another orderer {min(moves):.1f}-{max(moves):.1f} s "
                                 "after each kill (lease_ttl 2 s)")
        finally:
            shut_down(net)
    return row


def kill_etcd_members(single: int = 1, double: int = 1, pause: float = 4.0) -> Row:
    """Scenario 2: kill -9 one etcd member (ordering goes on), then two (no quorum: ordering pauses,
    nothing acknowledged is lost, and it resumes when one of them returns).

    Victims rotate over the members. Recovery: for one member, from the kill; for two, from the
    moment the first of them is started again; until a tx in a block cut after that is acknowledged.
    """
    row = Row("2", "etcd member kills",
              f"{single} × kill -9 of one etcd member (of 3), {double} × of two (no quorum for "
              f"{pause:.0f} s, then one back)")
    with _etcd_network() as net:
        members = etcd_members(net)
        try:
            load = Load(net, ("hospital", "insurer")).start()
            load.wait_for(10)
            for i in range(single):
                victim = members[i % len(members)]
                net.kill_etcd(victim)
                killed = time.monotonic()
                tip = _tip(net, load, row)
                row.recovered(load.recovered(killed, tip), f"one member: kill {i + 1} ({victim})")
                if not load.wait_for(5, timeout=30):
                    row.fail(f"one member: ordering stalled while only {victim} was down")
                net.start_etcd(victim)
                load.wait_for(3, timeout=60)
            paused_acks = 0
            for j in range(double):
                first, second = members[(single + j) % len(members)], members[(single + j + 1) % len(members)]
                net.kill_etcd(first)
                if not load.wait_for(3, timeout=30):
                    row.fail(f"two members: ordering stalled while only {first} was down")
                tip = _tip(net, load, row)
                net.kill_etcd(second)
                quorum_lost = time.monotonic()
                time.sleep(pause)
                # a block sent to etcd before the second kill may still be acknowledged: allow 1 s
                paused_acks += load.acknowledged_between(quorum_lost + 1.0, time.monotonic(), tip + 1)
                back = time.monotonic()
                net.start_etcd(second)
                row.recovered(load.recovered(back, tip), f"two members: round {j + 1} ({first}, {second})")
                net.start_etcd(first)
                load.wait_for(3, timeout=60)
            if paused_acks:
                row.fail(f"{paused_acks} tx acknowledged in new blocks while etcd had no quorum")
            elif double:
                row.notes.append("no block was cut while two etcd members were down")
            acknowledged = load.stop()
            verdict = check_network(net, acknowledged)
            row.judge(verdict)
            _clients_told(row, load, verdict)
        finally:
            shut_down(net)
    return row


def kill_whole_ordering_service(rounds: int = 1, down_for: float = 2.0, seed: int = 3) -> Row:
    """Scenario 3: kill -9 every orderer and every etcd member in one sweep, under load; restart
    them all (etcd first) after `down_for` seconds. Peers stay up. Recovery: from the restart to
    the first acknowledgement of a tx in a block cut after it."""
    rng = random.Random(seed)
    row = Row("3", "whole-cluster kill",
              f"{rounds} × kill -9 of all {ORDERERS} orderers and 3 etcd members at once, down "
              f"{down_for:.0f} s")
    restarts: list[float] = []
    with _etcd_network() as net:
        members = etcd_members(net)
        try:
            load = Load(net, ("hospital", "insurer")).start()
            for i in range(rounds):
                load.wait_for(10, timeout=60)
                time.sleep(rng.uniform(0.0, 0.6))
                kill_ordering_service(net)
                time.sleep(down_for)
                back = time.monotonic()
                net.start_etcd(*members)
                tip = _tip(net, load, row)
                for orderer in net.profile.orderers:
                    launcher.start_node(net.layout, net.profile, orderer)
                launcher.wait_healthy(net.layout, net.profile, list(net.profile.orderers), 60, lambda _: None)
                restarts.append(time.monotonic() - back)
                row.recovered(load.recovered(back, tip), f"round {i + 1}")
                load.wait_for(5, timeout=60)
            acknowledged = load.stop()
            verdict = check_network(net, acknowledged)
            row.judge(verdict)
            _clients_told(row, load, verdict)
            if restarts:
                row.notes.append(f"etcd and orderers serving again {max(restarts):.1f} s after the restart "
                                 "began (at most)")
        finally:
            shut_down(net)
    return row


def _healthz(node: NodeInfo) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://{node.host}:{node.ops_port}/healthz", timeout=2) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, OSError, ValueError):
        return 0, {}


def _wait(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def disk_full(full_seconds: float = 4.0, rounds: int = 1) -> Row:
    """Scenario 5: a peer's disk fills up under load; it stops committing, says why, loses nothing,
    and resumes by itself when space returns."""
    row = Row("5", "peer disk full", "")
    with local_network(NETWORK_CONFIG) as net:
        victim = _peer(net, "board")
        disk = full_disk(net, victim)
        row.faults = f"{rounds} × disk full on {victim.id} for {full_seconds:.0f}s, {disk.kind}"
        try:
            disk.prepare()
            load = Load(net, ("hospital", "insurer")).start()
            load.wait_for(10)
            blocks = net.layout.node_data(victim) / "blocks" / "blocks.bin"
            for i in range(rounds):
                # round 1 leaves no byte; later ones leave room for about a block, so that the
                # block may still be stored and its state update is what the disk refuses
                leave = i * blocks.stat().st_size // max(height(net, victim) or 1, 1)
                disk.fill(leave)
                stalled = _wait(lambda: _top(net, victim) >= (height(net, victim) or 0) + 2, 30)
                status, body = _healthz(victim)
                failed = body.get("failed_checks", {})
                said = failed.get("ledger", "") if isinstance(failed, dict) else ""
                if not stalled:
                    row.fail(f"round {i + 1}: {victim.id} kept committing on a full disk")
                if status != 503 or not said:
                    row.fail(f"round {i + 1}: /healthz answered {status} {body}")
                elif i == 0:
                    row.notes.append(f"/healthz {status} while full: ledger: {said}")
                time.sleep(full_seconds)
                target = _top(net, victim)
                freed = time.monotonic()
                disk.free()
                caught = wait_caught_up(net, victim, target)
                healthy = _wait(lambda: _healthz(victim)[0] == 200, 30)
                row.recovered(None if caught is None or not healthy else time.monotonic() - freed,
                              f"round {i + 1}")
                load.wait_for(5, timeout=60)
            acknowledged = load.stop()
            row.judge(check_network(net, acknowledged))
            stored = len(log_mentions(net, victim, "not committed: cannot write block"))
            unapplied = len(log_mentions(net, victim, "is stored but its state was not applied"))
            row.notes.append(f"refusals seen by {victim.id}: {stored} block writes, {unapplied} state "
                             "writes of an already stored block (finished by Ledger.resume)")
        finally:
            shut_down(net)
            disk.restore()
    return row


def _record_offsets(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    offsets, pos = [], 0
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        offsets.append((pos + 4, pos + 4 + size))
        pos += 4 + size
    return offsets


def corrupt_block(net: LocalNetwork, node: NodeInfo, number: int, where: str) -> None:
    """Flip one byte of block `number` in the peer's block file: in its data or in its header."""
    path = net.layout.node_data(node) / "blocks" / "blocks.bin"
    start, end = _record_offsets(path)[number]
    offset = (start + end) // 2 if where == "data" else start + 12  # 12: inside previous_hash
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupted_block_file(cli_rounds: int = 1) -> Row:
    """Scenario 6: a damaged block file is named at start-up; the peer serves only once the damaged
    blocks were fetched again from the orderers (by itself, or by `careledger ledger repair`)."""
    row = Row("6", "corrupted block file", "")
    with local_network(NETWORK_CONFIG) as net:
        try:
            load = Load(net, ("hospital", "insurer")).start()
            load.wait_for(20)
            victim, orderer = _peer(net, "board"), net.profile.orderers[0]
            # a) repaired by the peer itself; the orderer is down at first, to show it will not serve
            net.stop(victim.id)
            bad = (height(net, _peer(net, "hospital")) or 2) // 2
            corrupt_block(net, victim, bad, "data")
            net.stop(orderer.id)
            launcher.start_node(net.layout, net.profile, victim)
            time.sleep(3.0)
            status, body = _healthz(victim)
            refused = not serving(net, victim) and status == 503 and f"block {bad}" in json.dumps(body)
            named = log_mentions(net, victim, "damaged", f"block {bad}", "blocks.bin")
            if not refused or not named:
                row.fail(f"a) damaged block {bad}: serving={serving(net, victim)}, /healthz {status} {body}, "
                         f"log lines naming it: {len(named)}")
            else:
                row.notes.append(f"a) log: {named[0].split(': ', 1)[-1][:160]}…")
            back = time.monotonic()
            net.start(orderer.id)
            up = _wait(lambda: serving(net, victim), 60)
            caught = wait_caught_up(net, victim, _top(net, victim)) if up else None
            row.recovered(None if caught is None else time.monotonic() - back, "a) automatic repair")
            load.wait_for(10, timeout=60)
            # b) repaired offline with the CLI, then started
            for i in range(cli_rounds):
                net.stop(victim.id)
                bad = max(1, (height(net, _peer(net, "hospital")) or 3) // 3 + i)
                corrupt_block(net, victim, bad, "header")
                command = [sys.executable, "-m", "careledger.cli", "ledger", "repair", "--dir",
                           str(net.directory), victim.id]
                repaired = subprocess.run(command, capture_output=True, text=True, timeout=120)
                if repaired.returncode != 0 or f"block {bad}" not in repaired.stdout:
                    said = repaired.stdout + repaired.stderr
                    row.fail(f"b) ledger repair exit {repaired.returncode}: {said}")
                elif i == 0:
                    row.notes.append(f"b) ledger repair: {repaired.stdout.splitlines()[0][:160]}…")
                started = time.monotonic()
                net.start(victim.id)
                caught = wait_caught_up(net, victim, _top(net, victim))
                row.recovered(None if caught is None else time.monotonic() - started, "b) ledger repair")
                load.wait_for(5, timeout=60)
            row.faults = (f"{1 + cli_rounds} × one flipped byte on {victim.id}: 1 in a block's data "
                          f"(auto repair, orderer down at first), {cli_rounds} in a header (ledger repair)")
            acknowledged = load.stop()
            row.judge(check_network(net, acknowledged))
        finally:
            shut_down(net)
    return row


def flip_validation_code(net: LocalNetwork, node: NodeInfo, number: int) -> tuple[int, str, str]:
    """Change the first VALID code of block `number` in the stopped peer's block file to
    DUPLICATE_TXID (same length); returns (tx number, old name, new name)."""
    path = net.layout.node_data(node) / "blocks" / "blocks.bin"
    start, end = _record_offsets(path)[number]
    data = bytearray(path.read_bytes())
    block = common_pb2.Block.FromString(bytes(data[start:end]))
    tx = list(block.metadata.validation_codes).index(common_pb2.VALID)
    block.metadata.validation_codes[tx] = common_pb2.DUPLICATE_TXID
    raw = block.SerializeToString(deterministic=True)
    assert len(raw) == end - start
    data[start:end] = raw
    path.write_bytes(bytes(data))
    return tx, "VALID", "DUPLICATE_TXID"


def change_state_value(net: LocalNetwork, node: NodeInfo) -> tuple[str, int]:
    """Change one world-state value in the stopped peer's state.db; returns (ns/key, its block)."""
    with sqlite3.connect(net.layout.node_data(node) / "state.db") as db:
        ns, key, block = db.execute(
            "SELECT ns, key, block_num FROM state ORDER BY block_num LIMIT 1").fetchone()
        db.execute("UPDATE state SET value = ? WHERE ns = ? AND key = ?", (b'{"forged": true}', ns, key))
    return f"{ns}/{key}", int(block)


def _verify(net: LocalNetwork, *extra: str) -> tuple[int, dict[str, dict[str, object]]]:
    command = [sys.executable, "-m", "careledger.cli", "ledger", "verify", "--dir", str(net.directory),
               "--json", *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return done.returncode, json.loads(done.stdout or "{}")


def tampered_ledger(rounds: int = 1) -> Row:
    """Scenario 8: a validation code changed in a block file, and a value changed in a state
    database, on a stopped peer. `ledger verify` names each (block; block and key with --state); at
    start-up the peer finds them before it serves: it re-fetches and re-validates the block, and
    rebuilds its state from the blocks."""
    row = Row("8", "tampered validation code, tampered state database", "")
    with local_network(NETWORK_CONFIG) as net:
        try:
            load = Load(net, ("hospital", "insurer")).start()
            load.wait_for(20)
            victim = _peer(net, "board")
            for i in range(rounds):
                # a) a validation code in the block file: VALID -> DUPLICATE_TXID
                net.stop(victim.id)
                bad = max(1, (height(net, _peer(net, "hospital")) or 3) // 2 - i)
                tx, old, new = flip_validation_code(net, victim, bad)
                code, report = _verify(net)
                said = str(report.get(victim.id, {}).get("problem", ""))
                if code != 1 or f"block {bad}: transaction {tx} is {new}" not in said:
                    row.fail(f"a) verify exit {code} did not name block {bad}: {said or report}")
                elif i == 0:
                    row.notes.append(f"a) ledger verify: {victim.id}: {said.split(': ', 1)[-1][:150]}…")
                started = time.monotonic()
                net.start(victim.id, timeout=90)
                named = log_mentions(net, victim, "damaged", f"block {bad}", "was committed as")
                caught = wait_caught_up(net, victim, _top(net, victim))
                if not named:
                    row.fail(f"a) {victim.id}'s log does not name the changed code of block {bad}")
                row.recovered(None if caught is None else time.monotonic() - started, "a) code re-validated")
                load.wait_for(5, timeout=60)
                # b) a value in the state database
                net.stop(victim.id)
                key, block = change_state_value(net, victim)
                code, report = _verify(net, "--state")
                said = str(report.get(victim.id, {}).get("problem", ""))
                if code != 1 or f"block {block}, key {key}" not in said:
                    row.fail(f"b) verify --state exit {code} did not name block {block}, key {key}: "
                             f"{said or report}")
                elif i == 0:
                    row.notes.append(f"b) ledger verify --state: {victim.id}: {said[:150]}…")
                started = time.monotonic()
                net.start(victim.id, timeout=90)
                named = log_mentions(net, victim, "rebuilt from the blocks", f"block {block}, key {key}")
                caught = wait_caught_up(net, victim, _top(net, victim))
                if not named:
                    row.fail(f"b) {victim.id}'s log does not name block {block}, key {key}")
                row.recovered(None if caught is None else time.monotonic() - started, "b) state rebuilt")
                load.wait_for(5, timeout=60)
            row.faults = (f"{rounds} × a VALID code made DUPLICATE_TXID in {victim.id}'s block file, "
                          f"{rounds} × a world-state value changed in its state.db (peer stopped)")
            acknowledged = load.stop()
            code, report = _verify(net, "--state")
            if code != 0:
                row.fail(f"ledger verify --state after the repairs: {report}")
            row.judge(check_network(net, acknowledged))
        finally:
            shut_down(net)
    return row


def bad_input(streams: int = 500, with_e2e: bool = True) -> tuple[Row, list[Case]]:
    """Scenario 7: every bad input against a live network: clear status, ledger unchanged."""
    with local_network(NETWORK_CONFIG) as net:
        try:
            cases = new_cases(net, streams)
        finally:
            shut_down(net)
    if with_e2e:
        cases += run_e2e_cases()
    row = Row("7", "bad input", f"{len(cases)} kinds of bad input (listed below)")
    row.recovery = max((c.recovery for c in cases if c.recovery is not None), default=None)
    for case in cases:
        if not case.ok:
            row.fail(f"{case.name}: {case.told}")
    return row, cases


def table(rows: Sequence[Row], cases: Sequence[Case]) -> str:
    """The campaign table in Markdown, then the bad-input cases one per line."""
    def num(value: int | None) -> str:
        return "–" if value is None else str(value)

    lines = ["| # | scenario | faults injected | tx acknowledged | lost | max recovery | result |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r.number):
        result = "PASS" if r.ok else "FAIL"
        recovery = "–" if r.recovery is None else f"{r.recovery:.1f} s"
        lines.append(f"| {r.number} | {r.scenario} | {r.faults} | {num(r.acknowledged)} | {num(r.lost)} "
                     f"| {recovery} | {result} |")
    notes = [f"- {r.number}: {n}" for r in sorted(rows, key=lambda r: r.number) for n in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    if cases:
        lines += ["", "Bad input (scenario 7):", "",
                  "| input | result | what the client was told | proven in |", "|---|---|---|---|"]
        for c in cases:
            told = c.told.replace("|", "\\|").replace("\n", " ")[:220]
            lines.append(f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {told} | `{c.where}` |")
    # the networks lived in temporary folders: name them the same way everywhere
    return re.sub(r"/\S*?/careledger-[A-Za-z0-9_]+", "$NET", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="more kills, longer faults (minutes)")
    parser.add_argument("--scenario", default="1,2,3,4,5,6,7,8", help="comma-separated scenario numbers")
    parser.add_argument("--no-e2e", action="store_true", help="skip re-running the e2e bad-input tests")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    wanted = {s.strip() for s in args.scenario.split(",")}
    full = args.full
    rows: list[Row] = []
    cases: list[Case] = []
    started = time.monotonic()
    runs: dict[str, Callable[[], Row]] = {
        "1": lambda: kill_orderer_leader(kills=8 if full else 5),
        "2": lambda: kill_etcd_members(single=3 if full else 1, double=3 if full else 1,
                                       pause=8 if full else 4),
        "3": lambda: kill_whole_ordering_service(rounds=3 if full else 1, down_for=5 if full else 2),
        "4": lambda: kill_peers_during_commit(kills=20 if full else 5),
        "5": lambda: disk_full(full_seconds=10 if full else 3, rounds=4 if full else 2),
        "6": lambda: corrupted_block_file(cli_rounds=3 if full else 1),
        "8": lambda: tampered_ledger(rounds=3 if full else 1),
    }
    for number, run in runs.items():
        if number in wanted:
            print(f"scenario {number} ...", file=sys.stderr, flush=True)
            rows.append(run())
    if "7" in wanted:
        print("scenario 7 ...", file=sys.stderr, flush=True)
        row, cases = bad_input(with_e2e=not args.no_e2e)
        rows.append(row)
    text = table(rows, cases)
    text += f"\n\n(campaign took {time.monotonic() - started:.0f} s)"
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
