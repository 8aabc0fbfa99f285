"""`careledger ledger verify`'s checks of the peers' state databases, read-only (peers may run).

- each peer's block file against the commit records its state database kept (codes, hashes);
- the peers' commit hashes against each other, block by block: a peer that applied other codes or
  other writes than the rest is named with the first block where it differs;
- with `--state`: every block re-validated from block 0 into a scratch state (deterministic: the
  time is the block's), its codes compared with the block file's and the result with the peer's
  state database, naming each differing block and key.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.identity.membership import Membership
from careledger.network.ledger.blockstore import BLOCKS_FILE, read_raw_blocks
from careledger.network.peer import snapshot, statecheck
from careledger.network.peer.definitions import ContractDefinitions
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE
from careledger.network.peer.statedb import CommitRecord, StateDB
from careledger.network.peer.validation import Validator
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode


@dataclass(frozen=True)
class StateReport:
    """What re-validating a peer's blocks found against its block file and state database."""

    node: str
    blocks: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def commit_records(layout: Layout, node: NodeInfo) -> dict[int, CommitRecord]:
    """A peer's commit records, by block number."""
    return statecheck.read_commit_records(layout.node_data(node) / STATE_FILE)


def compare_peers(records: Mapping[str, Mapping[int, CommitRecord]]) -> dict[str, str]:
    """For each peer whose commit hashes part from the majority's: the first such block, named."""
    problems: dict[str, str] = {}
    blocks = sorted({n for per_peer in records.values() for n in per_peer})
    for number in blocks:
        held = {peer: r[number] for peer, r in records.items() if number in r and peer not in problems}
        if len(held) < 2:
            continue
        votes = Counter(r.commit_hash for r in held.values())
        (winner, count), *rest = votes.most_common()
        if not rest:
            continue
        if rest[0][1] == count:
            winner = b""  # no majority: every peer is named
        agreeing = sorted(p for p, r in held.items() if r.commit_hash == winner)
        for peer, record in held.items():
            if record.commit_hash != winner:
                codes = ", ".join(_name(c) for c in record.codes)
                problems[peer] = (
                    f"block {number}: commit hash {record.commit_hash.hex()[:16]}… differs from "
                    + (f"{', '.join(agreeing)} ({winner.hex()[:16]}…)" if agreeing else "every other peer")
                    + f"; it committed codes [{codes}]"
                )
    return problems


def _name(code: int) -> str:
    try:
        return VC.Name(code)
    except ValueError:
        return str(code)


def _stored_state(path: Path) -> tuple[int | None, dict[tuple[str, str], tuple[bytes, tuple[int, int]]]]:
    """(savepoint, rows) of a state database, read in one read transaction."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        conn.execute("BEGIN")
        row = conn.execute("SELECT value FROM meta WHERE name = 'savepoint'").fetchone()
        rows = conn.execute("SELECT ns, key, value, block_num, tx_num FROM state").fetchall()
        conn.execute("COMMIT")
    finally:
        conn.close()
    return (None if row is None else int(row[0]),
            {(ns, key): (bytes(v), (b, t)) for ns, key, v, b, t in rows})


def verify_state(layout: Layout, profile: Profile, node: NodeInfo) -> StateReport:
    """Re-validate the peer's blocks up to its state's savepoint and compare codes and state."""
    data = layout.node_data(node)
    if not (data / STATE_FILE).is_file():
        return StateReport(node.id, 0, (f"no state database at {data / STATE_FILE}",))
    savepoint, stored = _stored_state(data / STATE_FILE)
    read = read_raw_blocks(data / BLOCKS_DIR / BLOCKS_FILE)
    raw, first = read.blocks, read.first
    height = 0 if savepoint is None else min(savepoint + 1, first + len(raw))
    members = Membership.from_crypto_dir(layout.crypto, profile.orgs)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="careledger-verify-") as tmp:
        if first:  # joined from a snapshot: re-validation starts from the snapshot's state
            kept = data / snapshot.KEPT_COPY
            if not kept.is_file():
                return StateReport(node.id, 0, (f"the ledger begins at block {first} but the snapshot it "
                                                f"joined from is not kept at {kept}",))
            shutil.copyfile(kept, Path(tmp) / STATE_FILE)
        scratch = StateDB(Path(tmp) / STATE_FILE)
        try:
            _revalidate(profile, members, scratch, raw, first, height, problems)
            expected = scratch.state_rows()
        finally:
            scratch.close()
    problems.extend(d.describe() for d in statecheck.diff(stored, expected))
    return StateReport(node.id, height, tuple(problems))


def _revalidate(profile: Profile, members: Membership, scratch: StateDB, raw: tuple[bytes, ...],
                first: int, height: int, problems: list[str]) -> None:
    """Validate blocks first..height-1 into `scratch`, noting each code that differs."""
    # contract policies as the replay commits them: each block judged by the definitions before it
    validator = Validator(profile.channel, members, ContractDefinitions(scratch, profile.orgs), scratch,
                          clock_skew=timedelta(seconds=profile.orderer.clock_skew_s))
    for number in range(first, height):
        block = common_pb2.Block.FromString(raw[number - first])
        outcomes = validator.validate(block)
        for tx_num, (stored_code, outcome) in enumerate(
                zip(block.metadata.validation_codes, outcomes, strict=False)):
            if stored_code != outcome.code:
                problems.append(
                    f"block {number}, transaction {tx_num}: {_name(stored_code)} in the block "
                    f"file, but re-validation gives {_name(outcome.code)}")
        scratch.apply_block(number, outcomes)
