"""Key-level endorsement policies: the stub API puts them into the read-write set, committers keep
them as state rows (digest, snapshots), and validation asks a guarded key's policy instead of its
contract's, from committed state or from an earlier valid transaction of the same block."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from txfactory import TestNetwork, endorsed_envelope, make_block
from validatorfixtures import validator_fixtures

from careledger.chaincode import ClientIdentity, Context, Contract, evaluate, submit
from careledger.chaincode.contracts.consent.contract import home_org_policy
from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE, policy_key, split_policy_key
from careledger.chaincode.runtime import ContractRegistry, Invocation, Version, simulate
from careledger.chaincode.stub import split_composite_key
from careledger.network.peer import keypolicies
from careledger.network.peer.policy import parse
from careledger.network.peer.statedb import StateDB
from careledger.network.peer.validation import Validator
from careledger.protos import common_pb2

VC = common_pb2.ValidationCode
# the contract accepts any two orgs; key-level policies are narrower
Codes = list[tuple[int, str]]
POLICIES = {"records": parse("OutOf(2, hospital, insurer, board)")}


class Guarded(Contract):
    name = "records"

    @submit
    def guard(self, ctx: Context, key: str, policy: str) -> None:
        ctx.stub.put_state(key, "guarded")
        ctx.stub.set_state_validation_parameter(key, policy)

    @evaluate
    def policy_of(self, ctx: Context, key: str) -> str:
        before = ctx.stub.get_state_validation_parameter(key) or "-"
        ctx.stub.set_state_validation_parameter(key, "board")
        return f"{before} then {ctx.stub.get_state_validation_parameter(key)}"


class MemoryState:
    def __init__(self, rows: dict[tuple[str, str], bytes] | None = None) -> None:
        self.rows = rows or {}

    def get_state(self, ns: str, key: str) -> tuple[bytes, tuple[int, int]] | None:
        value = self.rows.get((ns, key))
        return None if value is None else (value, (0, 0))

    def get_range(self, ns: str, start: str, end: str, limit: int = 0) -> list[tuple[str, bytes, Version]]:
        return []

    def get_history(self, ns: str, key: str) -> list[object]:
        return []


def run(state: MemoryState, function: str, *args: str) -> common_pb2.ProposalResponsePayload:
    invocation = Invocation("tx-1", "healthcare", "records", function, [a.encode() for a in args], {},
                            datetime(2026, 3, 1, tzinfo=UTC), ClientIdentity("hospital", "alice", "client"))
    result = simulate(ContractRegistry([Guarded()]), state, invocation)  # type: ignore[arg-type]
    assert result.response.status == 200, result.response.message
    return common_pb2.ProposalResponsePayload(response=result.response, rwset=result.rwset)


def test_the_stub_puts_a_key_policy_into_the_rwset_as_a_metadata_write() -> None:
    payload = run(MemoryState(), "guard", "k1", "hospital")
    (ns,) = payload.rwset.ns_rwset
    assert ns.namespace == "records"
    assert [(m.key, m.endorsement_policy) for m in ns.metadata_writes] == [("k1", "hospital")]
    assert [w.key for w in ns.writes] == ["k1"]


def test_the_stub_reads_the_committed_policy_then_its_own_pending_one() -> None:
    state = MemoryState({(KEY_POLICY_NAMESPACE, policy_key("records", "k1")): b"hospital"})
    assert run(state, "policy_of", "k1").response.payload == b"hospital then board"
    assert run(MemoryState(), "policy_of", "k2").response.payload == b"- then board"


net, state, validator = validator_fixtures(POLICIES)


def write(key: str, value: bytes = b"v", policy: str | None = None) -> common_pb2.ReadWriteSet:
    ns = common_pb2.NsReadWriteSet(namespace="records", writes=[common_pb2.KVWrite(key=key, value=value)])
    if policy is not None:
        ns.metadata_writes.append(common_pb2.KVMetadataWrite(key=key, endorsement_policy=policy))
    return common_pb2.ReadWriteSet(ns_rwset=[ns])


def tx(net: TestNetwork, orgs: tuple[str, ...], rw: common_pb2.ReadWriteSet) -> bytes:
    envelope = endorsed_envelope(net.client("hospital"), [net.peer(o) for o in orgs], "records", rw)
    return envelope.SerializeToString()


def commit(validator: Validator, state: StateDB, net: TestNetwork, *envelopes: bytes) -> Codes:
    last = state.savepoint()
    number = 0 if last is None else last + 1
    outcomes = validator.validate(make_block(number, None, list(envelopes), net.orderer))
    state.apply_block(number, outcomes)
    return [(o.code, o.reason) for o in outcomes]


def test_a_guarded_key_needs_its_policy_as_well_as_the_contracts(validator, state, net, caplog) -> None:
    assert commit(validator, state, net, tx(net, ("insurer", "board"), write("k", policy="hospital"))) == [
        (VC.VALID, "")]  # setting it on a new key: the contract's policy decides
    assert keypolicies.committed(state, "records", "k") == "hospital"
    digest = state.commit_record(0).state_digest  # type: ignore[union-attr]

    with caplog.at_level("INFO"):
        [(code, reason)] = commit(validator, state, net, tx(net, ("insurer", "board"), write("k", b"forged")))
    assert code == VC.ENDORSEMENT_POLICY_FAILURE
    assert reason == ("valid endorsements from ['board', 'insurer'] do not satisfy the key-level policy "
                      "hospital of key records/'k'")
    assert "ENDORSEMENT_POLICY_FAILURE" in caplog.text
    assert "key-level policy hospital of key records/'k'" in caplog.text
    assert state.get_state("records", "k")[0] == b"v"  # type: ignore[index]
    assert state.commit_record(1).state_digest == digest  # type: ignore[union-attr]  # state unchanged

    # the home org alone cannot change it either: the contract's policy still holds
    [(code, reason)] = commit(validator, state, net, tx(net, ("hospital",), write("k", b"alone")))
    assert code == VC.ENDORSEMENT_POLICY_FAILURE
    assert "policy OutOf(2, hospital, insurer, board) of 'records'" in reason
    # the home org with one other: both policies hold
    assert commit(validator, state, net, tx(net, ("hospital", "board"), write("k", b"changed"))) == [
        (VC.VALID, "")]
    assert state.get_state("records", "k")[0] == b"changed"  # type: ignore[index]


def test_changing_or_removing_a_keys_policy_needs_the_policy_in_force(validator, state, net) -> None:
    commit(validator, state, net, tx(net, ("hospital", "board"), write("k", policy="hospital")))
    [(code, _)] = commit(validator, state, net, tx(net, ("insurer", "board"), write("k", policy="")))
    assert code == VC.ENDORSEMENT_POLICY_FAILURE
    assert keypolicies.committed(state, "records", "k") == "hospital"
    assert commit(validator, state, net, tx(net, ("hospital", "insurer"), write("k", policy=""))) == [
        (VC.VALID, "")]
    assert keypolicies.committed(state, "records", "k") is None
    # unguarded again: one org is not enough for the contract's policy
    [(code, reason)] = commit(validator, state, net, tx(net, ("hospital",), write("k")))
    assert code == VC.ENDORSEMENT_POLICY_FAILURE
    assert "policy OutOf(2, hospital, insurer, board) of 'records'" in reason


def test_a_policy_set_earlier_in_the_block_guards_the_key_in_later_transactions(validator, state, net):
    codes = commit(validator, state, net,
                   tx(net, ("hospital", "insurer"), write("a", policy="hospital")),
                   tx(net, ("insurer", "board"), write("a", b"second")))
    assert codes[0] == (VC.VALID, "")
    assert codes[1][0] == VC.ENDORSEMENT_POLICY_FAILURE and "records/'a'" in codes[1][1]


def test_an_unguarded_key_in_the_same_transaction_needs_the_contract_policy(validator, state, net):
    commit(validator, state, net, tx(net, ("hospital", "board"), write("g", policy="hospital")))
    rw = write("g")
    rw.ns_rwset[0].writes.append(common_pb2.KVWrite(key="plain", value=b"x"))
    [(code, reason)] = commit(validator, state, net, tx(net, ("hospital",), rw))
    assert code == VC.ENDORSEMENT_POLICY_FAILURE and "of 'records'" in reason


def test_an_unparseable_policy_is_refused(validator, state, net) -> None:
    bad = tx(net, ("hospital", "board"), write("k", policy="AND("))
    [(code, reason)] = commit(validator, state, net, bad)
    assert code == VC.INVALID_OTHER_REASON
    assert "the key-level policy set on key records/'k' does not parse" in reason
    assert state.get_state("records", "k") is None


def test_policies_are_state_rows_in_the_digest_and_the_rows_a_snapshot_exports(validator, state, net) -> None:
    commit(validator, state, net, tx(net, ("hospital", "board"), write("k", policy="hospital")))
    rows = state.state_rows()
    assert rows[(KEY_POLICY_NAMESPACE, policy_key("records", "k"))][0] == b"hospital"
    assert state.scan_digest() == state.commit_record(0).state_digest  # type: ignore[union-attr]


def test_the_gateway_learns_the_policies_an_rwset_touches(validator, state, net) -> None:
    commit(validator, state, net, tx(net, ("hospital", "board"), write("k", policy="AND(hospital, board)")))
    found = keypolicies.touched(state, write("k"))
    assert [(p.namespace, p.key, str(p.policy)) for p in found] == [("records", "k", "AND(hospital, board)")]
    assert keypolicies.touched(state, write("other")) == []


def test_every_consent_of_the_golden_story_carries_the_patients_home_hospital() -> None:
    state = json.loads((Path(__file__).with_name("ledger_golden.json")).read_text())["state"]
    consents = {key for ns, key, _ in state if ns == "consent" and split_composite_key(key)[0] == "consent"}
    guarded = {split_policy_key(key)[1]: text for ns, key, text in state if ns == KEY_POLICY_NAMESPACE}
    assert consents and {key: guarded.get(key) for key in consents} == dict.fromkeys(consents, "'hospital'")
    assert set(guarded) == consents  # no other key carries one


def test_consent_puts_the_home_org_policy_on_a_new_consent() -> None:
    assert home_org_policy("hospital/pt-7") == "'hospital'"
    assert str(parse(home_org_policy("clinic's/x"))) == "'clinic\\'s'"
