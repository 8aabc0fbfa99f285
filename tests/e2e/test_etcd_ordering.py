"""Three orderers on a three-member etcd cluster: kill -9 the leader, ordering goes on, one chain.

Needs `etcd` on PATH (`apt-get install etcd-server`; .ci/run installs it).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from careledger.cli.main import cli
from careledger.gateway import GatewayError
from careledger.network.config import Layout
from careledger.network.ledger.blockstore import read_raw_blocks
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, query_pb2

CONFIG = Path(__file__).with_name("network.toml")


@pytest.fixture(scope="module")
def etcd_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    root = tmp_path_factory.mktemp("careledger-etcd")
    try:
        profile = launcher.up(root, CONFIG, orderers=3, consensus="etcd")
        yield LocalNetwork(root.resolve(), profile)
    finally:
        launcher.down(root)
        shutil.rmtree(root, ignore_errors=True)


def test_status_shows_the_leader_and_every_healthy_etcd_member(etcd_net: LocalNetwork) -> None:
    result = CliRunner().invoke(cli, ["network", "status", "--dir", str(etcd_net.directory), "--json"])
    assert result.exit_code == 0, result.output
    consensus = json.loads(result.output)["consensus"]
    assert consensus["type"] == "etcd"
    assert consensus["leader"] in {o.id for o in etcd_net.profile.orderers}
    assert [m["healthy"] for m in consensus["members"]] == [True, True, True]


def test_killing_the_leader_moves_leadership_within_seconds_and_submits_go_on(
        etcd_net: LocalNetwork) -> None:
    net = etcd_net
    with net.connect("hospital:admin") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        for i in range(3):
            basic.submit_transaction("create_asset", f"before-{i}", "hospital", str(i))

        committed: list[str] = []
        failed: list[str] = []
        stop = threading.Event()

        def load() -> None:  # one client submitting back to back across the kill
            n = 0
            while not stop.is_set():
                asset = f"during-{n}"
                n += 1
                try:
                    basic.submit_transaction("create_asset", asset, "hospital", "1")
                    committed.append(asset)
                except GatewayError:
                    failed.append(asset)

        submitter = threading.Thread(target=load)
        submitter.start()
        try:
            time.sleep(1.0)
            old = net.leader()
            assert old is not None
            net.kill(old)
            killed_at = time.monotonic()
            new = net.wait_for_leader(old, timeout=10)
            assert new is not None, f"no orderer other than {old} took the lead within 10s"
            took = time.monotonic() - killed_at
            done_at_change = len(committed)
            deadline = time.monotonic() + 15
            while len(committed) < done_at_change + 5 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop.set()
            submitter.join(timeout=60)
        assert took < 6, f"{new} took the lead {took:.1f}s after {old} was killed"
        assert len(committed) >= done_at_change + 5, f"submits stalled after the change ({failed=})"
        assert len(failed) <= 1, f"only a transaction in flight at the kill may fail: {failed}"
        for i in range(3):
            basic.submit_transaction("create_asset", f"after-{i}", "hospital", str(i))
        for asset in committed:
            assert json.loads(basic.evaluate_transaction("read_asset", asset))["id"] == asset

    net.start(old)  # the killed orderer comes back as a follower and catches up
    _assert_one_chain(net)


def _chain_infos(net: LocalNetwork) -> list[query_pb2.ChainInfo]:
    infos = []
    for peer in net.profile.peers:
        with QueryClient(net.directory, peer.org, peer=peer) as client:
            infos.append(client.chain_info())
    return infos


def _headers(path: Path) -> list[bytes]:
    return [common_pb2.Block.FromString(raw).header.SerializeToString(deterministic=True)
            for raw in read_raw_blocks(path / "blocks.bin").blocks]


def _assert_one_chain(net: LocalNetwork) -> None:
    """Every peer has the same chain, every orderer a prefix of it, and `ledger verify` passes."""
    deadline = time.monotonic() + 10
    infos = _chain_infos(net)
    while len({i.height for i in infos}) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # a peer may still be committing the last block
        infos = _chain_infos(net)
    assert len({(i.height, i.current_block_hash) for i in infos}) == 1, infos
    layout = Layout(net.directory)
    peer_chain = _headers(layout.node_data(net.profile.peers[0]) / "blocks")
    assert len(peer_chain) == infos[0].height
    for orderer in net.profile.orderers:
        chain = _headers(layout.node_data(orderer) / "blocks")
        assert chain == peer_chain[: len(chain)], f"{orderer.id} holds another chain"
    result = CliRunner().invoke(cli, ["ledger", "verify", "--dir", str(net.directory)])
    assert result.exit_code == 0, result.output
