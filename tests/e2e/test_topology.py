"""Two peers per organisation: the gateway falls back to another peer of an org that is down."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork, local_network

CONFIG = Path(__file__).with_name("network.toml")


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("wide"), peers_per_org=2) as network:
        yield network


def test_network_up_starts_two_peers_per_org(wide: LocalNetwork) -> None:
    nodes = launcher.status(wide.directory)
    peers = [n for n in nodes if n.kind == "peer"]
    assert sorted(n.id for n in peers) == sorted(
        f"peer{i}.{org}" for org in ("hospital", "insurer", "board") for i in range(2))
    assert all(n.serving for n in nodes)


def test_stopping_one_of_two_peers_of_an_org_does_not_fail_a_submit(wide: LocalNetwork) -> None:
    wide.stop("peer0.insurer")  # the endorser the gateway would ask first for the insurer
    try:
        with wide.connect("hospital:admin") as gw:
            basic = gw.get_network(wide.profile.channel).get_contract("basic")
            asset = f"ha-{uuid.uuid4().hex[:8]}"
            created = json.loads(basic.submit_transaction("create_asset", asset, "alice", "1"))
            assert created["id"] == asset
    finally:
        wide.start("peer0.insurer")


def test_a_node_runs_by_hand_from_the_profile(wide: LocalNetwork) -> None:
    import subprocess
    import sys
    import time

    node = wide.profile.node("peer1.board")
    wide.stop(node.id)
    proc = subprocess.Popen(
        [sys.executable, "-m", "careledger.cli", "node", "peer",
         "--config", str(wide.directory / "network.json"), "--name", node.id],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not launcher.health_check(wide.layout, wide.profile, node):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.monotonic() < deadline, "hand-started peer never became healthy"
            time.sleep(0.2)
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0  # SIGTERM is a clean stop
