"""Checks that a chain of blocks is intact: numbering, hash chain, data hashes, block times that
never go back, orderer signatures.

`check_block` is what a peer applies to every delivered block before committing it; `verify_*`
apply it to a whole stored chain (read raw, never through a store that could repair it) so that
`careledger ledger verify` can name the first block that was altered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError

from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Membership
from careledger.network.ledger import protoutil, txtime
from careledger.network.ledger.blockstore import BLOCKS_FILE, base_header, read_raw_blocks
from careledger.protos import common_pb2

GENESIS_PREVIOUS_HASH = bytes(32)


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of verifying a chain; `problem` names the first bad block and what failed."""

    ok: bool
    height: int
    first_bad_block: int | None
    problem: str
    note: str = ""  # something worth knowing that is not a defect, e.g. a torn tail


def check_block(
    block: common_pb2.Block,
    previous: common_pb2.BlockHeader | None,
    expected_number: int,
    orderer_membership: Membership,
) -> str:
    """What is wrong with `block` as the successor of `previous`, or "" if nothing is."""
    header = block.header
    if header.number != expected_number:
        return f"carries number {header.number}, expected {expected_number}"
    expected_previous = protoutil.header_hash(previous) if previous is not None else GENESIS_PREVIOUS_HASH
    if header.previous_hash != expected_previous:
        return (
            f"previous_hash {header.previous_hash.hex()[:16]}… does not match the hash "
            f"{expected_previous.hex()[:16]}… of block {expected_number - 1}'s header"
            if previous is not None
            else "block 0 must have 32 zero bytes as previous_hash"
        )
    if header.data_hash != protoutil.data_hash(block.data.envelopes):
        return "data_hash does not match its transactions: the block's data was altered"
    made, before = txtime.block_time(header), txtime.block_time(previous) if previous is not None else None
    if before is not None and (made is None or made < before):
        return (f"time {txtime.iso(made) if made else '(none)'} is earlier than block "
                f"{expected_number - 1}'s time {txtime.iso(before)}")
    try:
        identity = orderer_membership.verify(
            block.metadata.orderer,
            header.SerializeToString(deterministic=True),
            block.metadata.signature,
        )
    except IdentityError as exc:
        return f"orderer signature is not valid: {exc}"
    if identity.role != "orderer":
        return f"signed by {identity.id}, a {identity.role}, not an orderer"
    return ""


def verify_blocks(blocks: Iterable[bytes], orderer_membership: Membership, first: int = 0,
                  previous: common_pb2.BlockHeader | None = None) -> VerifyReport:
    """Verify serialized blocks in order from block `first` (0, or after a snapshot's block
    whose header is `previous`)."""
    height = first
    for number, raw in enumerate(blocks, start=first):
        height = number + 1
        block = common_pb2.Block()
        try:
            block.ParseFromString(raw)
        except DecodeError as exc:
            return VerifyReport(False, height, number, f"block {number} does not parse: {exc}")
        problem = check_block(block, previous, number, orderer_membership)
        if problem:
            return VerifyReport(False, height, number, f"block {number}: {problem}")
        previous = block.header
    return VerifyReport(True, height, None, "")


def verify_directory(blocks_dir: Path, orderer_membership: Membership) -> VerifyReport:
    """Verify the chain in a BlockStore folder, reading its file raw."""
    path = Path(blocks_dir) / BLOCKS_FILE
    if not path.is_file():
        return VerifyReport(False, 0, None, f"no block file at {path}; is this a node's blocks folder?")
    raw = read_raw_blocks(path)
    report = verify_blocks(raw.blocks, orderer_membership, raw.first, base_header(path.parent))
    if raw.torn_tail and report.ok:
        note = (
            f"{raw.torn_tail} bytes after block {raw.first + len(raw.blocks) - 1} are an unfinished write "
            "(a crash or a write in progress); the node cuts them when it next opens the store"
        )
        return VerifyReport(True, report.height, None, "", note)
    return report
