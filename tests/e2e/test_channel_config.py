"""The channel configuration on the ledger, through the CLI on a real network of its own: the
genesis configuration is readable; an update signed by too few admins (or by a non-admin) is
refused naming what is missing and leaves the ledger unchanged; a majority's update commits and
every peer and the orderer use it; a fourth org made on "another host" (`org define` in its own
directory) is added by majority, its client is then accepted by a hospital peer, and after it is
removed again it is refused; a certificate an org revokes by an update is refused from then on;
re-validating every block (`ledger verify --state`) stays clean, earlier transactions of the revoked
identity included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from clijson import cli, heights, ok, refused

from careledger.gateway import GatewayError, connect
from careledger.gateway.identity import Identity, new_private_key_signer
from careledger.network.ledger.channelconfig import CONFIG_CONTRACT, block_config_tx
from careledger.network.local.testing import LocalNetwork, local_network
from careledger.network.tools.queryclient import QueryClient

CONFIG = Path(__file__).with_name("network.toml")
ORGS = ("hospital", "insurer", "board")
BATCH_CHANGE = ("--set", "batch_max_tx=1", "--set", "batch_timeout_ms=50")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("channelconfig")) as network:
        yield network


@pytest.fixture(scope="module")
def pharmacy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pharmacy-host")


def config_of(net: LocalNetwork, org: str) -> dict:
    """The configuration in force on ORG's peer, as its admin reads it."""
    return ok(cli(net.directory, "channel", "config", "--as", f"{org}/admin"))


def make_update(net: LocalNetwork, out: Path, *change: str) -> Path:
    ok(cli(net.directory, "channel", "update", *change, "--out", str(out)))
    return out


def sign(directory: Path, update: Path, *who: str) -> None:
    for name in who:
        ok(cli(directory, "channel", "sign", str(update), "--as", name))


