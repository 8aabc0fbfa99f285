"""Is a peer's state database what its blocks say it should be?

Three checks, from cheap to thorough:
- `commit_problem`: a stored block against the commit record the state database kept when it
  applied that block (codes, commit hash). A validation code changed in the block file after the
  commit shows here; start-up repair cuts the chain at that block and re-validates it.
- `StateDB.scan_digest` against the digest of the last commit record: a world-state row changed
  outside a commit shows here; the ledger then rebuilds its state from the blocks (`rebuild`) and
  names what differed (`diff`).
- `ledger verify --state` re-validates every block into a fresh state and compares everything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from careledger.chaincode.state import Version
from careledger.network.peer import commithash
from careledger.network.peer.statedb import CommitRecord, StateDB
from careledger.network.peer.validation import ValidationError, replay_outcomes
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode
Rows = Mapping[tuple[str, str], tuple[bytes, Version]]


def _code_name(code: int) -> str:
    try:
        return VC.Name(code)
    except ValueError:
        return str(code)


def _short(value: bytes | None) -> str:
    if value is None:
        return "nothing"
    text = repr(value[:40]) + ("…" if len(value) > 40 else "")
    return text


@dataclass(frozen=True)
class StateDiff:
    """One world-state key whose stored row is not what the blocks give."""

    ns: str
    key: str
    block: int  # the block that wrote the row the blocks give (or, if there is none, the stored one)
    stored: bytes | None
    expected: bytes | None

    def describe(self) -> str:
        return (f"block {self.block}, key {self.ns}/{self.key}: the state database holds "
                f"{_short(self.stored)} but the blocks give {_short(self.expected)}")


def code_problem(block: common_pb2.Block, record: CommitRecord) -> str:
    """How the block's stored codes differ from those committed to state, or ""."""
    stored = list(block.metadata.validation_codes)
    committed = list(record.codes)
    if len(stored) != len(committed):
        return (f"carries {len(stored)} validation codes but {len(committed)} were committed to the "
                "state database")
    for tx_num, (now, then) in enumerate(zip(stored, committed, strict=True)):
        if now != then:
            return (f"transaction {tx_num} is {_code_name(now)} in the block file but was committed as "
                    f"{_code_name(then)}: the block file's validation codes were altered")
    return ""


def commit_problem(block: common_pb2.Block, record: CommitRecord, previous_hash: bytes) -> str:
    """What is wrong between a stored block and its commit record, or ""."""
    problem = code_problem(block, record)
    if problem:
        return problem
    try:
        outcomes = replay_outcomes(block)
    except ValidationError as exc:
        return str(exc)
    if commithash.commit_hash(previous_hash, block.header.number, outcomes) != record.commit_hash:
        return ("its commit hash does not match its codes and writes: the state database's commit "
                "record or the block was altered")
    return ""


def read_commit_records(state_file: Path, since: int = 0) -> dict[int, CommitRecord]:
    """A state database's commit records (from block `since` on), read-only (the peer may be
    running); {} if none."""
    if not Path(state_file).is_file():
        return {}
    conn = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True, timeout=30.0)
    try:
        rows = conn.execute(
            "SELECT block_num, commit_hash, codes, state_digest FROM commits WHERE block_num >= ? "
            "ORDER BY block_num", (since,)
        ).fetchall()
    except sqlite3.OperationalError:  # a state.db from before commit records
        return {}
    finally:
        conn.close()
    return {r[0]: CommitRecord(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in rows}


def rebuild(blocks: Iterable[common_pb2.Block], path: Path) -> StateDB:
    """A fresh state database at `path` from `blocks` and their stored codes (replaced if present)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    state = StateDB(path)
    for block in blocks:
        state.apply_block(block.header.number, replay_outcomes(block))
    return state


def diff(stored: Rows, expected: Rows) -> list[StateDiff]:
    """Every key whose row differs between `stored` and `expected`, by block then key."""
    found = []
    for ns_key in sorted(set(stored) | set(expected)):
        have, want = stored.get(ns_key), expected.get(ns_key)
        if have == want:
            continue
        block = want[1][0] if want is not None else have[1][0] if have is not None else 0
        found.append(StateDiff(ns_key[0], ns_key[1], block, None if have is None else have[0],
                               None if want is None else want[0]))
    return sorted(found, key=lambda d: (d.block, d.ns, d.key))
