"""Contract isolation: a call past the peer's time limit is cut off with a message naming it, a
crashing contract is answered with an error naming it, and the runtime keeps serving other calls,
on the same worker threads, with fresh snapshots of state."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from contractharness import MemoryState

from careledger.chaincode import ClientIdentity
from careledger.chaincode.contracts.basic import BasicContract
from careledger.chaincode.contracts.runaway_fixture import RunawayContract
from careledger.chaincode.runtime import TIMED_OUT, ContractRegistry, Invocation, simulate
from careledger.chaincode.sandbox import CallTimedOut, Sandbox
from careledger.network.config import ConfigError, NetworkConfig, PeerSettings, Profile
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import StateDB
from careledger.protos import common_pb2

ALICE = ClientIdentity(org="hospital", name="alice", role="client")
LIMIT_MS = 300


def call(contract: str, function: str, *args: str, tx_id: str = "tx-1") -> Invocation:
    return Invocation(tx_id=tx_id, channel="healthcare", contract=contract, function=function,
                      args=[a.encode() for a in args], transient={},
                      timestamp=datetime(2026, 3, 1, tzinfo=UTC), creator=ALICE)


@pytest.fixture
def registry() -> ContractRegistry:
    return ContractRegistry([RunawayContract(), BasicContract()])


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(LIMIT_MS, "peer0.hospital")


def test_a_looping_call_is_cut_off_at_the_limit_naming_contract_function_tx_and_limit(registry, sandbox):
    started = time.monotonic()
    result = simulate(registry, MemoryState(), call("runaway", "spin", "k", tx_id="tx-loop"), sandbox)
    took = time.monotonic() - started
    assert result.response.status == TIMED_OUT
    message = result.response.message
    for part in ("contract 'runaway'", "function 'spin'", "tx tx-loop", "on peer peer0.hospital", "300 ms",
                 "contract_time_limit_ms"):
        assert part in message, message
    assert LIMIT_MS / 1000 <= took < LIMIT_MS / 1000 + 1.0
    assert not result.rwset.ns_rwset  # nothing of the cut-off call is endorsed


def test_the_thread_of_a_cut_off_call_serves_the_next_one_and_is_left_alone(registry, sandbox):
    state = MemoryState()
    simulate(registry, state, call("runaway", "spin", "k"), sandbox)
    assert sandbox.running == 0 and sandbox.cut_offs == 1
    ok = simulate(registry, state, call("runaway", "put", "k", "v"), sandbox)
    assert ok.response.status == 200 and ok.response.payload == b"v"
    time.sleep(LIMIT_MS / 1000 * 2)  # nothing is raised into this thread after its call ended


def test_a_loop_swallowing_exception_is_still_cut_off(registry, sandbox):
    result = simulate(registry, MemoryState(), call("runaway", "spin_catching"), sandbox)
    assert result.response.status == TIMED_OUT
    assert simulate(registry, MemoryState(), call("runaway", "get", "k"), sandbox).response.status == 200


def test_other_calls_run_while_one_loops(registry, sandbox):
    state = MemoryState()
    looping: list[int] = []
    thread = threading.Thread(target=lambda: looping.append(
        simulate(registry, state, call("runaway", "spin", "k"), sandbox).response.status))
    thread.start()
    started = time.monotonic()
    for i in range(20):
        result = simulate(registry, state, call("basic", "create_asset", f"a{i}", "bob", "1"), sandbox)
        assert result.response.status == 200, result.response.message
    assert time.monotonic() - started < LIMIT_MS / 1000  # not queued behind the loop
    thread.join()
    assert looping == [TIMED_OUT]


@pytest.mark.parametrize(("function", "args", "error"), [
    ("recurse", (), "RecursionError"),
    ("exit", ("3",), "SystemExit: 3"),
    ("interrupt", (), "KeyboardInterrupt"),
    ("allocate", (), "MemoryError"),
])
def test_a_crashing_contract_is_answered_with_an_error_naming_it(registry, sandbox, function, args, error):
    result = simulate(registry, MemoryState(), call("runaway", function, *args), sandbox)
    assert result.response.status == 500
    assert f"contract 'runaway' function {function!r} failed: {error}" in result.response.message
    assert simulate(registry, MemoryState(), call("runaway", "get", "k"), sandbox).response.status == 200


def test_crashes_are_answered_without_a_sandbox_too(registry):
    result = simulate(registry, MemoryState(), call("runaway", "exit", "1"))
    assert result.response.status == 500 and "SystemExit" in result.response.message


def commit_value(db: StateDB, block: int, value: bytes) -> None:
    write = common_pb2.KVWrite(key="k", value=value)
    db.apply_block(block, [TxOutcome(f"tx{block}", common_pb2.VALID, "runaway", (("runaway", write),),
                                     None, datetime(2026, 3, 1, tzinfo=UTC))])


def test_each_call_reads_a_fresh_snapshot_after_a_cut_off(registry, sandbox, tmp_path: Path):
    with StateDB(tmp_path / "state.db") as db:
        commit_value(db, 0, b"one")
        cut = simulate(registry, db, call("runaway", "spin", "k"), sandbox, db.snapshot)
        assert cut.response.status == TIMED_OUT
        commit_value(db, 1, b"two")  # the cut-off worker's snapshot was released
        result = simulate(registry, db, call("runaway", "get", "k"), sandbox, db.snapshot)
        assert result.response.payload == b"two"


def test_the_sandbox_hands_back_exceptions_and_refuses_a_bad_limit():
    box = Sandbox(1000)
    with pytest.raises(ZeroDivisionError):
        box.run(lambda: 1 // 0, lambda: "x")
    with pytest.raises(ValueError, match="must be positive"):
        Sandbox(0)
    with pytest.raises(CallTimedOut, match="sleeper on peer this peer ran longer than the time limit of 1"):
        Sandbox(1000).run(lambda: time.sleep(1.5), lambda: "the sleeper")


def test_the_limit_is_a_peer_setting_checked_and_carried_into_the_profile(tmp_path: Path) -> None:
    base = (Path(__file__).parents[2] / "network" / "default-network.toml").read_text()
    good = tmp_path / "good.toml"
    good.write_text(base.replace("contract_time_limit_ms = 3000", "contract_time_limit_ms = 250"))
    assert NetworkConfig.load(good).peer == PeerSettings(contract_time_limit_ms=250)
    for wrong, expected in [("0", "greater than 0"), ('"lots"', "expected an integer")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(base.replace("contract_time_limit_ms = 3000", f"contract_time_limit_ms = {wrong}"))
        with pytest.raises(ConfigError, match=rf"peer\.contract_time_limit_ms: .*{expected}"):
            NetworkConfig.load(bad)
    orderer = NetworkConfig.load(good).orderer
    profile = replace(Profile("healthcare", "orderer", ("hospital",), orderer, (), ()), peer=PeerSettings(9))
    profile.save(tmp_path)
    assert Profile.load(tmp_path).peer.contract_time_limit_ms == 9
