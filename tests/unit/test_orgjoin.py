"""The profile of a joining org's host (network/node/orgjoin.py): the channel, orderers and batch
settings from the genesis configuration, this org's own peers only, nothing from other orgs; and
the refusals a wrong definition or name gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_channelconfig import crypto, genesis_message  # noqa: F401 - the module fixture

from careledger.network.config import NodeInfo, Profile
from careledger.network.ledger import channelconfig as cc
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
