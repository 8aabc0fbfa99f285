"""ledger verify: an intact chain passes; any altered block is named, never skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from txfactory import TestNetwork, make_block

from careledger.network.identity.membership import Membership
from careledger.network.ledger.blockcheck import check_block, verify_blocks, verify_directory
from careledger.network.ledger.blockstore import BLOCKS_FILE, BlockStore
from careledger.protos import common_pb2


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    return TestNetwork.create(tmp_path_factory.mktemp("crypto"), ["hospital"])


@pytest.fixture(scope="module")
def orderers(net: TestNetwork) -> Membership:
    return net.orderer_membership()


def _chain(net: TestNetwork, count: int) -> list[common_pb2.Block]:
    blocks: list[common_pb2.Block] = []
    for n in range(count):
        previous = blocks[-1].header if blocks else None
        blocks.append(make_block(n, previous, [f"envelope {n}".encode()], net.orderer))
    return blocks


def _raw(blocks: list[common_pb2.Block]) -> list[bytes]:
    return [b.SerializeToString(deterministic=True) for b in blocks]


def test_intact_chain_verifies(net: TestNetwork, orderers: Membership) -> None:
    report = verify_blocks(_raw(_chain(net, 3)), orderers)
    assert report.ok and report.height == 3 and report.first_bad_block is None


def test_altered_envelope_names_block_and_data_hash(net: TestNetwork, orderers: Membership) -> None:
    blocks = _chain(net, 3)
    blocks[1].data.envelopes[0] = b"forged"
    report = verify_blocks(_raw(blocks), orderers)
    assert not report.ok and report.first_bad_block == 1
    assert "block 1" in report.problem and "data_hash" in report.problem


def test_rewritten_header_breaks_the_next_link(net: TestNetwork, orderers: Membership) -> None:
    blocks = _chain(net, 3)
    blocks[1] = make_block(1, blocks[0].header, [b"forged"], net.orderer)  # re-signed by the orderer key
    report = verify_blocks(_raw(blocks), orderers)
    assert report.first_bad_block == 2 and "previous_hash" in report.problem


def test_block_signed_by_non_orderer_is_rejected(net: TestNetwork, orderers: Membership) -> None:
    block = make_block(0, None, [b"e"], net.peer("hospital"))
    assert "orderer signature is not valid" in check_block(block, None, 0, orderers)


def test_wrong_number_and_genesis_link(net: TestNetwork, orderers: Membership) -> None:
    first = _chain(net, 1)[0]
    assert "expected 1" in check_block(first, None, 1, orderers)
    first.header.previous_hash = b"\x01" * 32
    assert "32 zero bytes" in check_block(first, None, 0, orderers)


def test_flipped_byte_on_disk_is_reported(net: TestNetwork, orderers: Membership, tmp_path: Path) -> None:
    with BlockStore(tmp_path) as store:
        for block in _chain(net, 3):
            store.append(block)
    path = tmp_path / BLOCKS_FILE
    data = bytearray(path.read_bytes())
    offset = data.index(b"envelope 1")
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with BlockStore(tmp_path) as reopened:
        assert reopened.height == 3  # the store keeps the damaged block
    report = verify_directory(tmp_path, orderers)
    assert not report.ok and report.first_bad_block == 1 and "block 1" in report.problem


def test_torn_tail_is_a_note_not_a_failure(net: TestNetwork, orderers: Membership, tmp_path: Path) -> None:
    with BlockStore(tmp_path) as store:
        store.append(_chain(net, 1)[0])
    with (tmp_path / BLOCKS_FILE).open("ab") as f:
        f.write((500).to_bytes(4, "big") + b"partial")
    report = verify_directory(tmp_path, orderers)
    assert report.ok and report.height == 1 and "unfinished write" in report.note


def test_missing_block_file_is_reported(orderers: Membership, tmp_path: Path) -> None:
    report = verify_directory(tmp_path / "nowhere", orderers)
    assert not report.ok and "no block file" in report.problem
