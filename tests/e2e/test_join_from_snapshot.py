"""A new peer joins from another peer's snapshot instead of replaying every block, catches up from
the orderer and serves the same state; a tampered snapshot is refused, naming what differs."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork, local_network
from careledger.network.tools.queryclient import QueryClient

CONFIG = Path(__file__).with_name("snapshot-network.toml")
NEW = "peer1.hospital"
BASIC = "careledger.chaincode.contracts.basic:BasicContract"  # as snapshot-network.toml names it


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("snapshot")) as network:
        network.stop(NEW)  # the peer that joins later, with an empty ledger
        shutil.rmtree(network.layout.node_data(network.profile.node(NEW)))
        yield network


def _cli(net: LocalNetwork, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "careledger.cli", *args, "--dir", str(net.directory)],
                          capture_output=True, text=True, timeout=120)


def _info(net: LocalNetwork, peer: str) -> tuple[int, bytes]:
    with QueryClient(net.directory, "hospital", "admin", peer=net.profile.node(peer)) as client:
        info = client.chain_info()
    return info.height, info.current_block_hash


def _submit(net: LocalNetwork, ids: range) -> None:
    with net.connect("hospital:alice") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        for i in ids:
            basic.submit_transaction("create_asset", f"snap-{i}", "ward-3", str(i))


def test_a_peer_joins_from_a_snapshot_catches_up_and_serves_the_same_state(
    net: LocalNetwork, tmp_path: Path
) -> None:
    _submit(net, range(4))
    out = tmp_path / "peer0.snapshot"
    taken = _cli(net, "ledger", "snapshot", "--peer", "peer0.hospital", "--out", str(out), "--json")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    block = json.loads(taken.stdout)["block"]
    _submit(net, range(4, 6))  # committed after the snapshot: the new peer fetches them

    tampered = tmp_path / "tampered.snapshot"
    shutil.copyfile(out, tampered)
    with sqlite3.connect(tampered) as db:
        db.execute("UPDATE state SET value = CAST('{}' AS BLOB) WHERE key = 'snap-1'")
    db.close()
    refused = subprocess.run(
        [sys.executable, "-m", "careledger.cli", "node", "peer", "--dir", str(net.directory),
         "--name", NEW, "--from-snapshot", str(tampered)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "refused" in refused.stderr and "a state row was changed" in refused.stderr, refused.stderr[-2000:]
    assert not (net.layout.node_data(net.profile.node(NEW)) / "state.db").exists()

    node = net.profile.node(NEW)
    argv = [sys.executable, "-m", "careledger.network.peer.server", "--dir", str(net.directory),
            "--name", NEW, "--from-snapshot", str(out)]
    launcher._spawn(net.layout, NEW, argv, net.layout.node_log(node))
    launcher.wait_healthy(net.layout, net.profile, [node], 60, lambda _: None)
    # a new peer runs only the contracts its org's admin installs on it (the lifecycle, issue 12)
    package = tmp_path / "basic.tar.gz"
    for step in (("package", "--name", "basic", "--version", "1.0", "--module", BASIC, "--out", str(package)),
                 ("install", str(package), "--peer", NEW, "--as", "hospital/admin")):
        done = _cli(net, "contract", *step)
        assert done.returncode == 0, done.stdout + done.stderr
    deadline = time.monotonic() + 30
    while _info(net, NEW) != _info(net, "peer0.hospital"):
        assert time.monotonic() < deadline, f"{NEW} did not catch up: {_info(net, NEW)}"
        time.sleep(0.2)
    log = net.layout.node_log(node).read_text()
    assert f"joined from the snapshot of block {block}" in log and "peer0.hospital" in log
    with net.connect("hospital:alice", peer=NEW) as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        for i in range(6):
            assert json.loads(basic.evaluate_transaction("read_asset", f"snap-{i}"))["value"] == str(i)
    _submit(net, range(6, 7))  # and it goes on committing with the others
    verified = _cli(net, "ledger", "verify", "--json")
    report = json.loads(verified.stdout)
    assert report[NEW]["ok"], report[NEW]
    assert verified.returncode == 0, verified.stdout
