"""Append-only block files, shared by the peer and the orderer.

Each block is stored as a 4-byte big-endian length followed by the serialized Block. Only a torn
tail (a length running past the end of the file, left by a crash mid-write) is cut away on open;
a block whose bytes were altered is kept as is, so that `ledger verify` can report it instead of
the store silently forgetting it.

Opening reads only the length prefixes (a seek per block), not the blocks, so it costs the same
for a ledger of a million transactions as for a small one. A store may start at a block number
above 0 (a peer that joined from a snapshot): `blocks.first` beside the file holds that number.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from careledger.protos import common_pb2

log = logging.getLogger(__name__)

BLOCKS_FILE = "blocks.bin"
_LEN = 4


class BlockStoreError(Exception):
    """Base: the block store could not read or write a block."""


class BlockNotFoundError(BlockStoreError):
    """The requested block number is not (yet) in the store."""


class BlockOrderError(BlockStoreError):
    """A block was appended out of order: its number must equal the current height."""


class CorruptBlockError(BlockStoreError):
    """Stored bytes of a block no longer parse as a Block."""


class BlockWriteError(BlockStoreError):
    """The disk refused a block (full, quota, I/O error); the store is unchanged and may retry."""


FIRST_FILE = "blocks.first"  # beside the block file: the number of its first block, if not 0


@dataclass(frozen=True)
class RawBlockFile:
    """A block file read without parsing: each record's bytes, and the size of a torn tail.

    `blocks[i]` is block number `first + i`; `first` is 0 unless the store began at a snapshot.
    """

    blocks: tuple[bytes, ...]
    torn_tail: int
    first: int = 0


def _first_doc(blocks_dir: Path) -> dict[str, str | int]:
    path = Path(blocks_dir) / FIRST_FILE
    if not path.is_file():
        return {}
    doc: dict[str, str | int] = json.loads(path.read_text())
    return doc


def first_number(blocks_dir: Path) -> int:
    """The number of the first block a block folder holds (0 unless it began at a snapshot)."""
    return int(_first_doc(blocks_dir).get("first", 0))


def base_header(blocks_dir: Path) -> common_pb2.BlockHeader | None:
    """The header of the block before the first one held (the snapshot's block), or None."""
    doc = _first_doc(blocks_dir)
    if not doc:
        return None
    return common_pb2.BlockHeader.FromString(bytes.fromhex(str(doc["previous_header"])))


def read_raw_blocks(path: Path, since: int = 0) -> RawBlockFile:
    """Every complete record of a block file in order, for tools that must not trust the store.

    With `since`, only the records of blocks numbered `since` and later are read (the others are
    skipped by their length prefixes); `first` is then the number of the first record returned.
    """
    path = Path(path)
    first = first_number(path.parent)
    with path.open("rb") as f:
        offsets, size = scan_offsets(f)
        skip = min(max(since - first, 0), len(offsets))
        records = []
        for start, end in offsets[skip:]:
            f.seek(start)
            records.append(f.read(end - start))
    end = offsets[-1][1] if offsets else 0
    return RawBlockFile(tuple(records), size - end, first + skip)


def scan_offsets(f: BinaryIO) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of every complete record of an open block file, and the file's size.

    Reads only the 4-byte length prefixes; stops where a record would run past the end of file.
    """
    size = os.fstat(f.fileno()).st_size
    offsets: list[tuple[int, int]] = []
    pos = 0
    while pos + _LEN <= size:
        f.seek(pos)
        length = int.from_bytes(f.read(_LEN), "big")
        start = pos + _LEN
        if start + length > size:
            break
        offsets.append((start, start + length))
        pos = start + length
    return offsets, size


class BlockStore:
    """The chain of blocks on disk with an in-memory index of their offsets."""

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._path = self._dir / BLOCKS_FILE
        self._lock = threading.Lock()
        self._index: list[tuple[int, int]] = []
        self._first = first_number(self._dir)
        # read once: FIRST_FILE is written before a store opens (begin_at) and never changes after
        self._previous_header = base_header(self._dir)
        self._recover()
        # Unbuffered, so that after a failed write nothing is left in a buffer to be flushed later.
        self._writer = self._path.open("ab", buffering=0)
        self._reader = self._path.open("rb")

    def _recover(self) -> None:
        """Build the offset index; truncate a torn tail left by a crash mid-append."""
        if not self._path.exists():
            self._path.touch()
        with self._path.open("rb") as f:
            self._index, size = scan_offsets(f)
            valid_end = self._index[-1][1] if self._index else 0
            f.seek(valid_end)
            tail = f.read(size - valid_end) if valid_end < size else b""
        if tail:
            # Keep the cut bytes aside: a flipped length prefix looks like a torn tail too.
            torn = self._dir / f"{BLOCKS_FILE}.torn-{valid_end}"
            torn.write_bytes(tail)
            log.warning(
                "block store %s: torn tail of %d bytes after block %d truncated (kept in %s)",
                self._path,
                len(tail),
                self._first + len(self._index) - 1,
                torn,
            )
            with self._path.open("r+b") as f:
                f.truncate(valid_end)
                f.flush()
                os.fsync(f.fileno())

    @property
    def directory(self) -> Path:
        """The folder holding the block file."""
        return self._dir

    @property
    def first(self) -> int:
        """The number of the first block held: 0, or the block a snapshot was taken at."""
        return self._first

    @property
    def previous_header(self) -> common_pb2.BlockHeader | None:
        """The header of block `first - 1` when the store began at a snapshot, else None."""
        return self._previous_header

    @property
    def height(self) -> int:
        """The number the next block must carry (blocks before `first` are not held)."""
        return self._first + len(self._index)

    def end_offset(self, number: int) -> int:
        """The byte offset just past block `number` in the block file."""
        with self._lock:
            if not 0 <= number - self._first < len(self._index):
                raise BlockNotFoundError(f"block {number} not found: the store holds "
                                         f"{self._first}..{self.height - 1}")
            return self._index[number - self._first][1]

    def append(self, block: common_pb2.Block) -> None:
        """Write the block durably (fsync) at the end of the chain.

        If the disk refuses the write (e.g. it is full), whatever part of the record reached the
        file is cut off again and BlockWriteError is raised: the next append starts from the same
        clean end, so a full disk never leaves a gap or a half block inside the chain.
        """
        with self._lock:
            if block.header.number != self.height:
                raise BlockOrderError(
                    f"cannot append block {block.header.number}: the store's height is "
                    f"{self.height}, so the next block must be number {self.height}"
                )
            raw = block.SerializeToString(deterministic=True)
            end = self._end()
            record = memoryview(len(raw).to_bytes(_LEN, "big") + raw)
            try:
                self._cut_to(end)  # a previous failed append may have left bytes behind
                written = 0
                while written < len(record):
                    written += self._writer.write(record[written:]) or 0
                os.fsync(self._writer.fileno())
            except OSError as exc:
                try:
                    self._cut_to(end)
                except OSError as cut_exc:  # retried before the next append
                    log.error("block store %s: cannot cut a failed append: %s", self._path, cut_exc)
                raise BlockWriteError(
                    f"cannot write block {block.header.number} to {self._path}: {exc}; the block "
                    "was not stored and the store is unchanged"
                ) from exc
            self._index.append((end + _LEN, end + len(record)))

    def _end(self) -> int:
        """Offset just past the last complete block."""
        return self._index[-1][1] if self._index else 0

    def _cut_to(self, end: int) -> None:
        """Truncate the file to `end` if a failed write left anything beyond it."""
        if os.fstat(self._writer.fileno()).st_size != end:
            os.ftruncate(self._writer.fileno(), end)
            os.fsync(self._writer.fileno())

    def truncate(self, height: int) -> Path | None:
        """Keep blocks 0..height-1; move the bytes of the rest aside (returned) for inspection.

        Used by repair to cut a chain at its first damaged block, which is then fetched again
        from the orderers; the cut bytes are kept rather than destroyed.
        """
        with self._lock:
            if not self._first <= height <= self.height:
                raise BlockNotFoundError(
                    f"cannot keep {height} blocks: the store holds {self._first}..{self.height - 1}"
                )
            kept_records = height - self._first
            end = self._index[kept_records - 1][1] if kept_records else 0
            size = os.fstat(self._writer.fileno()).st_size
            kept = None
            if size > end:
                kept = self._dir / f"{BLOCKS_FILE}.cut-{height}"
                for attempt in range(1, 1000):  # never overwrite what an earlier repair kept
                    if not kept.exists():
                        break
                    kept = self._dir / f"{BLOCKS_FILE}.cut-{height}.{attempt}"
                self._reader.seek(end)
                kept.write_bytes(self._reader.read(size - end))
            os.ftruncate(self._writer.fileno(), end)
            os.fsync(self._writer.fileno())
            del self._index[kept_records:]
            return kept

    def get_bytes(self, number: int) -> bytes:
        """The block's stored bytes, exactly as written."""
        with self._lock:
            if not self._first <= number < self.height:
                raise BlockNotFoundError(
                    f"block {number} not found: the store's height is {self.height}"
                    + (f" and it begins at block {self._first} (a snapshot)" if self._first else "")
                )
            start, end = self._index[number - self._first]
            self._reader.seek(start)
            return self._reader.read(end - start)

    def get(self, number: int) -> common_pb2.Block:
        """The parsed block; CorruptBlockError if its stored bytes no longer parse."""
        raw = self.get_bytes(number)
        block = common_pb2.Block()
        try:
            block.ParseFromString(raw)
        except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
            raise CorruptBlockError(
                f"block {number} in {self._path} does not parse ({exc}); run `ledger verify`"
            ) from exc
        return block

    def iter_from(self, number: int) -> Iterator[common_pb2.Block]:
        """Blocks from `number` up to the height at each step (follows appends made meanwhile)."""
        while number < self.height:
            yield self.get(number)
            number += 1

    @classmethod
    def begin_at(cls, directory: Path, previous: common_pb2.BlockHeader) -> BlockStore:
        """An empty store whose first block will be the successor of `previous` (a peer joining
        from a snapshot taken at block `previous.number`), chained to that header; refused if
        the folder already holds blocks."""
        directory = Path(directory)
        first = previous.number + 1
        path = directory / BLOCKS_FILE
        if path.exists() and path.stat().st_size:
            raise BlockOrderError(f"{path} already holds blocks; a store begins at a block only when empty")
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (FIRST_FILE + ".tmp")
        doc = {"first": first, "previous_header": previous.SerializeToString(deterministic=True).hex()}
        with tmp.open("w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / FIRST_FILE)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(directory)

    def close(self) -> None:
        """Close the file handles; the store must not be used afterwards."""
        with self._lock:
            self._writer.close()
            self._reader.close()

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
