"""Commit hashes and the state digest: a changed state row or a changed validation code is found,
named by block and key (or transaction), and repaired from the blocks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from txfactory import TestNetwork, endorsed_envelope, make_block, rwset

from careledger.network.ledger.blockstore import BLOCKS_FILE, read_raw_blocks
from careledger.network.peer import repair
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE, Ledger
from careledger.protos import common_pb2

if TYPE_CHECKING:  # the plugin module is imported by pytest, not here
    from ledgerfixtures import Factory

pytest_plugins = ("ledgerfixtures",)
VC = common_pb2.ValidationCode


def _blocks(net: TestNetwork, count: int) -> list[common_pb2.Block]:
    """`count` blocks: block n writes consent/k{n}; block 1 also replays block 0's transaction."""
    endorsers = [net.peer("hospital"), net.peer("insurer")]
    blocks: list[common_pb2.Block] = []
    first = b""
    for n in range(count):
        env = endorsed_envelope(net.client("hospital"), endorsers, "consent",
                                rwset("consent", writes={f"k{n}": f"v{n}".encode()})).SerializeToString()
        envelopes = [env] if n != 1 else [env, first]
        first = first or env
        blocks.append(make_block(n, blocks[-1].header if blocks else None, envelopes, net.orderer))
    return blocks


def _commit_all(ledger: Ledger, blocks: list[common_pb2.Block]) -> None:
    for block in blocks:
        ledger.commit(common_pb2.Block.FromString(block.SerializeToString()))


def test_peers_committing_the_same_blocks_keep_the_same_commit_hashes(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    blocks = _blocks(net, 3)
    with Ledger(tmp_path / "a", factory) as a, Ledger(tmp_path / "b", factory) as b:
        _commit_all(a, blocks)
        _commit_all(b, blocks)
        assert a.state.get_state("consent", "k2") is not None
        ours, theirs = a.state.commit_records(), b.state.commit_records()
    assert [r.commit_hash for r in ours] == [r.commit_hash for r in theirs]
    assert len({r.commit_hash for r in ours}) == 3
    assert list(ours[1].codes) == [VC.VALID, VC.DUPLICATE_TXID]
    assert ours[-1].state_digest == theirs[-1].state_digest


def test_a_changed_state_value_is_named_and_rebuilt_from_the_blocks_on_open(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory = tmp_path / "peer"
    with Ledger(directory, factory) as ledger:
        _commit_all(ledger, _blocks(net, 3))
        assert ledger.state_repair is None
    with sqlite3.connect(directory / STATE_FILE) as db:  # someone edits the state database
        db.execute("UPDATE state SET value = ? WHERE ns = 'consent' AND key = 'k1'", (b"forged",))
    with Ledger(directory, factory) as reopened:
        repaired = reopened.state_repair
        assert repaired is not None
        assert "does not match the digest committed with block 2" in repaired.reason
        assert [(d.block, d.ns, d.key, d.stored, d.expected) for d in repaired.differences] == [
            (1, "consent", "k1", b"forged", b"v1")]
        assert "block 1, key consent/k1: the state database holds b'forged' but the blocks give b'v1'" in (
            repaired.describe())
        assert reopened.state.get_state("consent", "k1") == (b"v1", (1, 0))
    with Ledger(directory, factory) as again:
        assert again.state_repair is None


def test_an_added_or_deleted_state_row_is_found_too(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory = tmp_path / "peer"
    with Ledger(directory, factory) as ledger:
        _commit_all(ledger, _blocks(net, 2))
    with sqlite3.connect(directory / STATE_FILE) as db:
        db.execute("DELETE FROM state WHERE key = 'k0'")
        db.execute("INSERT INTO state VALUES ('consent', 'planted', x'00', 1, 0)")
    with Ledger(directory, factory) as reopened:
        assert reopened.state_repair is not None
        assert [(d.key, d.stored, d.expected) for d in reopened.state_repair.differences] == [
            ("k0", None, b"v0"), ("planted", b"\x00", None)]
        assert reopened.state.get_state("consent", "planted") is None


def _flip_code(directory: Path, number: int, tx: int, code: int) -> None:
    """Rewrite one block of the file with one validation code changed (its length unchanged)."""
    path = directory / BLOCKS_DIR / BLOCKS_FILE
    raw = read_raw_blocks(path)
    out = bytearray()
    for n, data in enumerate(raw.blocks):
        if n == number:
            block = common_pb2.Block.FromString(data)
            block.metadata.validation_codes[tx] = code
            data = block.SerializeToString(deterministic=True)
        out += len(data).to_bytes(4, "big") + data
    path.write_bytes(bytes(out))


def test_a_flipped_validation_code_in_the_block_file_is_damage_at_that_block(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory, blocks = tmp_path / "peer", _blocks(net, 3)
    with Ledger(directory, factory) as ledger:
        _commit_all(ledger, blocks)
    assert repair.inspect(directory, net.orderer_membership()) is None
    _flip_code(directory, 1, 1, VC.VALID)  # the replayed transaction now claims to be VALID
    damage = repair.inspect(directory, net.orderer_membership())
    assert damage is not None
    assert damage.first_bad_block == 1
    assert ("block 1: transaction 1 is VALID in the block file but was committed as DUPLICATE_TXID"
            in damage.describe())
    repair.cut(directory, damage)
    with Ledger(directory, factory) as cut:  # block 1 on is fetched again and re-validated
        assert cut.height == 1
        _commit_all(cut, blocks[1:])
        assert list(cut.get_block(1).metadata.validation_codes) == [VC.VALID, VC.DUPLICATE_TXID]
    assert repair.inspect(directory, net.orderer_membership()) is None


def test_a_forged_commit_record_is_found_too(tmp_path: Path, net: TestNetwork, factory: Factory) -> None:
    directory = tmp_path / "peer"
    with Ledger(directory, factory) as ledger:
        _commit_all(ledger, _blocks(net, 2))
    with sqlite3.connect(directory / STATE_FILE) as db:
        db.execute("UPDATE commits SET commit_hash = zeroblob(32) WHERE block_num = 0")
    damage = repair.inspect(directory, net.orderer_membership())
    assert damage is not None and damage.first_bad_block == 0
    assert "commit hash does not match its codes and writes" in damage.problem
