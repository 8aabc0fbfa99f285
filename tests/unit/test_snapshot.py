"""Snapshots: taken at the last block, checked on their own and against other peers, each refusal
naming what differs; installed, the ledger begins after the snapshot's block and commits on."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from txfactory import TestNetwork, endorsed_envelope, make_block, rwset

from careledger.network.ledger import protoutil
from careledger.network.peer import repair, snapshot
from careledger.network.peer.ledger import Ledger

if TYPE_CHECKING:  # the plugin module is imported by pytest, not here
    from ledgerfixtures import Factory

pytest_plugins = ("ledgerfixtures",)


def _commit(net: TestNetwork, ledger: Ledger, count: int) -> None:
    for _ in range(count):
        n = ledger.height
        env = endorsed_envelope(net.client("hospital"), [net.peer("hospital"), net.peer("insurer")],
                                "consent", rwset("consent", writes={f"k{n}": f"v{n}".encode()}))
        previous = ledger.header(n - 1) if n else None
        ledger.commit(make_block(n, previous, [env.SerializeToString()], net.orderer))


@pytest.fixture
def taken(tmp_path: Path, net: TestNetwork, factory: Factory) -> tuple[Path, snapshot.Manifest, Ledger]:
    source = Ledger(tmp_path / "peer0", factory)
    _commit(net, source, 3)
    manifest = snapshot.create(tmp_path / "peer0", net.peer("hospital"), "healthcare", tmp_path / "snap")
    return tmp_path / "snap", manifest, source


def _answers(ledger: Ledger, block: int) -> dict[str, snapshot.PeerAnswer]:
    record = ledger.state.commit_record(block)
    assert record is not None
    return {"peer0.insurer": snapshot.PeerAnswer(record.commit_hash, record.state_digest,
                                                 protoutil.header_hash(ledger.header(block)))}


def test_a_joined_ledger_begins_after_the_snapshot_and_commits_like_its_source(
    tmp_path: Path, net: TestNetwork, factory: Factory, taken: tuple[Path, snapshot.Manifest, Ledger]
) -> None:
    path, manifest, source = taken
    assert manifest.block_number == 2
    checked = snapshot.verify(path, "healthcare", net.membership(), net.orderer_membership())
    agreeing = snapshot.install(path, tmp_path / "peer1", checked, lambda peers: _answers(source, 2),
                                ["peer0.insurer"])
    assert agreeing == ["peer0.insurer"]
    with Ledger(tmp_path / "peer1", factory) as joined, source:
        assert joined.height == 3 and joined.blocks.first == 3
        assert joined.state.get_state("consent", "k1") == source.state.get_state("consent", "k1")
        _commit(net, source, 2)
        for n in (3, 4):
            joined.commit(source.get_block(n))
        assert joined.state.commit_record(4) == source.state.commit_record(4)
    assert repair.inspect(tmp_path / "peer1", net.orderer_membership()) is None


@pytest.mark.parametrize(("edit", "named"), [
    ("UPDATE state SET value = x'00' WHERE key = 'k1'", "state rows give digest"),
    ("DELETE FROM txindex", "txindex table hashes to"),
    ("UPDATE history SET value = x'00'", "history table hashes to"),
    ("UPDATE snapshot_manifest SET manifest = replace(manifest, '\"block_number\":2', "
     "'\"block_number\":1')", "not validly signed"),
])
def test_a_tampered_snapshot_is_refused_naming_what_differs(
    tmp_path: Path, net: TestNetwork, taken: tuple[Path, snapshot.Manifest, Ledger], edit: str, named: str
) -> None:
    path, _, source = taken
    source.close()
    tampered = tmp_path / "tampered"
    shutil.copyfile(path, tampered)
    with sqlite3.connect(tampered) as db:
        db.execute(edit)
    db.close()
    with pytest.raises(snapshot.SnapshotError, match=named):
        snapshot.verify(tampered, "healthcare", net.membership(), net.orderer_membership())


def test_a_snapshot_other_peers_disagree_with_is_refused_naming_the_peer(
    tmp_path: Path, taken: tuple[Path, snapshot.Manifest, Ledger]
) -> None:
    path, manifest, source = taken
    with source:
        answers = _answers(source, 2)
    forged = {"peer0.insurer": snapshot.PeerAnswer(answers["peer0.insurer"].commit_hash, bytes(32),
                                                   answers["peer0.insurer"].header_hash)}
    with pytest.raises(snapshot.SnapshotError, match="state digest at block 2 is .*, but peer0.insurer has"):
        snapshot.install(path, tmp_path / "peer1", manifest, lambda _: forged, ["peer0.insurer"])
    unreachable = {"peer0.insurer": snapshot.PeerAnswer(error="UNAVAILABLE")}
    with pytest.raises(snapshot.SnapshotError, match="no other peer could confirm block 2"):
        snapshot.install(path, tmp_path / "peer1", manifest, lambda _: unreachable, ["peer0.insurer"])
    assert not (tmp_path / "peer1" / "state.db").exists()