def wait_until(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_the_genesis_block_holds_the_configuration_every_peer_serves(net: LocalNetwork) -> None:
    for org in ORGS:
        config = config_of(net, org)
        assert config["sequence"] == 0
        assert [o["name"] for o in config["orgs"]] == [*ORGS, "orderer"]
        assert config["batch"]["timeout_ms"] == 300
        assert config["policies"] == {"admins": "MAJORITY", "lifecycle": "MAJORITY"}
    with QueryClient(net.directory, "hospital") as client:
        genesis = client.block(0)
    tx = block_config_tx(genesis)
    assert tx is not None and tx.update.sequence == 0 and len(tx.signatures) == 3
    assert genesis.metadata.last_config == 0
    # a patient (a client of hospital) reads no configuration: only access.query roles do
    error = refused(cli(net.directory, "channel", "config", "--as", "hospital/alice"))
    assert error["code"] == "PERMISSION_DENIED" and "Query.GetChannelConfig" in error["message"]


def test_too_few_or_non_admin_signatures_are_refused_and_change_nothing(net: LocalNetwork,
                                                                        tmp_path: Path) -> None:
    before = heights(net)
    update = make_update(net, tmp_path / "batch.pb", *BATCH_CHANGE)
    sign(net.directory, update, "hospital/admin", "insurer/ivan", "board/rita")
    error = refused(cli(net.directory, "channel", "submit", str(update), "--as", "hospital/admin"))
    assert error["code"] == "PERMISSION_DENIED"
    assert ("config update 1 has admin signatures of hospital only; the admins policy MAJORITY of "
            "board, hospital, insurer needs 2") in error["message"]
    assert "insurer/ivan is a client, not an admin" in error["message"]
    # a non-admin may not even submit one
    error = refused(cli(net.directory, "channel", "submit", str(update), "--as", "insurer/ivan"))
    assert error["code"] == "PERMISSION_DENIED" and "insurer/ivan is a client" in error["message"]
    time.sleep(1.0)  # a block that was cut would have reached the peers by now
    assert heights(net) == before
    assert all(config_of(net, org)["sequence"] == 0 for org in ORGS)


def test_a_majority_update_commits_and_every_node_uses_it(net: LocalNetwork, tmp_path: Path) -> None:
    update = make_update(net, tmp_path / "batch.pb", *BATCH_CHANGE)
    sign(net.directory, update, "hospital/admin", "board/admin")
    done = ok(cli(net.directory, "channel", "submit", str(update), "--as", "board/admin"))
    assert done["sequence"] == 1
    assert wait_until(lambda: all(config_of(net, o)["sequence"] == 1 for o in ORGS))
    for org in ORGS:
        assert config_of(net, org)["batch"] == {"max_tx": 1, "max_bytes": "1048576", "timeout_ms": 50}
    with QueryClient(net.directory, "hospital") as client:
        block = client.block(done["block"])
    assert len(block.data.envelopes) == 1 and block_config_tx(block) is not None  # alone in its block
    assert block.metadata.last_config == done["block"]
    # the orderer cuts by the new batch size: two transactions sent together land in two blocks
    with net.connect("hospital:admin") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        sent = [basic.new_proposal("create_asset", args=[f"cfg-{i}", "ward-1", "1"]).endorse().submit()
                for i in range(2)]
        blocks = {c.get_status().block_number for c in sent}
    assert len(blocks) == 2
    # a stale update (made for sequence 1 again) is refused before ordering, naming the sequence
    sign(net.directory, update, "insurer/admin")
    error = refused(cli(net.directory, "channel", "submit", str(update), "--as", "hospital/admin"))
    assert error["code"] == "FAILED_PRECONDITION"
    assert "config update 1 does not follow the configuration in force (sequence 1)" in error["message"]


def _pharmacy_evaluate(net: LocalNetwork, pharmacy_dir: Path) -> str:
    """A pharmacy client asks a hospital peer to evaluate; "" when served, else the refusal."""
    folder = pharmacy_dir / "crypto" / "pharmacy" / "phil"
    cert, key = (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()
    peer = net.profile.peers_of("hospital")[0]
    with connect(peer.address, Identity("pharmacy", cert), new_private_key_signer(key),
                 tls_root_certificates=net.layout.ca_cert("hospital").read_bytes(),
                 tls_client_certificate=cert, tls_client_key=key) as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        try:
            basic.evaluate_transaction("read_asset", "cfg-0")
        except GatewayError as err:
            return f"{err.code.name}: {err}"
    return ""


def test_an_org_from_another_host_joins_by_majority_and_leaves_again(
    net: LocalNetwork, pharmacy_dir: Path, tmp_path: Path
) -> None:
    defined = ok(cli(pharmacy_dir, "org", "define", "pharmacy", "--user", "phil"))
    assert defined["name"] == "pharmacy" and defined["peers"][0]["name"] == "peer0"
    assert not (net.layout.crypto / "pharmacy").exists()  # its keys never were on this host
    # before the update its CA is unknown: the TLS handshake fails (or the call is refused)
    before = _pharmacy_evaluate(net, pharmacy_dir)
    assert before.split(":")[0] in {grpc.StatusCode.UNAVAILABLE.name, "PERMISSION_DENIED", "UNAUTHENTICATED"}

    add = make_update(net, tmp_path / "add.pb", "--add-org", defined["definition"])
    sign(net.directory, add, "hospital/admin", "insurer/admin")
    ok(cli(net.directory, "channel", "submit", str(add), "--as", "insurer/admin"))
    assert wait_until(lambda: all(config_of(net, o)["sequence"] == 2 for o in ORGS))
    assert wait_until(lambda: _pharmacy_evaluate(net, pharmacy_dir) == "")

    # MAJORITY now counts four orgs: three admins must agree; the pharmacy's admin signs at home
    remove = make_update(net, tmp_path / "remove.pb", "--remove-org", "pharmacy")
    sign(net.directory, remove, "hospital/admin", "insurer/admin")
    error = refused(cli(net.directory, "channel", "submit", str(remove), "--as", "hospital/admin"))
    assert "MAJORITY of board, hospital, insurer, pharmacy needs 3" in error["message"]
    sign(pharmacy_dir, remove, "pharmacy/admin")
    ok(cli(net.directory, "channel", "submit", str(remove), "--as", "hospital/admin"))
    assert wait_until(lambda: all(config_of(net, o)["sequence"] == 3 for o in ORGS))
    assert wait_until(lambda: _pharmacy_evaluate(net, pharmacy_dir) != "")


def test_a_revoked_certificate_is_refused_from_the_update_on(net: LocalNetwork, tmp_path: Path) -> None:
    from cryptography import x509

    with net.connect("hospital:bob") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        basic.submit_transaction("create_asset", "bobs-asset", "ward-2", "1")  # VALID before revocation
    cert = x509.load_pem_x509_certificate((net.identity_dir("hospital:bob") / "cert.pem").read_bytes())
    serial = f"{cert.serial_number:x}"
    update = make_update(net, tmp_path / "revoke.pb", "--revoke", f"hospital={serial}")
    sign(net.directory, update, "hospital/admin", "board/admin")
    ok(cli(net.directory, "channel", "submit", str(update), "--as", "hospital/admin"))
    assert wait_until(lambda: all(config_of(net, o)["sequence"] == 4 for o in ORGS))
    assert config_of(net, "insurer")["orgs"][0]["revoked_serials"] == [serial]
    with net.connect("hospital:bob") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        with pytest.raises(GatewayError) as refusal:
            basic.evaluate_transaction("read_asset", "bobs-asset")
    assert refusal.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert f"hospital/bob (serial {serial}) was revoked by org 'hospital'" in str(refusal.value)


def test_old_blocks_revalidate_the_same_after_configuration_changes(net: LocalNetwork) -> None:
    with QueryClient(net.directory, "hospital") as client:
        height = client.chain_info().height
        codes = [list(client.block(n).metadata.validation_codes) for n in range(height)]
        contracts = [block_config_tx(client.block(n)) is not None for n in range(height)]
    assert sum(contracts) >= 5 and CONFIG_CONTRACT == "_config"  # genesis + four updates
    report = ok(cli(net.directory, "ledger", "verify", "--state"))
    assert all(entry["ok"] for entry in report.values()), report
    assert all(not entry.get("state_problems") for entry in report.values())
    assert all(c == [0] for c, is_config in zip(codes, contracts, strict=True) if is_config)
