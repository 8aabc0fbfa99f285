"""The channel configuration rule (channelconfig.py): each refusal, MAJORITY, genesis, revocation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from careledger.gateway import config as sdkconfig
from careledger.gateway.identity import Identity, new_private_key_signer
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.errors import UnknownIdentityError
from careledger.network.identity.membership import serial_hex
from careledger.network.identity.signing import Signer
from careledger.network.ledger import channelconfig as cc
from careledger.protos import common_pb2, config_pb2

MEMBERS = ("hospital", "insurer", "board")
ORDERER = "orderer"


@pytest.fixture(scope="module")
def crypto(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crypto")
    for org in (*MEMBERS, "pharmacy"):
        generate_org(root, org, [IdentitySpec("admin", "admin"), IdentitySpec("peer0", "peer"),
                                 IdentitySpec("alice", "client")])
    generate_org(root, ORDERER, [IdentitySpec("admin", "admin"), IdentitySpec("orderer0", "orderer")])
    return root


def org_message(crypto: Path, org: str, orderer_org: bool = False) -> config_pb2.OrgConfig:
    peers = [] if orderer_org else [config_pb2.Endpoint(name="peer0", org=org, host="127.0.0.1", port=7051)]
    return config_pb2.OrgConfig(name=org, ca_cert=(crypto / org / "ca" / "cert.pem").read_bytes(),
                                peers=peers, orderer_org=orderer_org)


def genesis_message(crypto: Path) -> config_pb2.ChannelConfig:
    return config_pb2.ChannelConfig(
        channel="healthcare", sequence=0,
        orgs=[*(org_message(crypto, o) for o in MEMBERS), org_message(crypto, ORDERER, True)],
        orderers=[config_pb2.Endpoint(name="orderer0", org=ORDERER, host="127.0.0.1", port=7050)],
        policies=config_pb2.ChannelPolicies(admins="MAJORITY", lifecycle="MAJORITY"),
        access=config_pb2.AccessConfig(query=["peer", "admin"], block_events=["admin"],
                                       deliver=["peer", "orderer", "admin"]),
        batch=config_pb2.BatchConfig(max_tx=500, max_bytes=4_194_304, timeout_ms=100),
        clock_skew_s=300.0)


def signed_by(crypto: Path, update: config_pb2.SignedConfigUpdate,
              *who: str) -> config_pb2.SignedConfigUpdate:
    for name in who:
        org, _, user = name.partition("/")
        folder = crypto / org / (user or "admin")
        identity = Identity(org, (folder / "cert.pem").read_bytes())
        signer = new_private_key_signer((folder / "key.pem").read_bytes())
        update = sdkconfig.sign_update(update, identity, signer)
    return update


def sigs(update: config_pb2.SignedConfigUpdate) -> list[tuple[bytes, bytes]]:
    return [(s.endorser, s.signature) for s in update.signatures]


@pytest.fixture(scope="module")
def current(crypto: Path) -> cc.ChannelConfig:
    return cc.ChannelConfig.of(genesis_message(crypto))


def changed(current: cc.ChannelConfig, **batch: int) -> config_pb2.SignedConfigUpdate:
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    for name, value in batch.items():
        setattr(new.batch, name, value)
    return sdkconfig.new_update(current.message, new)


def test_majority_is_more_than_half_of_the_member_orgs(current: cc.ChannelConfig) -> None:
    assert current.member_orgs == MEMBERS
    assert current.orderer_orgs == (ORDERER,)
    assert str(current.admins) == "OutOf(2, board, hospital, insurer)"
    assert str(cc.resolve_policy("MAJORITY", ["a", "b", "c", "d"])) == "OutOf(3, a, b, c, d)"
    assert str(cc.resolve_policy("AND(hospital, board)", MEMBERS)) == "AND(hospital, board)"
    with pytest.raises(cc.ConfigUpdateError, match="names pharmacy, not member"):
        cc.resolve_policy("OR(pharmacy, board)", MEMBERS)


def test_update_signed_by_a_majority_of_admins_gives_the_new_config(
        crypto: Path, current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, timeout_ms=250), "hospital", "insurer")
    new = cc.validate_update(current, update.update, sigs(update))
    assert (new.sequence, new.batch_timeout_ms) == (1, 250)


def test_one_of_three_admins_is_refused_naming_what_is_missing(
        crypto: Path, current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, timeout_ms=250), "hospital")
    with pytest.raises(cc.ConfigUpdateError) as err:
        cc.validate_update(current, update.update, sigs(update))
    assert err.value.denied
    assert ("config update 1 has admin signatures of hospital only; the admins policy MAJORITY of "
            "board, hospital, insurer needs 2") in str(err.value)


def test_non_admin_and_orderer_admin_signatures_do_not_count(crypto: Path, current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, timeout_ms=250), "hospital", "insurer/alice", "board/peer0",
                       "orderer")
    with pytest.raises(cc.ConfigUpdateError) as err:
        cc.validate_update(current, update.update, sigs(update))
    assert "insurer/alice is a client, not an admin" in str(err.value)
    assert "board/peer0 is a peer, not an admin" in str(err.value)
    assert "orderer/admin is an admin of orderer, not of a member organisation" in str(err.value)


def test_signature_over_other_bytes_or_by_an_outsider_does_not_count(crypto: Path,
                                                                     current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, timeout_ms=250), "hospital", "pharmacy")
    other = signed_by(crypto, changed(current, timeout_ms=999), "insurer")
    forged = [*sigs(update), *sigs(other)]
    with pytest.raises(cc.ConfigUpdateError, match="hospital only") as err:
        cc.validate_update(current, update.update, forged)
    assert "org 'pharmacy' is not a member" in str(err.value)
    assert "signature does not verify for identity insurer/admin" in str(err.value)


def test_admin_certificate_judged_at_the_block_time(crypto: Path, current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, timeout_ms=250), "hospital", "insurer")
    with pytest.raises(cc.ConfigUpdateError, match="no valid admin signature"):
        cc.validate_update(current, update.update, sigs(update), at=datetime.now(UTC) + timedelta(days=400))


def test_wrong_sequence_and_wrong_channel_are_refused(crypto: Path, current: cc.ChannelConfig) -> None:
    update = changed(current, timeout_ms=250)
    stale = config_pb2.ConfigUpdate.FromString(update.update)
    stale.sequence = stale.config.sequence = 5
    raw = stale.SerializeToString()
    follow = r"config update 5 does not follow .*\(sequence 0\).* sequence 1"
    with pytest.raises(cc.ConfigUpdateError, match=follow):
        cc.validate_update(current, raw, [])
    other = config_pb2.ConfigUpdate.FromString(update.update)
    other.channel = other.config.channel = "billing"
    with pytest.raises(cc.ConfigUpdateError, match="for channel 'billing'; this channel is 'healthcare'"):
        cc.validate_update(current, other.SerializeToString(), [])
    with pytest.raises(cc.ConfigUpdateError, match="does not parse"):
        cc.validate_update(current, b"\xff\xff", [])


def test_malformed_configurations_are_refused(crypto: Path, current: cc.ChannelConfig) -> None:
    def refused(change: object, match: str) -> None:
        new = config_pb2.ChannelConfig()
        new.CopyFrom(current.message)
        change(new)  # type: ignore[operator]
        update = signed_by(crypto, sdkconfig.new_update(current.message, new), *MEMBERS)
        with pytest.raises(cc.ConfigUpdateError, match=match):
            cc.validate_update(current, update.update, sigs(update))

    def only_orderer(new: config_pb2.ChannelConfig) -> None:
        kept = [o for o in new.orgs if o.orderer_org]
        del new.orgs[:]
        new.orgs.extend(kept)

    def no_orderer_org(new: config_pb2.ChannelConfig) -> None:
        kept = [o for o in new.orgs if not o.orderer_org]
        del new.orgs[:]
        new.orgs.extend(kept)

    refused(only_orderer, "no member organisation.*last one cannot be removed")
    refused(no_orderer_org, "no ordering organisation")
    refused(lambda new: new.orgs.append(new.orgs[0]), "hospital appear more than once")
    refused(lambda new: setattr(new.batch, "max_tx", 0), "max_tx 0 and max_bytes")
    refused(lambda new: setattr(new, "clock_skew_s", 0), "clock_skew_s 0")
    refused(lambda new: new.access.deliver.remove("orderer"), "access.deliver must include orderer")
    refused(lambda new: setattr(new.policies, "admins", "AND(hospital, nobody)"), "names nobody")
    refused(lambda new: setattr(new.orgs[1], "ca_cert", new.orgs[0].ca_cert), "names org 'hospital'")


def test_adding_and_removing_an_org(crypto: Path, current: cc.ChannelConfig) -> None:
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    new.orgs.append(org_message(crypto, "pharmacy"))
    update = signed_by(crypto, sdkconfig.new_update(current.message, new), "board", "insurer")
    added = cc.validate_update(current, update.update, sigs(update))
    pharmacy_client = (crypto / "pharmacy" / "alice" / "cert.pem").read_bytes()
    assert added.member_membership.identity(pharmacy_client).id == "pharmacy/alice"
    assert str(added.admins) == "OutOf(3, board, hospital, insurer, pharmacy)"  # MAJORITY of four now
    with pytest.raises(UnknownIdentityError):
        current.member_membership.identity(pharmacy_client)

    back = config_pb2.ChannelConfig()
    back.CopyFrom(added.message)
    del back.orgs[:]
    back.orgs.extend(o for o in added.message.orgs if o.name != "pharmacy")
    removal = signed_by(crypto, sdkconfig.new_update(added.message, back), "board", "insurer")
    with pytest.raises(cc.ConfigUpdateError, match="needs 3"):  # judged by the config in force
        cc.validate_update(added, removal.update, sigs(removal))
    removal = signed_by(crypto, removal, "pharmacy")
    removed = cc.validate_update(added, removal.update, sigs(removal))
    with pytest.raises(UnknownIdentityError, match="pharmacy"):
        removed.member_membership.identity(pharmacy_client)


def test_the_ordering_org_cannot_be_removed(crypto: Path, current: cc.ChannelConfig) -> None:
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    new.orgs.append(org_message(crypto, "pharmacy", orderer_org=True))
    new.orgs[3].orderer_org = False
    del new.orderers[:]
    new.orderers.add(name="orderer0", org="pharmacy", host="127.0.0.1", port=7050)
    update = signed_by(crypto, sdkconfig.new_update(current.message, new), *MEMBERS)
    with pytest.raises(cc.ConfigUpdateError, match="removes ordering organisation orderer"):
        cc.validate_update(current, update.update, sigs(update))


def test_revoked_serials_refuse_that_certificate(crypto: Path, current: cc.ChannelConfig) -> None:
    from cryptography import x509

    alice_pem = (crypto / "hospital" / "alice" / "cert.pem").read_bytes()
    serial = serial_hex(x509.load_pem_x509_certificate(alice_pem))
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    new.orgs[0].revoked_serials.append(serial)
    update = signed_by(crypto, sdkconfig.new_update(current.message, new), "hospital", "board")
    revoked = cc.validate_update(current, update.update, sigs(update))
    for membership in (revoked.membership, revoked.member_membership):
        with pytest.raises(UnknownIdentityError, match=f"hospital/alice \\(serial {serial}\\) was revoked"):
            membership.identity(alice_pem)
    assert current.member_membership.identity(alice_pem).id == "hospital/alice"


def test_genesis_is_signed_under_its_own_admins_policy(crypto: Path) -> None:
    message = genesis_message(crypto)
    unsigned = config_pb2.SignedConfigUpdate(update=config_pb2.ConfigUpdate(
        channel="healthcare", sequence=0, config=message).SerializeToString())
    with pytest.raises(cc.ConfigUpdateError, match="no valid admin signature"):
        cc.validate_genesis(unsigned.update, [])
    signed = signed_by(crypto, unsigned, *MEMBERS)
    assert cc.validate_genesis(signed.update, sigs(signed)).sequence == 0


def test_config_transaction_round_trip(crypto: Path, current: cc.ChannelConfig) -> None:
    update = signed_by(crypto, changed(current, max_tx=10), "hospital", "insurer")
    folder = crypto / "hospital" / "admin"
    envelope = sdkconfig.config_envelope(update, Identity("hospital", (folder / "cert.pem").read_bytes()),
                                         new_private_key_signer((folder / "key.pem").read_bytes()))
    tx = cc.config_tx_of(envelope.SerializeToString())
    assert tx is not None and tx.update.sequence == 1
    assert cc.validate_update(current, tx.update_bytes, tx.signatures).batch_max_tx == 10
    block = common_pb2.Block()
    block.data.envelopes.append(envelope.SerializeToString())
    assert cc.block_config_tx(block) is not None
    block.data.envelopes.append(envelope.SerializeToString())
    assert cc.block_config_tx(block) is None  # a config transaction is alone in its block
    creator = Signer.from_dir(folder)
    assert creator.cert_pem == common_pb2.Proposal.FromString(
        common_pb2.Transaction.FromString(envelope.payload).proposal).header.creator


# -- a running node's view (liveconfig.py) and the orderer's side (batcher, blockmaker) ---------------

def _config_block(crypto: Path, number: int, update: config_pb2.SignedConfigUpdate,
                  previous: common_pb2.BlockHeader | None = None) -> common_pb2.Block:
    from careledger.network.orderer.blockmaker import make_block

    folder = crypto / "hospital" / "admin"
    envelope = sdkconfig.config_envelope(update, Identity("hospital", (folder / "cert.pem").read_bytes()),
                                         new_private_key_signer((folder / "key.pem").read_bytes()))
    orderer = Signer.from_dir(crypto / ORDERER / "orderer0")
    return make_block(number, previous, [envelope.SerializeToString()], orderer, last_config=number)


def test_a_node_follows_valid_config_blocks_only_and_finds_the_config_from_last_config(
        crypto: Path, current: cc.ChannelConfig) -> None:
    from careledger.network.node.liveconfig import LiveConfig, genesis_config, stored_config

    genesis_update = signed_by(crypto, config_pb2.SignedConfigUpdate(update=config_pb2.ConfigUpdate(
        channel="healthcare", sequence=0, config=current.message).SerializeToString()), *MEMBERS)
    genesis = _config_block(crypto, 0, genesis_update)
    live = LiveConfig(genesis_config(genesis))
    seen: list[int] = []
    live.on_change(lambda c: seen.append(c.sequence))
    pharmacy = (crypto / "pharmacy" / "alice" / "cert.pem").read_bytes()
    with pytest.raises(UnknownIdentityError):
        live.members.identity(pharmacy)
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    new.orgs.append(org_message(crypto, "pharmacy"))
    weak = signed_by(crypto, sdkconfig.new_update(current.message, new), "hospital")
    live.follow_block(_config_block(crypto, 1, weak, genesis.header))  # too few signatures: ignored
    assert (live.current.sequence, seen) == (0, [])
    strong = signed_by(crypto, weak, "board")
    assert live.last_config(2, [_config_block(crypto, 2, strong).data.envelopes[0]]) == 2
    assert live.last_config(2, [b"a", b"b"]) == 0  # an ordinary batch: the config in force stays
    block = _config_block(crypto, 2, strong, genesis.header)
    live.follow_block(block)
    assert (live.current.sequence, live.block, seen) == (1, 2, [1])
    assert live.members.identity(pharmacy).org == "pharmacy"  # the same Membership, updated in place
    roles = live.roles("deliver")
    assert "orderer" in roles and list(roles) == ["peer", "orderer", "admin"]
    blocks = {0: genesis, 2: block, 3: common_pb2.Block(metadata=common_pb2.BlockMetadata(last_config=2))}
    found, number = stored_config(blocks.__getitem__, 4)
    assert (found.sequence, number) == (1, 2)


def test_a_config_update_is_cut_alone_after_the_pending_batch() -> None:
    from careledger.network.orderer.consensus.batcher import Batcher
    from careledger.network.orderer.cutter import BatchLimits, BlockCutter

    written: list[list[bytes]] = []
    batcher = Batcher(BlockCutter(BatchLimits(max_tx=10, max_bytes=1_000)), 60.0, written.append, "test")

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(written) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    batcher.start()
    try:
        batcher.put(b"a")
        batcher.put(b"b")
        batcher.put(b"config", alone=True)  # no 60 s wait: the pending batch goes first, then it
        wait_for(2)
        batcher.set_timeout(0.05)  # a batch-settings update: from the next partial batch on
        batcher.put(b"c")
        wait_for(3)
    finally:
        batcher.stop()
    assert written == [[b"a", b"b"], [b"config"], [b"c"]]


# -- a peer's validation of config blocks (validation.py), and re-validation ----------------------------

def test_peers_judge_each_block_by_the_config_in_force_at_it(crypto: Path, current: cc.ChannelConfig,
                                                             tmp_path: Path) -> None:
    from txfactory import endorsed_envelope, rwset

    from careledger.network.ledger.policy import parse
    from careledger.network.peer.statedb import StateDB
    from careledger.network.peer.validation import Validator

    vc = common_pb2.ValidationCode
    policies = {"basic": parse("OR(hospital)")}
    genesis_update = signed_by(crypto, config_pb2.SignedConfigUpdate(update=config_pb2.ConfigUpdate(
        channel="healthcare", sequence=0, config=current.message).SerializeToString()), *MEMBERS)
    new = config_pb2.ChannelConfig()
    new.CopyFrom(current.message)
    new.orgs.append(org_message(crypto, "pharmacy"))
    weak = signed_by(crypto, sdkconfig.new_update(current.message, new), "hospital", "pharmacy")
    strong = signed_by(crypto, weak, "insurer")
    pharmacist = Signer.from_dir(crypto / "pharmacy" / "alice")
    hospital_peer = Signer.from_dir(crypto / "hospital" / "peer0")

    def pharmacy_tx(key: str) -> bytes:
        return endorsed_envelope(pharmacist, [hospital_peer], "basic",
                                 rwset("basic", writes={key: b"1"})).SerializeToString()

    blocks: list[common_pb2.Block] = []

    def block(*envelopes: bytes) -> common_pb2.Block:
        from careledger.network.orderer.blockmaker import make_block

        previous = blocks[-1].header if blocks else None
        orderer = Signer.from_dir(crypto / ORDERER / "orderer0")
        made = make_block(len(blocks), previous, list(envelopes), orderer)
        blocks.append(made)
        return made

    block(*_config_block(crypto, 0, genesis_update).data.envelopes)
    block(pharmacy_tx("before"))  # pharmacy is no member yet
    block(*_config_block(crypto, 2, weak).data.envelopes)  # hospital, and an outsider's signature
    block(*_config_block(crypto, 3, strong).data.envelopes)
    block(*_config_block(crypto, 4, strong).data.envelopes)  # the same update again: stale
    block(pharmacy_tx("after"))
    block(*_config_block(crypto, 6, strong).data.envelopes, pharmacy_tx("with"))  # not alone

    def run(path: Path) -> tuple[list[list[int]], bytes]:
        with StateDB(path) as state:
            validator = Validator("healthcare", current.member_membership, policies, state)
            codes = []
            for b in blocks:
                outcomes = validator.validate(b)
                state.apply_block(b.header.number, outcomes)
                codes.append([int(o.code) for o in outcomes])
            found = state.get_state(cc.CONFIG_NAMESPACE, cc.CONFIG_KEY)
            assert found is not None
            return codes, found[0]

    codes, stored = run(tmp_path / "a.db")
    assert codes == [[vc.VALID], [vc.BAD_CREATOR_SIGNATURE], [vc.ENDORSEMENT_POLICY_FAILURE], [vc.VALID],
                     [vc.BAD_CONFIG_UPDATE], [vc.VALID], [vc.BAD_CONFIG_UPDATE, vc.VALID]]
    assert cc.ChannelConfig.from_bytes(stored).org("pharmacy") is not None
    assert run(tmp_path / "again.db") == (codes, stored)  # re-validation from block 0 agrees


def test_the_sdk_edits_name_what_they_cannot_apply(crypto: Path, current: cc.ChannelConfig) -> None:
    definition = sdkconfig.org_definition_json(
        "pharmacy", (crypto / "pharmacy" / "ca" / "cert.pem").read_bytes(), [("peer0", "10.0.0.7", 7051)])
    added = sdkconfig.add_org(current.message, definition)
    assert [p.port for p in cc.ChannelConfig.of(added).peers_of("pharmacy")] == [7051]
    with pytest.raises(sdkconfig.ConfigEditError, match="pharmacy is already in the channel"):
        sdkconfig.add_org(added, definition)
    with pytest.raises(sdkconfig.ConfigEditError, match="org definition is malformed"):
        sdkconfig.add_org(current.message, {"name": "x"})
    with pytest.raises(sdkconfig.ConfigEditError, match="no organisation nobody .* it has hospital"):
        sdkconfig.remove_org(current.message, "nobody")
    assert sdkconfig.set_value(current.message, "batch_timeout_ms", "50").batch.timeout_ms == 50
    assert list(sdkconfig.set_value(current.message, "access.query", "peer, auditor").access.query) == [
        "peer", "auditor"]
    with pytest.raises(sdkconfig.ConfigEditError, match="unknown setting 'batch_size'; settable: batch_"):
        sdkconfig.set_value(current.message, "batch_size", "5")
    with pytest.raises(sdkconfig.ConfigEditError, match="clock_skew_s='soon': expected float"):
        sdkconfig.set_value(current.message, "clock_skew_s", "soon")
    revoked = sdkconfig.revoke(current.message, "hospital", "0x00AB:CD")
    assert list(revoked.orgs[0].revoked_serials) == ["abcd"]  # as serial_hex writes serials
    assert list(sdkconfig.revoke(revoked, "hospital", "abcd").orgs[0].revoked_serials) == ["abcd"]
