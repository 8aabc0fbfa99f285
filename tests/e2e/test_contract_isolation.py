"""Contract isolation on a real network: a deliberately looping contract (the runaway fixture) is cut
off at the peers' time limit ([peer] contract_time_limit_ms = 1000) with a message naming contract,
function, tx, peer and limit, while evaluate and submit of other contracts keep working during the
loop and after; a crashing contract is answered with an error naming it; nothing of a cut-off call
reaches the ledger."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from careledger.gateway import Contract, GatewayError
from careledger.network.local.testing import LocalNetwork, local_network

CONFIG = Path(__file__).with_name("governance-network.toml")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("isolation")) as network:
        yield network


@pytest.fixture(scope="module")
def contracts(net: LocalNetwork) -> Iterator[dict[str, Contract]]:
    with net.connect("hospital:admin") as gw:
        network = gw.get_network(net.profile.channel)
        yield {name: network.get_contract(name) for name in ("runaway", "basic")}


def test_a_looping_contract_is_cut_off_while_other_calls_keep_working(contracts: dict[str, Contract]) -> None:
    runaway, basic = contracts["runaway"], contracts["basic"]
    failures: list[GatewayError] = []

    def spin(key: str) -> None:
        try:
            runaway.submit_transaction("spin", key)
        except GatewayError as exc:
            failures.append(exc)

    # more loops at once than a peer has spare threads would be without the limit
    spinners = [threading.Thread(target=spin, args=(f"loop-{i}",)) for i in range(4)]
    started = time.monotonic()
    for thread in spinners:
        thread.start()
    time.sleep(0.2)
    served_during = 0
    while any(t.is_alive() for t in spinners):
        asset = f"a-{uuid.uuid4().hex[:8]}"
        basic.submit_transaction("create_asset", asset, "bob", "1")
        assert b"bob" in basic.evaluate_transaction("read_asset", asset)
        served_during += 1
    took = time.monotonic() - started

    assert served_during >= 1
    assert took < 10, f"the loops took {took:.1f} s to be cut off"
    assert len(failures) == 4
    for exc in failures:
        assert exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        for part in ("contract 'runaway' function 'spin'", f"tx {exc.tx_id}", "on peer peer0.hospital",
                     "time limit of 1000 ms", "contract_time_limit_ms"):
            assert part in str(exc), str(exc)
    # nothing of a cut-off call was endorsed, so nothing reached the ledger
    assert runaway.evaluate_transaction("get", "loop-0") == b""
    runaway.submit_transaction("put", "after", "fine")
    assert runaway.evaluate_transaction("get", "after") == b"fine"


def test_evaluate_is_cut_off_too_even_when_the_contract_swallows_exceptions(
        contracts: dict[str, Contract]) -> None:
    with pytest.raises(GatewayError) as caught:
        contracts["runaway"].evaluate_transaction("spin_catching")
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "contract 'runaway' function 'spin_catching'" in str(caught.value)


@pytest.mark.parametrize(("function", "args", "error"), [
    ("recurse", (), "RecursionError"),
    ("exit", ("2",), "SystemExit: 2"),
    ("interrupt", (), "KeyboardInterrupt"),
])
def test_a_crashing_contract_is_answered_naming_it_and_the_peer_keeps_serving(
        contracts: dict[str, Contract], function: str, args: tuple[str, ...], error: str) -> None:
    with pytest.raises(GatewayError) as caught:
        contracts["runaway"].evaluate_transaction(function, *args)
    assert f"contract 'runaway' function {function!r} failed: {error}" in str(caught.value)
    asset = f"c-{uuid.uuid4().hex[:8]}"
    contracts["basic"].submit_transaction("create_asset", asset, "carol", "2")
    assert b"carol" in contracts["basic"].evaluate_transaction("read_asset", asset)


def test_a_key_policy_that_does_not_parse_is_refused_at_endorsement(contracts: dict[str, Contract]) -> None:
    with pytest.raises(GatewayError) as caught:
        contracts["runaway"].submit_transaction("bad_policy", "guarded")
    assert ("contract 'runaway' function 'bad_policy': the key-level policy set on key runaway/'guarded' "
            "does not parse") in str(caught.value)
    assert contracts["runaway"].evaluate_transaction("get", "guarded") == b""
