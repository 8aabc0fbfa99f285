"""Ledger: commit is atomic as seen from outside, and an interrupted commit is repaired on open."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from txfactory import TestNetwork, endorsed_envelope, make_block, rwset

from careledger.network.ledger.blockstore import BlockNotFoundError, BlockStore
from careledger.network.peer.ledger import Ledger, LedgerError
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import StateDB
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode
if TYPE_CHECKING:  # the plugin module is imported by pytest, not here
    from ledgerfixtures import Factory

pytest_plugins = ("ledgerfixtures",)


def _env(net: TestNetwork, **writes: bytes) -> bytes:
    rw = rwset("consent", reads={k: None for k in writes}, writes=writes)
    endorsers = [net.peer("hospital"), net.peer("insurer")]
    return endorsed_envelope(net.client("hospital"), endorsers, "consent", rw).SerializeToString()


def _tx_id(env: bytes) -> str:
    tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env).payload)
    return common_pb2.Proposal.FromString(tx.proposal).header.tx_id


def _chain(net: TestNetwork, ledger: Ledger, *batches: list[bytes]) -> list[list[TxOutcome]]:
    results = []
    for batch in batches:
        previous = ledger.get_block(ledger.height - 1).header if ledger.height else None
        results.append(ledger.commit(make_block(ledger.height, previous, batch, net.orderer)))
    return results


def test_commit_stores_codes_applies_state_and_reports_status(net: TestNetwork, ledger: Ledger) -> None:
    first, conflict = _env(net, k=b"1"), _env(net, k=b"2")
    (outcomes,) = _chain(net, ledger, [first, conflict])
    assert [o.code for o in outcomes] == [VC.VALID, VC.MVCC_READ_CONFLICT]
    assert ledger.height == 1
    assert list(ledger.get_block(0).metadata.validation_codes) == [VC.VALID, VC.MVCC_READ_CONFLICT]
    assert ledger.state.get_state("consent", "k") == (b"1", (0, 0))
    assert ledger.tx_status(_tx_id(conflict)) == (VC.MVCC_READ_CONFLICT, 0)
    with pytest.raises(BlockNotFoundError, match="block 1.*height is 1"):
        ledger.get_block(1)


def test_out_of_order_block_is_refused(net: TestNetwork, ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="next block must be number 0"):
        ledger.commit(make_block(3, None, [], net.orderer))


def test_waiters_and_listeners_wake_after_commit(net: TestNetwork, ledger: Ledger) -> None:
    env = _env(net, a=b"1")
    heard: list[tuple[int, list[int]]] = []
    ledger.add_listener(lambda block, outs: heard.append((block.header.number, [o.code for o in outs])))
    results: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: results.update(tx=ledger.wait_for_tx(_tx_id(env), 5)))
    waiter.start()
    assert ledger.wait_for_tx("unknown", 0.05) is None
    assert not ledger.wait_for_height(1, 0.01)
    _chain(net, ledger, [env])
    waiter.join(5)
    assert results["tx"] == (VC.VALID, 0)
    assert ledger.wait_for_height(1, 0.01)
    assert heard == [(0, [VC.VALID])]


def test_blocks_beyond_savepoint_are_replayed_on_open(
    net: TestNetwork, tmp_path: Path, factory: Factory
) -> None:
    directory = tmp_path / "ledger"
    with Ledger(directory, factory) as ledger:
        _chain(net, ledger, [_env(net, a=b"1")])
        block1 = make_block(
            1, ledger.get_block(0).header, [_env(net, b=b"2"), _env(net, b=b"3")], net.orderer
        )
        # A crash after the block was appended but before its state was applied:
        validator = factory(ledger.state)
        block1.metadata.validation_codes.extend(o.code for o in validator.validate(block1))
    with BlockStore(directory / "blocks") as store:
        store.append(block1)
    with StateDB(directory / "state.db") as state:
        assert state.savepoint() == 0
    with Ledger(directory) as reopened:
        assert reopened.height == 2
        assert reopened.state.savepoint() == 1
        assert reopened.state.get_state("consent", "b") == (b"2", (1, 0))
        assert reopened.tx_status(_tx_id(block1.data.envelopes[1]))[0] == VC.MVCC_READ_CONFLICT


def test_state_ahead_of_blocks_is_refused(net: TestNetwork, tmp_path: Path, factory: Factory) -> None:
    directory = tmp_path / "ledger"
    with Ledger(directory, factory) as ledger:
        _chain(net, ledger, [_env(net, a=b"1")])
    (directory / "blocks" / "blocks.bin").write_bytes(b"")
    with pytest.raises(LedgerError, match="state .* is at block 0"):
        Ledger(directory)


def test_ledger_without_validator_cannot_commit(net: TestNetwork, tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger, pytest.raises(LedgerError, match="validator_factory"):
        ledger.commit(make_block(0, None, [], net.orderer))
