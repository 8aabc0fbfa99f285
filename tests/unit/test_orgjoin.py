"""The profile of a joining org's host (network/node/orgjoin.py): the channel, orderers and batch
settings from the genesis configuration, this org's own peers only, nothing from other orgs; and
the refusals a wrong definition or name gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_channelconfig import crypto, genesis_message  # noqa: F401 - the module fixture

from careledger.cli.main import cli
from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.ledger import channelconfig as cc
from careledger.network.local import launcher
from careledger.network.node.orgjoin import JoinError, joining_profile, read_definition

PHARMACY_PEER = NodeInfo("peer0", "pharmacy", "10.77.0.5", 7051, 9443)


def test_the_profile_names_the_channel_orderers_and_this_org_only(crypto: Path,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    config = cc.ChannelConfig.of(genesis_message(crypto))
    profile = joining_profile(config, "pharmacy", [PHARMACY_PEER])
    assert (profile.channel, profile.orderer_org, profile.orgs) == ("healthcare", "orderer", ("pharmacy",))
    assert [o.address for o in profile.orderers] == ["127.0.0.1:7050"]
    assert profile.peers == (PHARMACY_PEER,) and profile.contracts == ()
    assert (profile.orderer.batch_max_tx, profile.orderer.batch_timeout_ms) == (500, 100)
    assert profile.access.block_events == ("admin",)
    profile.save(tmp_path)
    assert Profile.load(tmp_path) == profile  # what `node peer --dir` reads back


def test_an_ordering_org_name_or_no_peer_is_refused(crypto: Path) -> None:  # noqa: F811
    config = cc.ChannelConfig.of(genesis_message(crypto))
    with pytest.raises(JoinError, match="is the ordering organisation of channel healthcare"):
        joining_profile(config, "orderer", [PHARMACY_PEER])
    with pytest.raises(JoinError, match="org pharmacy lists no peer"):
        joining_profile(config, "pharmacy", [])


def test_a_definition_is_read_or_named_as_missing_or_malformed(tmp_path: Path) -> None:
    path = tmp_path / "pharmacy.json"
    with pytest.raises(JoinError, match="no org definition at .*careledger org define"):
        read_definition(path)
    path.write_text(json.dumps({"name": "pharmacy", "ca_cert": "...",
                                "peers": [{"name": "peer0", "host": "10.77.0.5", "port": 7051}]}))
    name, peers = read_definition(path)
    assert name == "pharmacy" and [(p.name, p.host, p.port) for p in peers] == [("peer0", "10.77.0.5", 7051)]
    path.write_text(json.dumps({"name": "pharmacy", "peers": [{"name": "peer0"}]}))
    with pytest.raises(JoinError, match="malformed"):
        read_definition(path)


def run(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.output)


def test_org_join_writes_the_hosts_profile_from_the_genesis_block_and_refuses_another_channel(
    tmp_path: Path,
) -> None:
    config = tmp_path / "net.toml"
    config.write_text('[[orgs]]\nname = "hospital"\n')
    launcher.prepare(tmp_path / "net", config)
    genesis = tmp_path / "net" / "genesis.block"
    home = tmp_path / "pharmacy"
    code, refused = run("org", "join", "pharmacy", "--genesis", str(genesis), "--dir", str(home))
    assert code == 1 and refused["error"]["code"] == "CONFIG"
    assert "no org definition at" in refused["error"]["message"]
    assert run("org", "define", "pharmacy", "--dir", str(home), "--port", "7061")[0] == 0
    code, joined = run("org", "join", "pharmacy", "--genesis", str(genesis), "--dir", str(home),
                       "--ops-port", "9461")
    assert code == 0, joined
    assert joined["peers"] == [{"id": "peer0.pharmacy", "address": "127.0.0.1:7061", "ops_port": 9461}]
    layout = Layout(home)
    assert layout.genesis.read_bytes() == genesis.read_bytes()
    assert layout.ca_cert("orderer").read_bytes() == Layout(tmp_path / "net").ca_cert("orderer").read_bytes()
    profile = Profile.load(home)
    assert profile.orgs == ("pharmacy",) and [p.id for p in profile.peers] == ["peer0.pharmacy"]
    # a folder joins one channel: another channel's genesis block is refused
    config.write_text('channel = "other"\n[[orgs]]\nname = "hospital"\n')
    launcher.prepare(tmp_path / "other", config)
    code, refused = run("org", "join", "pharmacy", "--genesis", str(tmp_path / "other" / "genesis.block"),
                        "--dir", str(home))
    assert code == 1 and "holds another genesis block than" in refused["error"]["message"]
