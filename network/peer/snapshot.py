"""Snapshots: a peer's state at one block, so that a new peer joins without replaying from block 0.

A snapshot is one SQLite file: a consistent copy of the peer's state database at its last
committed block N (world state, key history, the transaction index that duplicate tx ids are
found by, the commit records) plus a manifest signed by the peer that took it: N, block N's
header with the orderer's signature over it, its header hash, the commit hash and state digest
of N, and SHA-256 hashes of the transaction index and of the history.

A joining peer (`install`) refuses a snapshot unless: the manifest is signed by a peer of the
channel; block N's header is signed by an orderer and hashes as the manifest says; the rows give
the state digest, and the index and history their hashes; the commit record of N holds the
manifest's commit hash and digest; and the other peers it can reach (`compare`) hold the same
commit hash, state digest and header hash at N (at least one must answer). Each refusal names
what differs. It then keeps the state, begins its block store after N (chained to N's header)
and fetches the blocks after N from the orderers like any peer catching up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.ledger.blockstore import BLOCKS_FILE, BlockStore, base_header, read_raw_blocks
from careledger.network.peer import checkpoint, commithash
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE
from careledger.protos import common_pb2

KEPT_COPY = "snapshot.db"  # the installed snapshot, kept so that `ledger verify --state` starts there
_MANIFEST_TABLE = "snapshot_manifest"


class SnapshotError(Exception):
    """A snapshot cannot be taken, or is refused; the message names what differs."""


@dataclass(frozen=True)
class Manifest:
    """What a snapshot claims, signed by the peer that took it (hex strings, for JSON)."""

    channel: str
    block_number: int
    header: str  # block N's serialized header
    header_hash: str
    orderer: str  # PEM of the orderer that signed the header
    orderer_signature: str
    commit_hash: str
    state_digest: str
    txindex_hash: str
    history_hash: str
    peer: str  # PEM of the peer that took the snapshot

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def describe(self) -> dict[str, object]:
        """For the CLI: the block, its hashes and who took it (certificates left out)."""
        return {"block": self.block_number, "header_hash": self.header_hash,
                "commit_hash": self.commit_hash, "state_digest": self.state_digest}


def _table_hash(conn: sqlite3.Connection, sql: str) -> str:
    h = hashlib.sha256()
    for row in conn.execute(sql):
        for field in row:
            data = field if isinstance(field, bytes) else str(field).encode()
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
    return h.hexdigest()


def _digest(conn: sqlite3.Connection) -> bytes:
    digest = 0
    for ns, key, value, block_num, tx_num in conn.execute(
            "SELECT ns, key, value, block_num, tx_num FROM state"):
        digest = commithash.add(digest, commithash.row_hash(ns, key, bytes(value), block_num, tx_num))
    return commithash.digest_bytes(digest)


_TXINDEX_SQL = "SELECT tx_id, code, block_num, tx_num FROM txindex ORDER BY tx_id"
_HISTORY_SQL = ("SELECT ns, key, block_num, tx_num, tx_id, value, is_delete, timestamp FROM history "
                "ORDER BY ns, key, block_num, tx_num")


def _block_header(data_dir: Path, number: int) -> common_pb2.Block:
    """Block `number` of a peer's block file (header and orderer signature are what is used)."""
    blocks_dir = Path(data_dir) / BLOCKS_DIR
    base = base_header(blocks_dir)
    if base is not None and base.number == number:  # the peer itself joined from a snapshot
        raise SnapshotError(f"block {number} is the snapshot this peer joined from; take a snapshot "
                            "after it has committed a block of its own")
    raw = read_raw_blocks(blocks_dir / BLOCKS_FILE, since=number)
    if raw.first != number or not raw.blocks:
        raise SnapshotError(f"block {number} is not in {blocks_dir / BLOCKS_FILE}")
    return common_pb2.Block.FromString(raw.blocks[0])


