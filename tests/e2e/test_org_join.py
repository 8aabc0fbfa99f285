"""A fourth organisation joins a running channel from "its own host" (its own folder, on
loopback) and leaves again, through the CLI with real processes: `org define` makes its keys in
its folder only; `org join` turns the channel's genesis block into its profile; its peer, started
before the channel's admins add it, is refused by the orderer and says so in /healthz; once a
majority adds it, it pulls the chain from block 0, validates it (same commit hashes as the
founders' peers) and serves; with the package installed and a definition `AND(hospital,
pharmacy)` committed by a majority that includes it, a pharmacy client's transaction and a
hospital client's are both endorsed by hospital and pharmacy and VALID on every peer. A second
pharmacy peer joins from a snapshot of hospital's peer. Removed by a majority, its peers stop
receiving blocks, saying why, and no gateway asks it any more. test_across_hosts tells the same
story across network namespaces."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest
from joining import (
    FOUNDERS,
    Host,
    commit_info,
    healthz,
    height,
    join_and_endorse,
    metric_height,
    prepare_pharmacy,
    sign,
    wait_until,
)

from careledger.gateway import GatewayError
from careledger.network.config import NodeInfo, Profile
from careledger.network.local.testing import local_network
from careledger.network.tools.queryclient import QueryClient

CONFIG = Path(__file__).with_name("network.toml")


def peer_height(host: Host, peer: NodeInfo) -> int:
    with QueryClient(host.directory, host.name, peer=peer) as client:
        return client.chain_info().height


def test_an_org_joins_from_its_own_folder_endorses_and_leaves(tmp_path: Path) -> None:
    with local_network(CONFIG, tmp_path / "founders") as net:
        founders = {org: Host(org, net.directory) for org in FOUNDERS}
        hospital, insurer, board = (founders[o] for o in FOUNDERS)
        pharmacy = Host("pharmacy", tmp_path / "pharmacy-host")
        pharmacy.directory.mkdir()
        ops_port = prepare_pharmacy(net.directory, pharmacy, "127.0.0.1", peers=2)
        log = tmp_path / "peer0.pharmacy.log"
        with ExitStack() as running:
            running.enter_context(pharmacy.node("peer0.pharmacy", log))
            join_and_endorse(founders, pharmacy, "127.0.0.1", ops_port)
            # its keys never were on the founders' host; its folder holds no other org's key
            assert not (net.layout.crypto / "pharmacy").exists()
            held = sorted(p.name for p in (pharmacy.directory / "crypto").iterdir())
            assert held == ["orderer", "pharmacy"]
            assert not list((pharmacy.directory / "crypto" / "orderer").rglob("key.pem"))

            # a second pharmacy peer starts from a snapshot hospital's peer took, confirmed by
            # the peers it can reach, instead of replaying every block
            snap = hospital.ok("ledger", "snapshot", "--peer", "peer0.hospital", "--out",
                               str(net.directory / "hospital.snapshot"))
            received = pharmacy.receive(Path(snap["file"]))
            running.enter_context(pharmacy.node("peer1.pharmacy", tmp_path / "peer1.pharmacy.log",
                                                "--from-snapshot", str(received)))
            peer1 = Profile.load(pharmacy.directory).node("peer1.pharmacy")
            wait_until(lambda: peer_height(pharmacy, peer1) >= height(hospital), 40, "peer1.pharmacy")
            block = height(hospital) - 1
            with QueryClient(pharmacy.directory, "pharmacy", peer=peer1) as client:
                joined = client.commit_info(block)
            assert (joined.commit_hash, joined.state_digest, joined.header_hash) == \
                commit_info(hospital, block)
            assert "joined from the snapshot of block" in (tmp_path / "peer1.pharmacy.log").read_text()

            # leave: a majority of the four (the pharmacy's admin signs at home) removes it
            remove = net.directory / "remove-pharmacy.pb"
            hospital.ok("channel", "update", "--remove-org", "pharmacy", "--out", str(remove))
            signed = sign(remove, (hospital, "hospital/admin"), (insurer, "insurer/admin"),
                          (pharmacy, "pharmacy/admin"))
            removed = board.ok("channel", "submit", str(board.receive(signed)), "--as", "board/admin")
            wait_until(lambda: "is no longer a member of channel healthcare" in log.read_text(), 20,
                       "the peer's log line")
            status, body = wait_until(lambda: (lambda h: h if h[0] == 503 else None)(
                healthz("127.0.0.1", ops_port)), 20, "/healthz to say why")  # type: ignore[misc]
            assert "pharmacy" in str(body["failed_checks"]), body
            # other gateways no longer ask pharmacy; the founders go on without it
            with net.connect("hospital:alice") as gateway:
                basic = gateway.get_network(net.profile.channel).get_contract("basic")
                with pytest.raises(GatewayError) as refusal:
                    basic.new_proposal("read_asset", ["rx-1"], endorsing_orgs=["pharmacy"]).endorse()
            assert refusal.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert "unknown endorsing organisation(s) pharmacy" in str(refusal.value)
            change = net.directory / "after.pb"
            hospital.ok("channel", "update", "--set", "batch_timeout_ms=200", "--out", str(change))
            signed = sign(change, (hospital, "hospital/admin"), (insurer, "insurer/admin"))
            later = hospital.ok("channel", "submit", str(hospital.receive(signed)), "--as", "hospital/admin")
            wait_until(lambda: height(board) > later["block"], 20, "board's peer to commit the next block")
            assert metric_height("127.0.0.1", ops_port) == removed["block"] + 1  # nothing after it
