"""StateDB: a block's effects land atomically, with history, tx index and savepoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from careledger.network.peer import statedb
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import SavepointError, StateDB, StateDBError
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _outcome(tx_id: str, code: int = VC.VALID, **writes: bytes | None) -> TxOutcome:
    kv = tuple(
        ("consent", common_pb2.KVWrite(key=k, value=v or b"", is_delete=v is None)) for k, v in writes.items()
    )
    return TxOutcome(tx_id, code, "consent", kv, None, T0)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDB]:
    with StateDB(tmp_path / "state.db") as state:
        yield state


def test_valid_writes_applied_with_versions_and_savepoint(db: StateDB) -> None:
    assert db.savepoint() is None
    db.apply_block(0, [_outcome("t0", a=b"1", b=b"2"), _outcome("t1", VC.MVCC_READ_CONFLICT, c=b"3")])
    assert db.get_state("consent", "a") == (b"1", (0, 0))
    assert db.get_state("consent", "c") is None
    assert db.tx_status("t0") == (VC.VALID, 0)
    assert db.tx_status("t1") == (VC.MVCC_READ_CONFLICT, 0)
    assert db.tx_status("nope") is None
    assert db.savepoint() == 0


def test_range_is_sorted_end_exclusive_and_open_ended(db: StateDB) -> None:
    db.apply_block(0, [_outcome("t0", b=b"2", a=b"1", c=b"3")])
    assert [k for k, _, _ in db.get_range("consent", "a", "c")] == ["a", "b"]
    assert [k for k, _, _ in db.get_range("consent", "b", "")] == ["b", "c"]
    assert [k for k, _, _ in db.get_range("consent", "", "")] == ["a", "b", "c"]
    assert db.get_range("other", "", "") == []
    assert [k for k, _, _ in db.get_range("consent", "", "", limit=2)] == ["a", "b"]  # a page's read
    assert [k for k, _, _ in db.get_range("consent", "b", "", limit=5)] == ["b", "c"]


def test_history_lists_writes_and_deletes_oldest_first(db: StateDB) -> None:
    db.apply_block(0, [_outcome("t0", k=b"1")])
    db.apply_block(1, [_outcome("t1", VC.MVCC_READ_CONFLICT, k=b"x"), _outcome("t2", k=None)])
    history = db.get_history("consent", "k")
    assert [(h.tx_id, h.value, h.is_delete, h.block_num, h.tx_num) for h in history] == [
        ("t0", b"1", False, 0, 0),
        ("t2", b"", True, 1, 1),
    ]
    assert history[0].timestamp == T0
    assert db.get_state("consent", "k") is None


def test_duplicate_tx_id_does_not_overwrite_original_index_entry(db: StateDB) -> None:
    db.apply_block(0, [_outcome("t0", k=b"1")])
    db.apply_block(1, [_outcome("t0", VC.DUPLICATE_TXID)])
    assert db.tx_status("t0") == (VC.VALID, 0)


def test_failure_mid_block_leaves_state_and_savepoint_untouched(db: StateDB) -> None:
    broken = TxOutcome("t1", VC.VALID, "consent", (("consent", None),), None, T0)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        db.apply_block(0, [_outcome("t0", a=b"1"), broken])
    assert db.get_state("consent", "a") is None
    assert db.tx_status("t0") is None
    assert db.savepoint() is None


def test_blocks_must_be_applied_in_order(db: StateDB) -> None:
    db.apply_block(0, [])
    with pytest.raises(SavepointError, match="block 2.*block 1"):
        db.apply_block(2, [])


def test_state_survives_reopen(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.apply_block(0, [_outcome("t0", a=b"1")])
    with StateDB(tmp_path / "s.db") as db:
        assert db.savepoint() == 0 and db.get_state("consent", "a") == (b"1", (0, 0))


def test_reader_thread_sees_commits_and_snapshot_is_stable(db: StateDB) -> None:
    db.apply_block(0, [_outcome("t0", a=b"1")])
    seen: list[object] = []
    in_snapshot, committed = threading.Event(), threading.Event()

    def reader() -> None:
        with db.snapshot():
            seen.append(db.get_state("consent", "a"))
            in_snapshot.set()
            committed.wait(5)
            seen.append(db.get_state("consent", "a"))
        seen.append(db.get_state("consent", "a"))

    thread = threading.Thread(target=reader)
    thread.start()
    in_snapshot.wait(5)
    db.apply_block(1, [_outcome("t1", a=b"2")])
    committed.set()
    thread.join(5)
    assert seen == [(b"1", (0, 0)), (b"1", (0, 0)), (b"2", (1, 0))]


def test_closed_db_refuses_reads(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "s.db")
    db.close()
    with pytest.raises(StateDBError, match="closed"):
        db.savepoint()


def test_authenticated_tx_takes_over_index_entry_of_unverified_one(db: StateDB) -> None:
    db.apply_block(0, [_outcome("x", VC.BAD_PROPOSAL_TXID)])
    db.apply_block(1, [_outcome("x", VC.VALID, k=b"1")])
    db.apply_block(2, [_outcome("x", VC.DUPLICATE_TXID)])
    assert db.tx_status("x") == (VC.VALID, 1)


def test_many_keys_and_tx_ids_read_at_once_answer_as_one_at_a_time(db: StateDB,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statedb, "_MANY", 3)  # several queries, the last one short
    db.apply_block(0, [_outcome(f"t{i}", **{f"k{i}": b"%d" % i}) for i in range(5)])
    db.apply_block(1, [_outcome("t5", k1=None, k2=b"again"), _outcome("t6", VC.MVCC_READ_CONFLICT, k9=b"x")])
    keys = [("consent", f"k{i}") for i in range(10)] + [("other", "k0")]
    assert db.get_states(keys) == {k: v for k in keys if (v := db.get_state(*k)) is not None}
    assert set(db.get_states(keys)) == {("consent", k) for k in ("k0", "k2", "k3", "k4")}
    ids = [f"t{i}" for i in range(8)]
    assert db.tx_statuses(ids) == {i: s for i in ids if (s := db.tx_status(i)) is not None}
    assert db.get_states([]) == {} and db.tx_statuses([]) == {}
