"""Append-only block files, shared by the peer and the orderer.

Each block is stored as a 4-byte big-endian length followed by the serialized Block. Only a torn
tail (a length running past the end of the file, left by a crash mid-write) is cut away on open;
a block whose bytes were altered is kept as is, so that `ledger verify` can report it instead of
the store silently forgetting it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class RawBlockFile:
    """A block file read without parsing: each record's bytes, and the size of a torn tail."""

    blocks: tuple[bytes, ...]
    torn_tail: int


def read_raw_blocks(path: Path) -> RawBlockFile:
    """Every complete record of a block file in order, for tools that must not trust the store."""
    data = Path(path).read_bytes()
    records = tuple(data[start:end] for start, end in _scan(data))
    end = sum(_LEN + len(r) for r in records)
    return RawBlockFile(records, len(data) - end)


def _scan(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of every complete record in `data`; stops where a record would run past EOF."""
    pos = 0
    while pos + _LEN <= len(data):
        size = int.from_bytes(data[pos : pos + _LEN], "big")
        start = pos + _LEN
        if start + size > len(data):
            return
        yield start, start + size
        pos = start + size


class BlockStore:
    """The chain of blocks on disk with an in-memory index of their offsets."""

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._path = self._dir / BLOCKS_FILE
        self._lock = threading.Lock()
        self._index: list[tuple[int, int]] = []
        self._recover()
        # Unbuffered, so that after a failed write nothing is left in a buffer to be flushed later.
        self._writer = self._path.open("ab", buffering=0)
        self._reader = self._path.open("rb")

    def _recover(self) -> None:
        """Build the offset index; truncate a torn tail left by a crash mid-append."""
        self._path.touch(exist_ok=True)
        data = self._path.read_bytes()
        self._index = list(_scan(data))
        valid_end = self._index[-1][1] if self._index else 0
        if valid_end < len(data):
            # Keep the cut bytes aside: a flipped length prefix looks like a torn tail too.
            torn = self._dir / f"{BLOCKS_FILE}.torn-{valid_end}"
            torn.write_bytes(data[valid_end:])
            log.warning(
                "block store %s: torn tail of %d bytes after block %d truncated (kept in %s)",
                self._path,
                len(data) - valid_end,
                len(self._index) - 1,
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
    def height(self) -> int:
        """Number of blocks stored; also the number the next block must carry."""
        return len(self._index)

    def append(self, block: common_pb2.Block) -> None:
        """Write the block durably (fsync) at the end of the chain.

        If the disk refuses the write (e.g. it is full), whatever part of the record reached the
        file is cut off again and BlockWriteError is raised: the next append starts from the same
        clean end, so a full disk never leaves a gap or a half block inside the chain.
        """
        with self._lock:
            if block.header.number != len(self._index):
                raise BlockOrderError(
                    f"cannot append block {block.header.number}: the store's height is "
                    f"{len(self._index)}, so the next block must be number {len(self._index)}"
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
            if not 0 <= height <= len(self._index):
                raise BlockNotFoundError(
                    f"cannot keep {height} blocks: the store's height is {len(self._index)}"
                )
            end = self._index[height - 1][1] if height else 0
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
            del self._index[height:]
            return kept

    def get_bytes(self, number: int) -> bytes:
        """The block's stored bytes, exactly as written."""
        with self._lock:
            if not 0 <= number < len(self._index):
                raise BlockNotFoundError(
                    f"block {number} not found: the store's height is {len(self._index)}"
                )
            start, end = self._index[number]
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

    def close(self) -> None:
        """Close the file handles; the store must not be used afterwards."""
        with self._lock:
            self._writer.close()
            self._reader.close()

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
