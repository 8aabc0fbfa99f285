"""Find a peer's damaged blocks and cut them away, so that they are fetched again from the orderers.

A peer must not serve from a chain whose bytes changed on disk, nor silently skip the damage. At
start-up it checks its chain (what `ledger verify` checks, plus one validation code per
transaction) from its verified checkpoint on (`inspect_at_start`; checkpoint.py), the whole chain
when the checkpoint does not vouch for the file; on damage it names the first bad block, keeps its
gRPC port closed, cuts the chain there (the cut bytes are kept beside the file), rebuilds the
state from the intact blocks and commits the rest again from the orderers before it serves.
`careledger ledger repair` does the same for a stopped peer (network/tools/repair.py). Validation
codes are not covered by the orderer's signature, so each block's codes are also compared with the
commit record the state database kept when it applied the block (statecheck.py): a changed code
makes that block the first damaged one, and it is validated again when fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError

from careledger.network.identity.membership import Membership
from careledger.network.ledger import protoutil
from careledger.network.ledger.blockcheck import check_block
from careledger.network.ledger.blockstore import (
    BLOCKS_FILE,
    BlockStore,
    RawBlockFile,
    base_header,
    read_raw_blocks,
)
from careledger.network.peer import checkpoint, commithash, statecheck
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE
from careledger.network.peer.statedb import CommitRecord
from careledger.protos import common_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damage:
    """The first damaged block of a peer's chain, and how many blocks the file held in all."""

    first_bad_block: int
    stored: int  # complete records in the file, damaged ones included: the height to restore
    problem: str
    path: Path

    def describe(self) -> str:
        """One line naming the file and the block, for logs, /healthz and the CLI."""
        return f"{self.path}: {self.problem}"


def inspect(data_dir: Path, orderer_membership: Membership) -> Damage | None:
    """The first damaged block in the peer's block file, or None if the chain is intact."""
    path = Path(data_dir) / BLOCKS_DIR / BLOCKS_FILE
    if not path.is_file():
        return None
    raw = read_raw_blocks(path)
    records = statecheck.read_commit_records(Path(data_dir) / STATE_FILE)
    previous = base_header(path.parent) if raw.first else None
    commit = records[raw.first - 1].commit_hash if raw.first and raw.first - 1 in records else (
        commithash.GENESIS)
    return _first_damage(raw, raw.first, previous, commit, records, orderer_membership, path)


def inspect_at_start(data_dir: Path, orderer_membership: Membership,
                     start: checkpoint.StartCheck) -> Damage | None:
    """`inspect` at a peer's start-up, skipping what its verified checkpoint covers.

    From a checkpoint at height H: the blocks from H on are checked as `inspect` checks them, and
    block H-1 must still have the checkpointed header hash and commit hash; anything else falls
    back to the whole chain (checkpoint.py says when, and what this leaves to `ledger verify`).
    """
    since = start.tail_from
    path = Path(data_dir) / BLOCKS_DIR / BLOCKS_FILE
    if since is None or since == 0 or not path.is_file():
        return inspect(data_dir, orderer_membership)
    cp = start.checkpoint
    assert cp is not None
    raw = read_raw_blocks(path, since=since - 1)
    records = statecheck.read_commit_records(Path(data_dir) / STATE_FILE, since=since - 1)
    anchor_record = records.get(since - 1)
    if raw.first != since - 1 or not raw.blocks or anchor_record is None:
        log.warning("%s: the checkpointed block %d is gone; checking the whole chain", path, since - 1)
        return inspect(data_dir, orderer_membership)
    anchor = common_pb2.Block()
    try:
        anchor.ParseFromString(raw.blocks[0])
    except DecodeError:
        return inspect(data_dir, orderer_membership)
    if (protoutil.header_hash(anchor.header).hex() != cp.header_hash
            or anchor_record.commit_hash.hex() != cp.commit_hash):
        log.warning("%s: block %d no longer matches the checkpoint; checking the whole chain",
                    path, since - 1)
        return inspect(data_dir, orderer_membership)
    tail = RawBlockFile(raw.blocks[1:], raw.torn_tail, since)
    return _first_damage(tail, since, anchor.header, anchor_record.commit_hash, records,
                         orderer_membership, path)


def _first_damage(raw: RawBlockFile, first: int, previous: common_pb2.BlockHeader | None,
                  commit: bytes, records: Mapping[int, CommitRecord], orderer_membership: Membership,
                  path: Path) -> Damage | None:
    """Check raw blocks numbered from `first` on, chained to `previous` and its commit hash."""
    stored = first + len(raw.blocks)
    for number, data in enumerate(raw.blocks, start=first):
        block = common_pb2.Block()
        try:
            block.ParseFromString(data)
        except DecodeError as exc:
            return Damage(number, stored, f"block {number} does not parse ({exc})", path)
        problem = check_block(block, previous, number, orderer_membership)
        codes, txs = len(block.metadata.validation_codes), len(block.data.envelopes)
        if not problem and codes != txs:
            problem = f"carries {codes} validation codes for {txs} transactions"
        record = records.get(number)
        if not problem and record is not None:
            problem = statecheck.commit_problem(block, record, commit)
            commit = record.commit_hash
        if problem:
            return Damage(number, stored, f"block {number}: {problem}", path)
        previous = block.header
    return None


def cut(data_dir: Path, damage: Damage) -> Path | None:
    """Keep the blocks before the damaged one and drop the state, rebuilt from them on open.

    Returns the file holding the cut bytes. The state goes because it also reflects the cut
    blocks and SQLite cannot take back single blocks; it is derived data, so nothing is lost.
    """
    with BlockStore(Path(data_dir) / BLOCKS_DIR) as store:
        kept = store.truncate(damage.first_bad_block)
    for suffix in ("", "-wal", "-shm"):
        (Path(data_dir) / f"{STATE_FILE}{suffix}").unlink(missing_ok=True)
    checkpoint.remove(data_dir)
    return kept
