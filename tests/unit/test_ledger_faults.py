"""A peer's ledger under disk faults: a refused write changes nothing, and damage is cut and named."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from txfactory import TestNetwork, endorsed_envelope, make_block, rwset

from careledger.network.ledger.blockstore import BLOCKS_FILE, BlockStore, BlockWriteError
from careledger.network.peer import repair
from careledger.network.peer.ledger import Ledger, LedgerError
from careledger.protos import common_pb2

if TYPE_CHECKING:  # the plugin module is imported by pytest, not here
    from ledgerfixtures import Factory

pytest_plugins = ("ledgerfixtures",)
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _next_block(net: TestNetwork, ledger: Ledger, key: str) -> common_pb2.Block:
    env = endorsed_envelope(net.client("hospital"), [net.peer("hospital"), net.peer("insurer")],
                            "consent", rwset("consent", reads={key: None}, writes={key: b"v"}))
    previous = ledger.get_block(ledger.height - 1).header if ledger.height else None
    return make_block(ledger.height, previous, [env.SerializeToString()], net.orderer)


class _HalfWriter:
    """A block file whose disk fills up halfway through the next write."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failed = False

    def write(self, data: memoryview) -> int:
        if not self.failed:
            self.failed = True
            return self.real.write(data[: len(data) // 2])
        raise ENOSPC

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_block_refused_halfway_by_a_full_disk_leaves_the_store_unchanged(tmp_path: Path) -> None:
    block = common_pb2.Block()
    with BlockStore(tmp_path) as store:
        store.append(block)
        size = (tmp_path / BLOCKS_FILE).stat().st_size
        real = store._writer
        store._writer = _HalfWriter(real)  # type: ignore[assignment]
        block.header.number = 1
        block.data.envelopes.append(b"x" * 1000)
        with pytest.raises(BlockWriteError, match="block 1.*No space left"):
            store.append(block)
        assert store.height == 1
        assert (tmp_path / BLOCKS_FILE).stat().st_size == size  # the half record was cut off
        store._writer = real  # space is back
        store.append(block)
        assert store.get(1) == block
    with BlockStore(tmp_path) as store:
        assert store.height == 2


def test_refused_fsync_is_not_a_stored_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise ENOSPC
        real_fsync(fd)

    with BlockStore(tmp_path) as store:
        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(BlockWriteError):
            store.append(common_pb2.Block())
        monkeypatch.undo()
        assert store.height == 0
        assert (tmp_path / BLOCKS_FILE).stat().st_size == 0


def test_block_the_disk_refuses_is_not_committed_and_can_be_retried(
    net: TestNetwork, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _next_block(net, ledger, "a")

    def full(_: common_pb2.Block) -> None:
        raise BlockWriteError("cannot write block 0: [Errno 28] No space left on device")

    monkeypatch.setattr(ledger.blocks, "append", full)
    with pytest.raises(LedgerError, match="block 0 not committed.*No space left"):
        ledger.commit(block)
    assert ledger.height == 0 and ledger.problem == ""
    monkeypatch.undo()
    assert ledger.commit(block)[0].valid
    assert ledger.height == 1


def test_state_write_refused_by_a_full_disk_is_finished_by_resume(
    net: TestNetwork, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    ledger.add_listener(lambda block, _: seen.append(block.header.number))
    block = _next_block(net, ledger, "b")
    tx_id = common_pb2.Proposal.FromString(common_pb2.Transaction.FromString(
        common_pb2.Envelope.FromString(block.data.envelopes[0]).payload).proposal).header.tx_id

    def full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ledger.state, "apply_block", full)
    with pytest.raises(LedgerError, match="block 0 is stored but its state was not applied"):
        ledger.commit(block)
    assert "disk is full" in ledger.problem
    with pytest.raises(LedgerError, match="cannot be applied"):
        ledger.resume()  # the disk is still full
    assert ledger.height == 0 and ledger.tx_status(tx_id) is None and seen == []
    with pytest.raises(LedgerError):
        ledger.commit(_next_block(net, ledger, "c"))  # nothing else commits meanwhile
    monkeypatch.undo()
    assert ledger.resume() == 1
    assert ledger.problem == "" and ledger.height == 1 and seen == [0]
    assert ledger.tx_status(tx_id) == (common_pb2.VALID, 0)
    assert ledger.commit(_next_block(net, ledger, "c"))[0].valid


def test_damaged_block_is_named_cut_and_state_rebuilt_from_the_intact_ones(
    net: TestNetwork, tmp_path: Path, factory: Factory
) -> None:
    directory = tmp_path / "ledger"
    with Ledger(directory, factory) as led:
        for key in "defg":
            led.commit(_next_block(net, led, key))
    assert repair.inspect(directory, net.orderer_membership()) is None
    path = directory / "blocks" / BLOCKS_FILE
    data = bytearray(path.read_bytes())
    offset = 0
    for _ in range(2):
        offset += 4 + int.from_bytes(data[offset:offset + 4], "big")
    data[offset + 4 + 50] ^= 0xFF
    path.write_bytes(bytes(data))

    damage = repair.inspect(directory, net.orderer_membership())
    assert damage is not None
    assert (damage.first_bad_block, damage.stored) == (2, 4)
    assert str(path) in damage.describe() and "block 2" in damage.describe()
    kept = repair.cut(directory, damage)
    assert kept is not None and kept.read_bytes() == bytes(data[offset:])
    with Ledger(directory, factory) as led:
        assert led.height == 2
        assert led.state.get_state("consent", "e") is not None
        assert led.state.get_state("consent", "f") is None  # block 2's write is gone with it
    assert repair.inspect(directory, net.orderer_membership()) is None
