"""A peer's verified checkpoint: what start-up may skip because it was checked before.

Checking a whole chain (every block's orderer signature, data hash, codes against the commit
records) and scanning the whole world state against its digest cost time in proportion to the
ledger, which grows by millions of transactions a year. So the ledger keeps `checkpoint.json`
beside its block file, signed with the peer's own key and written atomically:

- `height`, `header_hash`, `commit_hash`: blocks 0..height-1 were verified (by the committer
  before it stored them, or by a start-up check), and what the last of them hashed to;
- `clean`, with a stamp (size, mtime, ctime, inode) of the block file and of the state database:
  written by a clean close, after the last commit, so the files are exactly as the peer left them.

At start-up (`at_start`, before anything opens the files):
- clean checkpoint, both stamps unchanged: nothing to check but the checkpointed block's header
  hash and commit record (O(1)); the state digest is not recomputed.
- not clean (the peer crashed or was killed): the blocks from `height` on are checked, and the
  checkpointed block's header hash must still match the file (O(tail)); the state is scanned
  against its digest, as a crash is rare.
- clean, but a stamp changed (a file edited while the peer was stopped), no checkpoint, or one
  that does not verify with the peer's key: the whole chain and the whole state are checked.

The trade-off: an edit that lands inside the verified prefix of a *crashed* peer's block file, or
in an old commit record, is not found at its next start; `careledger ledger verify [--state]`
always checks everything and finds it. Stamps rely on the kernel setting ctime on every write,
which user space cannot set back; forging a checkpoint needs the peer's private key.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.network.identity.signing import Signer

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.json"
EVERY_BLOCKS = 100  # a running peer moves its checkpoint this often (bounds the tail after a crash)
_BLOCKS = ("blocks", "blocks.bin")
_STATE = "state.db"


@dataclass(frozen=True)
class FileStamp:
    """What the kernel says about a file: any write changes at least ctime."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True)
class Checkpoint:
    """Blocks 0..height-1 were verified; with `clean`, the files are as the peer closed them."""

    height: int
    header_hash: str  # hex, of block height-1's header ("" when height is 0)
    commit_hash: str  # hex, of block height-1's commit record ("" if none)
    clean: bool = False
    blocks_file: FileStamp | None = None
    state_file: FileStamp | None = None

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class StartCheck:
    """What a checkpoint lets start-up skip; decided before the ledger's files are opened."""

    checkpoint: Checkpoint | None = None  # a checkpoint signed by this peer, or None
    blocks_unchanged: bool = False  # clean, and the block file is as the peer left it
    state_unchanged: bool = False  # clean, and the state database is as the peer left it
    reason: str = "no checkpoint"  # why less than everything may be skipped, for the log
    blocks_checked: bool = False  # set by the start-up block check once the whole file passed

    @property
    def tail_from(self) -> int | None:
        """The first block the start-up check must verify, or None for the whole chain."""
        cp = self.checkpoint
        if cp is None or (cp.clean and not self.blocks_unchanged):
            return None
        return cp.height


UNTRUSTED = StartCheck()


def path_of(data_dir: Path) -> Path:
    return Path(data_dir) / CHECKPOINT_FILE


def blocks_path(data_dir: Path) -> Path:
    return Path(data_dir).joinpath(*_BLOCKS)


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / _STATE


def _verify(signer: Signer, payload: bytes, signature: bytes) -> bool:
    key = x509.load_pem_x509_certificate(signer.cert_pem).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def read(data_dir: Path, signer: Signer) -> tuple[Checkpoint | None, str]:
    """The checkpoint if it is there and signed by `signer`'s key; else None and why."""
    path = path_of(data_dir)
    try:
        doc = json.loads(path.read_text())
        body = doc["checkpoint"]
        stamps = {k: (FileStamp(**body[k]) if body.get(k) else None) for k in ("blocks_file", "state_file")}
        cp = Checkpoint(int(body["height"]), str(body["header_hash"]), str(body["commit_hash"]),
                        bool(body["clean"]), stamps["blocks_file"], stamps["state_file"])
        signature = bytes.fromhex(doc["signature"])
    except FileNotFoundError:
        return None, "no checkpoint"
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"{path} is unreadable ({exc})"
    if not _verify(signer, cp.payload(), signature):
        return None, f"{path} is not signed by this peer's key"
    return cp, ""


def at_start(data_dir: Path, signer: Signer | None) -> StartCheck:
    """What may be skipped at this start; call before the block store or state is opened."""
    if signer is None:
        return UNTRUSTED
    cp, why = read(data_dir, signer)
    if cp is None:
        return StartCheck(reason=why)
    if not cp.clean:
        return StartCheck(cp, reason=f"the peer did not close cleanly: blocks from {cp.height} on "
                                     "are checked, and the whole state")
    blocks = FileStamp.of(blocks_path(data_dir)) == cp.blocks_file
    state = (FileStamp.of(state_path(data_dir)) == cp.state_file
             and not _nonempty(Path(f"{state_path(data_dir)}-wal")))
    reason = "" if blocks and state else (
        "changed since the peer closed them: " + ", ".join(
            n for n, same in (("the block file", blocks), ("the state database", state)) if not same))
    return StartCheck(cp, blocks, state, reason)


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def write(data_dir: Path, cp: Checkpoint, signer: Signer) -> None:
    """Replace the checkpoint atomically (temporary file, fsync, rename, fsync of the folder)."""
    path = path_of(data_dir)
    doc = {"checkpoint": asdict(cp), "signature": signer.sign(cp.payload()).hex()}
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        json.dump(doc, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(data_dir: Path) -> None:
    """Forget the checkpoint (the chain was cut or replaced): the next start checks everything."""
    path_of(data_dir).unlink(missing_ok=True)


def stamped(cp: Checkpoint, data_dir: Path) -> Checkpoint:
    """`cp` as written by a clean close: with the files' stamps taken now."""
    return Checkpoint(cp.height, cp.header_hash, cp.commit_hash, True,
                      FileStamp.of(blocks_path(data_dir)), FileStamp.of(state_path(data_dir)))
