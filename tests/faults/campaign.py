"""The fault campaign: inject faults into a live network under load and prove nothing acknowledged is lost.

    python -m tests.faults.campaign [--full] [--scenario 4,5,6,7] [--markdown FILE]

Each scenario starts its own network (separate processes, TLS), runs a steady load of SDK submits,
injects its fault, and then checks every peer (faultharness.check_network): every acknowledged tx
present and VALID, identical blocks and world state on all peers, `ledger verify` clean. The
result is one table row per scenario; RELIABILITY.md holds the table of the last full run.
Scenarios 1-3 need the replicated (etcd) orderer and are listed as pending.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
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

from careledger.network import launcher  # noqa: E402
from careledger.network.config import NodeInfo  # noqa: E402
from careledger.network.testing import LocalNetwork, local_network  # noqa: E402


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


PENDING = [Row("1", "orderer leader kill -9", "pending etcd consenter", ok=False),
           Row("2", "etcd member kills", "pending etcd consenter", ok=False),
           Row("3", "whole-cluster kill", "pending etcd consenter", ok=False)]


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
        pending = r.faults.startswith("pending")
        result = "pending" if pending else ("PASS" if r.ok else "FAIL")
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
    parser.add_argument("--scenario", default="4,5,6,7", help="comma-separated scenario numbers")
    parser.add_argument("--no-e2e", action="store_true", help="skip re-running the e2e bad-input tests")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    wanted = {s.strip() for s in args.scenario.split(",")}
    full = args.full
    rows, cases = list(PENDING), []
    started = time.monotonic()
    runs: dict[str, Callable[[], Row]] = {
        "4": lambda: kill_peers_during_commit(kills=20 if full else 5),
        "5": lambda: disk_full(full_seconds=10 if full else 3, rounds=4 if full else 2),
        "6": lambda: corrupted_block_file(cli_rounds=3 if full else 1),
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
    return 0 if all(r.ok for r in rows if not r.faults.startswith("pending")) else 1


if __name__ == "__main__":
    sys.exit(main())
