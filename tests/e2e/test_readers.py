"""Who reads what, through a real network: full blocks (Query.GetBlock, BlockEvents, Deliver) only
for peers, orderers, org admins and auditors; every other member gets filtered block events and
its own transactions in full."""

from __future__ import annotations

import uuid

import grpc
import pytest
from clijson import deliver

from careledger.gateway import BlockEventsError
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

# Orderers read blocks from each other over Deliver; the peers answer only the channel's orgs.
FULL = ["hospital:peer0", "hospital:admin", "insurer:admin", "board:audrey"]
FILTERED = ["hospital:alice", "insurer:ivan", "hospital:drsmith", "board:rita"]
ROLE_OF = {"hospital:peer0": "peer", "orderer:orderer0": "orderer", "hospital:admin": "org admin",
           "insurer:admin": "org admin", "board:audrey": "auditor", "hospital:alice": "patient",
           "insurer:ivan": "claims adjuster", "hospital:drsmith": "practitioner",
           "board:rita": "registrar"}


@pytest.fixture(scope="module")
def own_tx(net: LocalNetwork) -> dict[str, str]:
    """One committed transaction by hospital:alice and one by hospital:admin: their tx ids."""
    made = {}
    for who in ("hospital:alice", "hospital:admin"):
        with net.connect(who) as gw:
            basic = gw.get_network(net.profile.channel).get_contract("basic")
            commit = basic.new_proposal("create_asset", [f"readers-{uuid.uuid4().hex[:8]}", "ward", "1"]) \
                .endorse().submit()
            assert commit.get_status().successful
            made[who] = commit.tx_id
    return made


def _query(net: LocalNetwork, who: str) -> QueryClient:
    org, _, user = who.partition(":")
    return QueryClient(net.directory, org, user, peer=net.profile.peers_of("hospital")[0])


def _first_block_event(net: LocalNetwork, who: str) -> common_pb2.Block:
    with net.connect(who, peer="peer0.hospital") as gw, \
            gw.get_network(net.profile.channel).get_block_events(0) as blocks:
        return next(iter(blocks))


@pytest.mark.parametrize("who", FULL, ids=lambda w: f"{ROLE_OF[w]}-{w}")
def test_full_block_readers_read_whole_blocks_through_every_service(
    net: LocalNetwork, own_tx: dict[str, str], who: str
) -> None:
    with _query(net, who) as q:
        assert q.block(0).data.envelopes
        other = q.transaction(own_tx["hospital:alice"])
        assert other.envelope.payload  # anyone's transaction, in full
    assert _first_block_event(net, who).data.envelopes
    assert deliver(net, who).header.number == 0


def test_an_orderer_reads_full_blocks_over_deliver(net: LocalNetwork) -> None:
    assert deliver(net, "orderer:orderer0").data.envelopes


@pytest.mark.parametrize("who", FILTERED, ids=lambda w: f"{ROLE_OF[w]}-{w}")
def test_other_members_are_refused_full_blocks_by_every_service(net: LocalNetwork, own_tx, who: str) -> None:
    org, _, user = who.partition(":")
    with _query(net, who) as q, pytest.raises(grpc.RpcError) as err:
        q.block(0)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"{org}/{user} (role client, " in err.value.details()
    assert "may not read full blocks through Query.GetBlock" in err.value.details()
    assert "filtered block events" in err.value.details()
    with pytest.raises(BlockEventsError) as events_err:
        _first_block_event(net, who)
    assert events_err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "may not read full blocks through BlockEvents" in str(events_err.value)
    assert "get_filtered_block_events" in str(events_err.value)
    with pytest.raises(grpc.RpcError) as err:
        deliver(net, who)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not read full blocks through Deliver" in err.value.details()


@pytest.mark.parametrize("who", FILTERED + FULL, ids=lambda w: f"{ROLE_OF[w]}-{w}")
def test_every_member_gets_filtered_block_events(net: LocalNetwork, own_tx, who: str) -> None:
    with QueryClient(net.directory, "hospital") as admin:
        block = admin.block(0)
        codes = list(block.metadata.validation_codes)
    with net.connect(who, peer="peer0.hospital") as gw, \
            gw.get_network(net.profile.channel).get_filtered_block_events(0) as blocks:
        filtered = next(iter(blocks))
    assert filtered.number == 0
    assert [t.validation_code for t in filtered.transactions] == codes
    assert all(len(t.tx_id) == 64 for t in filtered.transactions)
    assert b"ward" not in filtered.SerializeToString()  # no arguments, no results


def test_a_member_reads_its_own_transactions_but_not_anothers(net: LocalNetwork, own_tx) -> None:
    with _query(net, "hospital:alice") as q:
        mine = q.transaction(own_tx["hospital:alice"])
        assert mine.validation_code == common_pb2.VALID and mine.envelope.payload
        with pytest.raises(grpc.RpcError) as err:
            q.transaction(own_tx["hospital:admin"])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"transaction {own_tx['hospital:admin']} was not created by hospital/alice" in err.value.details()
    with _query(net, "insurer:ivan") as q, pytest.raises(grpc.RpcError) as err:
        q.transaction(own_tx["hospital:alice"])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_chain_info_is_open_to_every_member(net: LocalNetwork) -> None:
    for who in FILTERED:
        with _query(net, who) as q:
            assert q.chain_info().height >= 1
