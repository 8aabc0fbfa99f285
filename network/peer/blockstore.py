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
        self._writer = self._path.open("ab")
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
        """Write the block durably (flush + fsync) at the end of the chain."""
        with self._lock:
            if block.header.number != len(self._index):
                raise BlockOrderError(
                    f"cannot append block {block.header.number}: the store's height is "
                    f"{len(self._index)}, so the next block must be number {len(self._index)}"
                )
            raw = block.SerializeToString(deterministic=True)
            start = self._writer.tell() + _LEN
            self._writer.write(len(raw).to_bytes(_LEN, "big") + raw)
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._index.append((start, start + len(raw)))

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
