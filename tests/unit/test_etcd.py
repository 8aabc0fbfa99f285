"""Against a real one-member etcd: the client (TLS, failover) and the consenter (one chain, one
leader, fencing, bounded space, restarts)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from txfactory import TestNetwork

from careledger.network.config import EtcdMember, Layout, OrdererSettings, Profile
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.ledger.blockcheck import check_block
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.local.etcdcluster import find_etcd, member_argv
from careledger.network.orderer.consensus.base import OrderingUnavailable
from careledger.network.orderer.consensus.etcd import EtcdConsenter, EtcdConsenterSettings
from careledger.network.orderer.consensus.etcdchain import ChainKeys
from careledger.network.orderer.consensus.etcdclient import EtcdClient, EtcdTLS, EtcdUnavailable
from careledger.network.orderer.consensus.etcdwriter import write_block
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.protos import common_pb2

KEYS = ChainKeys.of("/test", "healthcare")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _etcd(root: Path, tls: EtcdTLS | None = None) -> Iterator[str]:
    """One etcd member, started with the launcher's own command line (plus TLS if given)."""
    member = EtcdMember("etcd0", "127.0.0.1", _free_port(), _free_port())
    profile = Profile("healthcare", "orderer", (), OrdererSettings(), (), (), (), (member,))
    argv = member_argv(find_etcd(), Layout(root), profile, member)
    if tls:
        argv = [a.replace(f"http://{member.client_address}", f"https://{member.client_address}")
                for a in argv]
        argv += ["--cert-file", tls.cert_file, "--key-file", tls.key_file,
                 "--trusted-ca-file", tls.ca_file, "--client-cert-auth"]
    with open(root / "etcd.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with EtcdClient([member.client_address], tls) as client:
            _wait(lambda: client.member_status(member.client_address).healthy, 20, "etcd to start")
        yield member.client_address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _etcd(tmp_path_factory.mktemp("etcd")) as endpoint:
        yield endpoint


@pytest.fixture()
def keys(etcd_endpoint: str, request: pytest.FixtureRequest) -> ChainKeys:
    """A chain of its own per test, on the shared etcd."""
    return ChainKeys.of("/test", request.node.name)


@dataclass
class Orderers:
    """Consenters of one chain that reach each other by direct calls instead of gRPC."""

    endpoint: str
    keys: ChainKeys
    root: Path
    net: TestNetwork
    nodes: dict[str, EtcdConsenter] = field(default_factory=dict)
    stores: dict[str, BlockStore] = field(default_factory=dict)

    def add(self, name: str, ids: tuple[str, ...], retain: int = 100) -> EtcdConsenter:
        store = BlockStore(self.root / name)
        consenter = EtcdConsenter(
            EtcdClient([self.endpoint]), store, self.net.orderer,
            BlockCutter(BatchLimits(max_tx=2, max_bytes=1 << 20)),
            EtcdConsenterSettings(self.keys, me=name, orderers=ids, batch_timeout=0.05, lease_ttl=2,
                                  retain_blocks=retain),
            others=_Links(self, name), check=partial(check_block,
                                                    orderer_membership=self.net.orderer_membership()))
        self.nodes[name], self.stores[name] = consenter, store
        consenter.start()
        return consenter

    def leader(self) -> EtcdConsenter:
        _wait(lambda: sum(c.is_leader for c in self.nodes.values()) == 1, 10, "one leader")
        return next(c for c in self.nodes.values() if c.is_leader)

    def stop(self, name: str) -> None:
        self.nodes.pop(name).stop()
        self.stores.pop(name).close()

    def chains(self) -> list[list[bytes]]:
        return [[s.get_bytes(n) for n in range(s.height)] for s in self.stores.values()]


@dataclass
class _Links:
    orderers: Orderers
    me: str

    def forward(self, orderer_id: str, envelope: bytes) -> None:
        if orderer_id not in self.orderers.nodes:
            raise OrderingUnavailable(f"{orderer_id} is down")
        self.orderers.nodes[orderer_id].order(envelope)

    def fetch(self, start: int, stop: int) -> Iterator[common_pb2.Block]:
        for name, store in list(self.orderers.stores.items()):
            if name != self.me and store.height >= stop:
                yield from (store.get(n) for n in range(start, stop))
                return


@pytest.fixture()
def orderers(etcd_endpoint: str, keys: ChainKeys, tmp_path: Path) -> Iterator[Orderers]:
    group = Orderers(etcd_endpoint, keys, tmp_path, TestNetwork.create(tmp_path / "crypto", ["hospital"]))
    yield group
    for name in list(group.nodes):
        group.stop(name)


def test_the_client_moves_on_from_a_member_that_does_not_answer(etcd_endpoint: str) -> None:
    with EtcdClient([f"127.0.0.1:{_free_port()}", etcd_endpoint], timeout=1.0) as etcd:
        etcd.put(b"/test/failover", b"v")
        kv = etcd.get(b"/test/failover")
        assert kv is not None and kv.value == b"v"


def test_the_client_speaks_mutual_tls_to_a_cluster_that_requires_it(tmp_path: Path) -> None:
    generate_org(tmp_path, "etcd", [IdentitySpec("server", "orderer"), IdentitySpec("client", "orderer")])
    ca = str(tmp_path / "etcd" / "ca" / "cert.pem")

    def pair(name: str) -> EtcdTLS:
        folder = tmp_path / "etcd" / name
        return EtcdTLS(ca, str(folder / "cert.pem"), str(folder / "key.pem"))

    with _etcd(tmp_path, pair("server")) as endpoint:
        with EtcdClient([endpoint], pair("client")) as etcd:
            etcd.put(b"/test/tls", b"v")
            kv = etcd.get(b"/test/tls")
            assert kv is not None and kv.value == b"v"
        with EtcdClient([endpoint], EtcdTLS(ca), timeout=1.0) as anonymous, pytest.raises(EtcdUnavailable):
            anonymous.get(b"/test/tls")


def _envelopes(count: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(count)]


def _all_in_chain(group: Orderers, envelopes: list[bytes]) -> bool:
    for store in group.stores.values():
        ordered = [e for n in range(store.height) for e in store.get(n).data.envelopes]
        if sorted(ordered) != sorted(envelopes):
            return False
    return True


def test_every_orderer_stores_the_one_chain_its_leader_cuts(orderers: Orderers) -> None:
    ids = ("a", "b", "c")
    for name in ids:
        orderers.add(name, ids)
    orderers.leader()
    sent = _envelopes(9, "tx")
    for i, envelope in enumerate(sent):  # through leader and followers alike
        orderers.nodes[ids[i % 3]].order(envelope)
    _wait(lambda: _all_in_chain(orderers, sent), 10, "every envelope on every orderer")
    first, *others = orderers.chains()
    assert all(chain == first for chain in others)


def test_leadership_moves_when_the_leader_stops(orderers: Orderers) -> None:
    ids = ("a", "b")
    for name in ids:
        orderers.add(name, ids)
    old = orderers.leader()
    old.order(b"before")
    _wait(lambda: _all_in_chain(orderers, [b"before"]), 10, "the first block")
    old_name = next(n for n, c in orderers.nodes.items() if c is old)
    orderers.stop(old_name)
    started = time.monotonic()
    new = orderers.leader()
    assert time.monotonic() - started < 5
    new.order(b"after")
    _wait(lambda: _all_in_chain(orderers, [b"before", b"after"]), 10, "the block after the change")


def test_the_chain_in_etcd_refuses_a_second_block_n_a_stale_tip_and_a_deposed_leader(
        etcd_endpoint: str, keys: ChainKeys) -> None:
    with EtcdClient([etcd_endpoint]) as etcd:
        leader_rev = etcd.put(keys.leader, b"a")
        first = write_block(etcd, keys, 0, b"block 0", tip_rev=0, leader_rev=leader_rev)
        assert first is not None
        assert write_block(etcd, keys, 0, b"other block 0", tip_rev=0, leader_rev=leader_rev) is None
        assert write_block(etcd, keys, 1, b"block 1 on a stale tip", tip_rev=first - 1,
                           leader_rev=leader_rev) is None
        etcd.delete_range(keys.leader, keys.leader + b"\0")
        new_leader_rev = etcd.put(keys.leader, b"b")
        assert write_block(etcd, keys, 1, b"block 1 by a", tip_rev=first, leader_rev=leader_rev) is None
        assert write_block(etcd, keys, 1, b"block 1 by b", tip_rev=first, leader_rev=new_leader_rev)
        # even once block 0 is deleted from etcd, it cannot be written again
        etcd.delete_range(keys.block(0), keys.block(1))
        assert write_block(etcd, keys, 0, b"block 0 again", tip_rev=0, leader_rev=new_leader_rev) is None


def test_etcd_drops_old_blocks_only_once_every_orderer_stored_them(orderers: Orderers) -> None:
    ids = ("a", "b")
    a = orderers.add("a", ids, retain=2)
    sent = _envelopes(10, "tx")  # one block each: order() returns once its block is in etcd
    for envelope in sent:
        a.order(envelope)
    _wait(lambda: _all_in_chain(orderers, sent), 10, "ten blocks on a")
    with EtcdClient([orderers.endpoint]) as etcd:
        time.sleep(1.5)  # a few leadership rounds: b never reported, so nothing may go
        assert etcd.get(orderers.keys.block(0)) is not None
        orderers.add("b", ids, retain=2)
        _wait(lambda: etcd.get(orderers.keys.block(0)) is None, 10, "block 0 to leave etcd")
        kept, _, _ = etcd.range(orderers.keys.block(0), orderers.keys.blocks_end)
        assert [orderers.keys.block_number(kv.key) for kv in kept][-2:] == [8, 9]
        assert len(kept) < 10
    # an orderer that starts from nothing fetches the dropped blocks from another orderer
    orderers.add("c", ids, retain=2)
    more = _envelopes(4, "more")
    for envelope in more:
        orderers.leader().order(envelope)
    _wait(lambda: _all_in_chain(orderers, sent + more), 10, "c to catch up and follow")
    first, *others = orderers.chains()
    assert all(chain == first for chain in others)


def test_ordering_without_a_reachable_cluster_is_refused_as_unavailable(tmp_path: Path) -> None:
    net = TestNetwork.create(tmp_path / "crypto", ["hospital"])
    store = BlockStore(tmp_path / "blocks")
    consenter = EtcdConsenter(
        EtcdClient([f"127.0.0.1:{_free_port()}"], timeout=0.5), store, net.orderer,
        BlockCutter(BatchLimits(2, 1 << 20)),
        EtcdConsenterSettings(KEYS, me="a", orderers=("a",), batch_timeout=0.05, lease_ttl=1),
        others=_Links(Orderers("", KEYS, tmp_path, net), "a"), check=lambda *_: "")
    consenter.start()
    try:
        with pytest.raises(OrderingUnavailable, match="no orderer leads"):
            consenter.order(b"tx")
    finally:
        consenter.stop()
        store.close()


def test_a_restarted_orderer_resumes_its_chain_but_will_not_lead_a_cluster_that_lost_it(
        orderers: Orderers) -> None:
    orderers.add("a", ("a",)).order(b"one")
    orderers.stop("a")
    orderers.add("a", ("a",)).order(b"two")
    assert _all_in_chain(orderers, [b"one", b"two"]) and orderers.stores["a"].height == 2
    orderers.stop("a")
    orderers.keys = ChainKeys.of("/test", "an-emptied-cluster")  # as if etcd's data were gone
    restarted = orderers.add("a", ("a",))
    _wait(lambda: "etcd holds no chain" in restarted.problem(), 5, "the orderer to notice")
    time.sleep(1.0)  # several leadership rounds
    assert not restarted.is_leader
