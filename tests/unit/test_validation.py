"""Validator: each failure gets its own code, checked in a fixed order, with real signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from txfactory import (
    TestNetwork,
    endorse,
    endorsed_envelope,
    make_block,
    make_proposal,
    rwset,
    sign_transaction,
)
from validatorfixtures import validator_fixtures

from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockcheck import check_block
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.policy import parse
from careledger.network.peer.statedb import StateDB
from careledger.network.peer.validation import Validator
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode
POLICIES = {"consent": parse("AND(hospital, insurer)"), "claims": parse("OR(insurer)")}


net, state, validator = validator_fixtures(POLICIES)


def _both(net: TestNetwork) -> list[Signer]:
    return [net.peer("hospital"), net.peer("insurer")]


def _tx(
    net: TestNetwork,
    rw: common_pb2.ReadWriteSet | None = None,
    *,
    channel: str = "healthcare",
    nonce: bytes | None = None,
) -> bytes:
    """A transaction of the hospital client, endorsed by hospital and insurer."""
    env = endorsed_envelope(net.client("hospital"), _both(net), "consent", rw, channel=channel, nonce=nonce)
    return env.SerializeToString()


def _codes(validator: Validator, net: TestNetwork, *envelopes: bytes, number: int = 0) -> list[int]:
    block = make_block(number, None, list(envelopes), net.orderer)
    return [o.code for o in validator.validate(block)]


def _commit(state: StateDB, block_num: int, *outcomes: TxOutcome) -> None:
    state.apply_block(block_num, list(outcomes))


def _valid(tx_id: str, ns: str, key: str, value: bytes) -> TxOutcome:
    write = common_pb2.KVWrite(key=key, value=value)
    return TxOutcome(tx_id, VC.VALID, ns, ((ns, write),), None, datetime.now(UTC))


def test_endorsed_transaction_is_valid_with_writes_and_event(validator: Validator, net: TestNetwork) -> None:
    proposal = make_proposal(net.client("hospital"), "consent")
    event = common_pb2.ChaincodeEvent(contract="consent", event_name="granted", payload=b"p")
    transaction = endorse(proposal, _both(net), rwset("consent", writes={"c1": b"v"}), event=event)
    env = sign_transaction(net.client("hospital"), transaction).SerializeToString()
    (outcome,) = validator.validate(make_block(0, None, [env], net.orderer))
    assert outcome.code == VC.VALID
    assert outcome.tx_id == proposal.header.tx_id
    assert outcome.contract == "consent"
    assert [(ns, w.key, w.value) for ns, w in outcome.writes] == [("consent", "c1", b"v")]
    assert outcome.event is not None and outcome.event.event_name == "granted"
    assert outcome.timestamp == proposal.header.timestamp.ToDatetime(UTC)


def test_unparseable_and_empty_envelopes(validator: Validator, net: TestNetwork) -> None:
    assert _codes(validator, net, b"\xff\xff\xff", b"") == [VC.BAD_PAYLOAD, VC.NIL_ENVELOPE]


def test_wrong_channel_is_bad_channel(validator: Validator, net: TestNetwork) -> None:
    assert _codes(validator, net, _tx(net, channel="other")) == [VC.BAD_CHANNEL]


def test_tx_id_not_derived_from_nonce_and_creator(validator: Validator, net: TestNetwork) -> None:
    client = net.client("hospital")
    proposal = make_proposal(client, "consent")
    proposal.header.tx_id = "0" * 64
    env = sign_transaction(client, endorse(proposal, _both(net)))
    assert _codes(validator, net, env.SerializeToString()) == [VC.BAD_PROPOSAL_TXID]


def test_envelope_signed_by_another_key_is_bad_creator_signature(
    validator: Validator, net: TestNetwork
) -> None:
    transaction = endorse(make_proposal(net.client("hospital"), "consent"), _both(net))
    forged = sign_transaction(net.client("insurer"), transaction)
    assert _codes(validator, net, forged.SerializeToString()) == [VC.BAD_CREATOR_SIGNATURE]


def test_creator_from_unknown_ca_is_bad_creator_signature(
    validator: Validator, net: TestNetwork, tmp_path: Path
) -> None:
    generate_org(tmp_path, "hospital", [IdentitySpec("client", "client")])  # same name, other CA
    impostor = Signer.from_dir(tmp_path / "hospital" / "client")
    env = endorsed_envelope(impostor, _both(net), "consent")
    assert _codes(validator, net, env.SerializeToString()) == [VC.BAD_CREATOR_SIGNATURE]


def test_first_failure_wins(validator: Validator, net: TestNetwork) -> None:
    transaction = endorse(make_proposal(net.client("hospital"), "consent", channel="x"), [])
    forged = sign_transaction(net.client("insurer"), transaction)  # also bad signature, no policy
    assert _codes(validator, net, forged.SerializeToString()) == [VC.BAD_CHANNEL]


def test_duplicate_tx_id_in_block_and_across_blocks(
    validator: Validator, net: TestNetwork, state: StateDB
) -> None:
    env = _tx(net, rwset("consent", writes={"a": b"1"}))
    assert _codes(validator, net, env, env) == [VC.VALID, VC.DUPLICATE_TXID]
    tx_id = make_proposal(net.client("hospital"), "consent", nonce=b"n" * 24).header.tx_id
    _commit(state, 0, _valid(tx_id, "consent", "a", b"1"))
    again = _tx(net, nonce=b"n" * 24)
    assert _codes(validator, net, again, number=1) == [VC.DUPLICATE_TXID]


def test_failed_response_and_foreign_proposal_hash_are_bad_response_payload(
    validator: Validator, net: TestNetwork
) -> None:
    client = net.client("hospital")
    failed = endorse(make_proposal(client, "consent"), _both(net), status=500)
    swapped = endorse(make_proposal(client, "consent"), _both(net))
    swapped.proposal = endorse(make_proposal(client, "consent"), []).proposal
    envs = [sign_transaction(client, t).SerializeToString() for t in (failed, swapped)]
    assert _codes(validator, net, *envs) == [VC.BAD_RESPONSE_PAYLOAD] * 2


def test_contract_or_written_namespace_without_policy_is_unknown(
    validator: Validator, net: TestNetwork
) -> None:
    client = net.client("hospital")
    unknown = endorsed_envelope(client, _both(net), "billing")
    foreign_write = _tx(net, rwset("billing", writes={"x": b"1"}))
    assert _codes(validator, net, unknown.SerializeToString(), foreign_write) == [VC.UNKNOWN_CONTRACT] * 2


def test_endorsements_must_satisfy_policy_of_contract_and_written_namespaces(
    validator: Validator, net: TestNetwork
) -> None:
    client = net.client("hospital")
    hospital_only = endorsed_envelope(client, [net.peer("hospital")], "consent")
    client_not_peer = endorsed_envelope(client, [net.peer("hospital"), net.client("insurer")], "consent")
    claims_write = rwset("claims", writes={"k": b"v"})
    without_insurer = endorsed_envelope(
        client, [net.peer("hospital"), net.peer("board")], "consent", claims_write
    )
    with_insurer = endorsed_envelope(client, _both(net), "consent", claims_write)
    envs = [e.SerializeToString() for e in (hospital_only, client_not_peer, without_insurer, with_insurer)]
    assert _codes(validator, net, *envs) == [VC.ENDORSEMENT_POLICY_FAILURE] * 3 + [VC.VALID]


def test_bad_endorsement_signature_is_ignored_not_fatal(validator: Validator, net: TestNetwork) -> None:
    client = net.client("hospital")
    proposal = make_proposal(client, "consent")
    transaction = endorse(proposal, [*_both(net), net.peer("board")])
    transaction.endorsements[2].signature = transaction.endorsements[0].signature
    transaction.endorsements[1].signature = transaction.endorsements[0].signature
    assert _codes(validator, net, sign_transaction(client, transaction).SerializeToString()) == [
        VC.ENDORSEMENT_POLICY_FAILURE
    ]
    transaction.endorsements[1].signature = net.peer("insurer").sign(transaction.response_payload)
    assert _codes(validator, net, sign_transaction(client, transaction).SerializeToString()) == [VC.VALID]


def test_second_write_of_key_read_in_same_block_is_mvcc_invalid(
    validator: Validator, net: TestNetwork
) -> None:
    rw = rwset("consent", reads={"k": None}, writes={"k": b"v"})
    assert _codes(validator, net, _tx(net, rw), _tx(net, rw)) == [VC.VALID, VC.MVCC_READ_CONFLICT]


def test_read_version_must_match_committed_state(
    validator: Validator, net: TestNetwork, state: StateDB
) -> None:
    _commit(state, 0, _valid("t0", "consent", "k", b"old"))
    stale = _tx(net, rwset("consent", reads={"k": None}, writes={"k": b"x"}))
    current = _tx(net, rwset("consent", reads={"k": (0, 0)}, writes={"k": b"y"}))
    assert _codes(validator, net, stale, current, number=1) == [VC.MVCC_READ_CONFLICT, VC.VALID]


def test_key_inserted_into_scanned_range_is_phantom(
    validator: Validator, net: TestNetwork, state: StateDB
) -> None:
    _commit(state, 0, _valid("t0", "consent", "p1", b"x"))
    insert = _tx(net, rwset("consent", writes={"p2": b"y"}))
    scan = _tx(net, rwset("consent", range_reads=[("p", "q", {"p1": (0, 0)})]))
    rescan = _tx(net, rwset("consent", range_reads=[("p", "q", {"p1": (0, 0), "p2": (1, 0)})]))
    assert _codes(validator, net, insert, scan, rescan, number=1) == [
        VC.VALID,
        VC.PHANTOM_READ_CONFLICT,
        VC.VALID,
    ]


def test_invalid_transaction_is_logged_with_tx_id_and_code(
    validator: Validator, net: TestNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    client = net.client("hospital")
    env = endorsed_envelope(client, [net.peer("hospital")], "consent")
    with caplog.at_level("INFO", logger="careledger.network.peer.validation"):
        (outcome,) = validator.validate(make_block(0, None, [env.SerializeToString()], net.orderer))
    assert outcome.tx_id in caplog.text and "ENDORSEMENT_POLICY_FAILURE" in caplog.text


def test_squatted_tx_id_does_not_block_the_genuine_transaction(
    validator: Validator, net: TestNetwork, state: StateDB
) -> None:
    client = net.client("hospital")
    genuine = make_proposal(client, "consent")
    squatter = make_proposal(net.client("insurer"), "consent")
    squatter.header.tx_id = genuine.header.tx_id
    squat_env = sign_transaction(net.client("insurer"), endorse(squatter, _both(net)))
    genuine_env = sign_transaction(client, endorse(genuine, _both(net)))
    envs = [squat_env.SerializeToString(), genuine_env.SerializeToString()]
    block = make_block(0, None, envs, net.orderer)
    outcomes = validator.validate(block)
    assert [o.code for o in outcomes] == [VC.BAD_PROPOSAL_TXID, VC.VALID]
    state.apply_block(0, outcomes)
    assert state.tx_status(genuine.header.tx_id) == (VC.VALID, 0)


def _dated_tx(net: TestNetwork, at: datetime) -> bytes:
    proposal = make_proposal(net.client("hospital"), "consent", timestamp=at)
    return sign_transaction(net.client("hospital"), endorse(proposal, _both(net))).SerializeToString()


def test_proposal_dated_outside_the_skew_of_its_block_time_is_expired_timestamp(
    validator: Validator, net: TestNetwork
) -> None:
    block_time = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)  # certs valid then
    envelopes = [
        _dated_tx(net, block_time - timedelta(days=400)),
        _dated_tx(net, block_time + timedelta(days=3650)),
        _dated_tx(net, datetime(1971, 1, 1, tzinfo=UTC)),
        _dated_tx(net, block_time - timedelta(minutes=4)),
        _dated_tx(net, block_time + timedelta(minutes=4)),
    ]
    block = make_block(0, None, envelopes, net.orderer, at=block_time)
    outcomes = validator.validate(block)
    assert [o.code for o in outcomes] == [VC.EXPIRED_TIMESTAMP] * 3 + [VC.VALID] * 2
    then = (block_time - timedelta(days=400)).isoformat().replace("+00:00", "Z")
    assert outcomes[0].reason == (
        f"proposal time {then} is 400 days before block 0's time "
        f"{block_time.isoformat().replace('+00:00', 'Z')}; the channel accepts 300 s either way "
        "(clock_skew_s)"
    )
    assert "after block 0's time" in outcomes[1].reason


def test_block_without_a_time_skips_the_time_rule(validator: Validator, net: TestNetwork) -> None:
    block = make_block(0, None, [_dated_tx(net, datetime.now(UTC) - timedelta(days=400))], net.orderer)
    block.header.ClearField("timestamp")  # a block cut before blocks carried a time
    assert [o.code for o in validator.validate(block)] == [VC.VALID]


def test_certificates_are_judged_at_the_block_time_not_the_wall_clock(
    validator: Validator, net: TestNetwork
) -> None:
    not_after = net.membership().identity(net.client("hospital").cert_pem).not_after
    later = not_after + timedelta(days=1)  # the certificate is valid now, but not at the block's time
    (outcome,) = validator.validate(make_block(0, None, [_dated_tx(net, later)], net.orderer, at=later))
    assert outcome.code == VC.BAD_CREATOR_SIGNATURE
    assert "not at " + later.isoformat() in outcome.reason


def test_blocks_carry_a_signed_time_that_never_goes_back(net: TestNetwork) -> None:
    first = make_block(0, None, [], net.orderer, at=datetime(2030, 1, 1, tzinfo=UTC))
    second = make_block(1, first.header, [], net.orderer, at=datetime(2029, 1, 1, tzinfo=UTC))
    assert second.header.timestamp == first.header.timestamp  # an orderer with a slower clock
    assert check_block(second, first.header, 1, net.orderer_membership()) == ""
    second.header.timestamp.FromDatetime(datetime(2029, 1, 1, tzinfo=UTC))  # not re-signed
    assert "earlier than block 0's time 2030-01-01T00:00:00Z" in check_block(
        second, first.header, 1, net.orderer_membership())