def create(data_dir: Path, signer: Signer, channel: str, out: Path) -> Manifest:
    """Write a snapshot of the peer's state at its last committed block to `out` (the peer may
    be running: the copy is one SQLite read transaction)."""
    state = Path(data_dir) / STATE_FILE
    if not state.is_file():
        raise SnapshotError(f"no state database at {state}")
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=30.0)
    try:
        source.execute("VACUUM INTO ?", (str(tmp),))
    finally:
        source.close()
    conn = sqlite3.connect(tmp)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'savepoint'").fetchone()
        if row is None:
            raise SnapshotError(f"{state} has committed no block yet")
        number = int(row[0])
        record = conn.execute("SELECT commit_hash, state_digest FROM commits WHERE block_num = ?",
                              (number,)).fetchone()
        if record is None:
            raise SnapshotError(f"{state} has no commit record for block {number}")
        if _digest(conn) != bytes(record[1]):
            raise SnapshotError(f"the state of {state} does not match its digest at block {number}: "
                                "restart the peer to rebuild it before taking a snapshot")
        block = _block_header(data_dir, number)
        manifest = Manifest(
            channel=channel, block_number=number,
            header=block.header.SerializeToString(deterministic=True).hex(),
            header_hash=protoutil.header_hash(block.header).hex(),
            orderer=block.metadata.orderer.decode(), orderer_signature=block.metadata.signature.hex(),
            commit_hash=bytes(record[0]).hex(), state_digest=bytes(record[1]).hex(),
            txindex_hash=_table_hash(conn, _TXINDEX_SQL), history_hash=_table_hash(conn, _HISTORY_SQL),
            peer=signer.cert_pem.decode())
        conn.execute(f"CREATE TABLE {_MANIFEST_TABLE} (manifest TEXT NOT NULL, signature BLOB NOT NULL)")
        conn.execute(f"INSERT INTO {_MANIFEST_TABLE} VALUES (?, ?)",
                     (manifest.payload().decode(), signer.sign(manifest.payload())))
        conn.commit()
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp, out)
    return manifest


def read_manifest(path: Path) -> tuple[Manifest, bytes]:
    """The manifest of a snapshot file and its signature (unchecked)."""
    if not Path(path).is_file():
        raise SnapshotError(f"no snapshot at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(f"SELECT manifest, signature FROM {_MANIFEST_TABLE}").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"{path} is not a snapshot ({exc})") from exc
    finally:
        conn.close()
    if row is None:
        raise SnapshotError(f"{path} has no manifest")
    try:
        return Manifest(**json.loads(row[0])), bytes(row[1])
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"{path}: the manifest does not parse ({exc})") from exc


def verify(path: Path, channel: str, members: Membership, orderers: Membership) -> Manifest:
    """Check a snapshot file on its own: signatures, header, state digest, table hashes."""
    manifest, signature = read_manifest(path)
    if manifest.channel != channel:
        raise SnapshotError(f"the snapshot is of channel {manifest.channel!r}, not {channel!r}")
    try:
        taker = members.verify(manifest.peer.encode(), manifest.payload(), signature)
    except IdentityError as exc:
        raise SnapshotError(f"the snapshot's manifest is not validly signed by a member: {exc}") from exc
    if taker.role != "peer":
        raise SnapshotError(f"the snapshot is signed by {taker.id}, a {taker.role}, not a peer")
    header = common_pb2.BlockHeader.FromString(bytes.fromhex(manifest.header))
    block = common_pb2.Block(header=header)
    block.metadata.orderer = manifest.orderer.encode()
    block.metadata.signature = bytes.fromhex(manifest.orderer_signature)
    if header.number != manifest.block_number:
        raise SnapshotError(f"the snapshot's header is of block {header.number}, its manifest says "
                            f"{manifest.block_number}")
    if protoutil.header_hash(header).hex() != manifest.header_hash:
        raise SnapshotError("the header hash of the snapshot's block differs from its manifest's")
    try:
        identity = orderers.verify(block.metadata.orderer, header.SerializeToString(deterministic=True),
                                   block.metadata.signature)
    except IdentityError as exc:
        raise SnapshotError(f"block {header.number}'s header is not signed by an orderer: {exc}") from exc
    if identity.role != "orderer":
        raise SnapshotError(f"block {header.number}'s header is signed by {identity.id}, not an orderer")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'savepoint'").fetchone()
        if row is None or int(row[0]) != manifest.block_number:
            raise SnapshotError(f"the snapshot's state is at block {None if row is None else row[0]}, "
                                f"its manifest says {manifest.block_number}")
        record = conn.execute("SELECT commit_hash, state_digest FROM commits WHERE block_num = ?",
                              (manifest.block_number,)).fetchone()
        digest = _digest(conn).hex()
        found = {"txindex": _table_hash(conn, _TXINDEX_SQL), "history": _table_hash(conn, _HISTORY_SQL)}
    finally:
        conn.close()
    if digest != manifest.state_digest:
        raise SnapshotError(f"the snapshot's state rows give digest {digest[:16]}…, its manifest says "
                            f"{manifest.state_digest[:16]}…: a state row was changed")
    if record is None or bytes(record[0]).hex() != manifest.commit_hash or (
            bytes(record[1]).hex() != manifest.state_digest):
        raise SnapshotError(f"the snapshot's commit record of block {manifest.block_number} differs "
                            "from its manifest's commit hash or state digest")
    for table, value in found.items():
        if value != getattr(manifest, f"{table}_hash"):
            raise SnapshotError(f"the snapshot's {table} table hashes to {value[:16]}…, its manifest "
                                f"says {getattr(manifest, f'{table}_hash')[:16]}…: a row was changed")
    return manifest


