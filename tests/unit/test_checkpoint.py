"""The verified checkpoint: a clean restart checks no old block and scans no state; a crash checks
the tail; a file edited while the peer was stopped is still checked whole."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from txfactory import TestNetwork, endorsed_envelope, make_block, rwset

from careledger.network.ledger.blockstore import BLOCKS_FILE
from careledger.network.peer import checkpoint, repair
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE, Ledger
from careledger.network.peer.statedb import StateDB

if TYPE_CHECKING:  # the plugin module is imported by pytest, not here
    from ledgerfixtures import Factory

pytest_plugins = ("ledgerfixtures",)


def _commit(net: TestNetwork, ledger: Ledger, count: int) -> None:
    for _ in range(count):
        n = ledger.height
        env = endorsed_envelope(net.client("hospital"), [net.peer("hospital"), net.peer("insurer")],
                                "consent", rwset("consent", writes={f"k{n}": f"v{n}".encode()}))
        previous = ledger.get_block(n - 1).header if n else None
        ledger.commit(make_block(n, previous, [env.SerializeToString()], net.orderer))


def _open(directory: Path, net: TestNetwork, factory: Factory) -> tuple[Ledger, repair.Damage | None]:
    """What the peer's start-up does: decide from the checkpoint, check the blocks, open."""
    signer = net.peer("hospital")
    start = checkpoint.at_start(directory, signer)
    damage = repair.inspect_at_start(directory, net.orderer_membership(), start)
    start = replace(start, blocks_checked=True, state_unchanged=start.state_unchanged and damage is None)
    return Ledger(directory, factory, signer, start), damage


def _flip(directory: Path, number: int) -> None:
    path = directory / BLOCKS_DIR / BLOCKS_FILE
    data, pos = bytearray(path.read_bytes()), 0
    for _ in range(number):
        pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
    data[pos + 4 + 60] ^= 0xFF
    path.write_bytes(bytes(data))


def test_clean_restart_checks_no_block_and_scans_no_state(
    tmp_path: Path, net: TestNetwork, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "peer"
    ledger, _ = _open(directory, net, factory)
    with ledger:
        _commit(net, ledger, 4)
    start = checkpoint.at_start(directory, net.peer("hospital"))
    assert (start.reason, start.blocks_unchanged, start.state_unchanged) == ("", True, True)
    assert start.tail_from == 4

    def no_scan(_: StateDB) -> bytes:
        raise AssertionError("the state was scanned")

    monkeypatch.setattr(StateDB, "scan_digest", no_scan)
    ledger, damage = _open(directory, net, factory)
    with ledger:
        assert damage is None and ledger.state_repair is None and ledger.height == 4
        _commit(net, ledger, 1)
        assert ledger.state.get_state("consent", "k4") is not None


def test_state_edited_after_a_clean_close_is_still_scanned_and_rebuilt(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory = tmp_path / "peer"
    ledger, _ = _open(directory, net, factory)
    with ledger:
        _commit(net, ledger, 3)
    with sqlite3.connect(directory / STATE_FILE) as db:
        db.execute("UPDATE state SET value = ? WHERE key = 'k1'", (b"forged",))
    db.close()
    assert "the state database" in checkpoint.at_start(directory, net.peer("hospital")).reason
    ledger, damage = _open(directory, net, factory)
    with ledger:
        assert damage is None
        assert ledger.state_repair is not None
        assert [(d.key, d.stored) for d in ledger.state_repair.differences] == [("k1", b"forged")]


def test_block_edited_after_a_clean_close_is_found_anywhere_in_the_chain(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory = tmp_path / "peer"
    ledger, _ = _open(directory, net, factory)
    with ledger:
        _commit(net, ledger, 4)
    _flip(directory, 1)
    start = checkpoint.at_start(directory, net.peer("hospital"))
    assert start.tail_from is None and "the block file" in start.reason
    damage = repair.inspect_at_start(directory, net.orderer_membership(), start)
    assert damage is not None and damage.first_bad_block == 1


def test_after_a_crash_only_the_blocks_after_the_checkpoint_are_checked(
    tmp_path: Path, net: TestNetwork, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "EVERY_BLOCKS", 3)
    directory = tmp_path / "peer"
    ledger, _ = _open(directory, net, factory)
    _commit(net, ledger, 5)  # a checkpoint at height 3; then the process dies (no close)
    ledger.blocks.close()
    ledger.state.close()
    start = checkpoint.at_start(directory, net.peer("hospital"))
    assert start.checkpoint is not None and not start.checkpoint.clean and start.tail_from == 3
    checked: list[int] = []
    real = repair.check_block
    monkeypatch.setattr(repair, "check_block", lambda b, *a: checked.append(b.header.number) or real(b, *a))
    assert repair.inspect_at_start(directory, net.orderer_membership(), start) is None
    assert checked == [3, 4]
    _flip(directory, 4)  # damage in the tail is found
    damage = repair.inspect_at_start(directory, net.orderer_membership(), start)
    assert damage is not None and damage.first_bad_block == 4
    _flip(directory, 4)
    _flip(directory, 2)  # the checkpointed block changed: the whole chain is checked
    damage = repair.inspect_at_start(directory, net.orderer_membership(), start)
    assert damage is not None and damage.first_bad_block == 2


def test_a_checkpoint_not_signed_by_the_peer_is_ignored(
    tmp_path: Path, net: TestNetwork, factory: Factory
) -> None:
    directory = tmp_path / "peer"
    ledger, _ = _open(directory, net, factory)
    with ledger:
        _commit(net, ledger, 2)
    cp, _ = checkpoint.read(directory, net.peer("hospital"))
    assert cp is not None
    checkpoint.write(directory, cp, net.peer("insurer"))  # another key
    start = checkpoint.at_start(directory, net.peer("hospital"))
    assert start.checkpoint is None and "not signed by this peer's key" in start.reason
    assert start.tail_from is None  # the chain is then checked whole, as before checkpoints
