"""BlockStore: append-only, durable, torn tails cut, damaged blocks kept for `ledger verify`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from careledger.network.ledger.blockstore import (
    BLOCKS_FILE,
    BlockNotFoundError,
    BlockOrderError,
    BlockStore,
    read_raw_blocks,
)
from careledger.protos import common_pb2


def _block(number: int, payload: bytes = b"tx") -> common_pb2.Block:
    block = common_pb2.Block()
    block.header.number = number
    block.data.envelopes.append(payload + number.to_bytes(2, "big"))
    return block


def _filled(directory: Path, count: int) -> BlockStore:
    store = BlockStore(directory)
    for n in range(count):
        store.append(_block(n))
    return store


def test_appended_blocks_read_back_after_reopen(tmp_path: Path) -> None:
    _filled(tmp_path, 3).close()
    with BlockStore(tmp_path) as store:
        assert store.height == 3
        assert store.get(1) == _block(1)
        assert store.get_bytes(2) == _block(2).SerializeToString(deterministic=True)
        assert [b.header.number for b in store.iter_from(1)] == [1, 2]


def test_append_out_of_order_names_expected_number(tmp_path: Path) -> None:
    with _filled(tmp_path, 2) as store, pytest.raises(BlockOrderError, match="number 2"):
        store.append(_block(5))


def test_missing_block_error_names_number_and_height(tmp_path: Path) -> None:
    with _filled(tmp_path, 2) as store, pytest.raises(BlockNotFoundError, match="7.*height is 2"):
        store.get(7)


def test_torn_tail_is_truncated_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _filled(tmp_path, 3).close()
    path = tmp_path / BLOCKS_FILE
    whole = path.stat().st_size
    with path.open("ab") as f:  # a crash mid-append: length says 100 bytes, only 5 written
        f.write((100).to_bytes(4, "big") + b"12345")
    with caplog.at_level(logging.WARNING), BlockStore(tmp_path) as store:
        assert store.height == 3
        store.append(_block(3))
        assert store.get(3) == _block(3)
    assert "torn tail" in caplog.text
    assert len(read_raw_blocks(path).blocks) == 4
    assert list((tmp_path).glob(BLOCKS_FILE + ".torn-*"))  # the cut bytes are kept aside
    assert path.stat().st_size > whole


def test_flipped_byte_inside_block_is_kept(tmp_path: Path) -> None:
    _filled(tmp_path, 3).close()
    path = tmp_path / BLOCKS_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # last byte of block 2's envelope
    path.write_bytes(bytes(data))
    with BlockStore(tmp_path) as store:
        assert store.height == 3
        assert store.get_bytes(2) != _block(2).SerializeToString(deterministic=True)
    assert path.read_bytes() == bytes(data)