@dataclass(frozen=True)
class PeerAnswer:
    """Another peer's commit info at the snapshot's block, or why it could not be asked."""

    commit_hash: bytes = b""
    state_digest: bytes = b""
    header_hash: bytes = b""
    error: str = ""


def compare(manifest: Manifest, answers: Mapping[str, PeerAnswer]) -> list[str]:
    """The peers that agree; SnapshotError naming the first peer and field that differs, or
    saying that no peer could be asked."""
    agreeing = []
    for peer, answer in sorted(answers.items()):
        if answer.error:
            continue
        for field in ("commit_hash", "state_digest", "header_hash"):
            theirs, ours = getattr(answer, field).hex(), getattr(manifest, field)
            if theirs != ours:
                raise SnapshotError(
                    f"the snapshot's {field.replace('_', ' ')} at block {manifest.block_number} is "
                    f"{ours[:16]}…, but {peer} has {theirs[:16]}…")
        agreeing.append(peer)
    if not agreeing:
        tried = "; ".join(f"{p}: {a.error}" for p, a in sorted(answers.items())) or "no other peer"
        raise SnapshotError(f"no other peer could confirm block {manifest.block_number} ({tried})")
    return agreeing


def install(path: Path, data_dir: Path, manifest: Manifest,
            ask: Callable[[Iterable[str]], Mapping[str, PeerAnswer]], peers: Iterable[str]) -> list[str]:
    """Check a verified snapshot against other peers, then make it this peer's ledger.

    Refused if the peer's ledger folder already holds blocks or a state. Returns the agreeing peers.
    """
    data_dir = Path(data_dir)
    blocks = data_dir / BLOCKS_DIR
    if (data_dir / STATE_FILE).exists() or ((blocks / BLOCKS_FILE).exists()
                                            and (blocks / BLOCKS_FILE).stat().st_size):
        raise SnapshotError(f"{data_dir} already holds a ledger; a peer joins from a snapshot only "
                            "when its ledger folder is empty")
    agreeing = compare(manifest, ask(peers))
    data_dir.mkdir(parents=True, exist_ok=True)
    kept = data_dir / KEPT_COPY
    shutil.copyfile(path, kept)
    tmp = data_dir / (STATE_FILE + ".snapshot")
    shutil.copyfile(path, tmp)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute(f"DROP TABLE {_MANIFEST_TABLE}")
        conn.commit()
    finally:
        conn.close()
    header = common_pb2.BlockHeader.FromString(bytes.fromhex(manifest.header))
    with BlockStore.begin_at(blocks, header):
        pass
    checkpoint.remove(data_dir)
    os.replace(tmp, data_dir / STATE_FILE)
    return agreeing
