"""The `_lifecycle` contract's rules and the definitions peers read from its state."""

from __future__ import annotations

import pytest
from contractharness import Call, Ledger, admin, client

from careledger.chaincode.runtime import ContractRegistry
from careledger.network.peer.definitions import ContractDefinitions, lifecycle_policy
from careledger.network.peer.lifecycle import LifecycleContract

ORGS = ("hospital", "insurer", "board")
PKG1 = "consent_1.0:" + "a" * 64
PKG2 = "consent_2.0:" + "b" * 64
OTHER2 = "consent_2.0:" + "c" * 64
POLICY = "AND(hospital, insurer)"


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger()
    ledger.registry = ContractRegistry()
    ledger.registry.register(LifecycleContract(lambda: lifecycle_policy(ORGS)), system=True)
    return ledger


def _define(ledger: Ledger, *orgs: str, version: str = "1.0", seq: str = "1", policy: str = POLICY,
            package: str = PKG1) -> None:
    for org in orgs:
        ledger.submit(admin(org), "_lifecycle", "approve", "consent", version, seq, policy, package)


def test_a_majority_of_approvals_commits_the_definition(ledger: Ledger) -> None:
    _define(ledger, "hospital", "insurer")
    committed = ledger.submit(admin("board"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    assert committed["approvals"] == ["hospital", "insurer"] and committed["sequence"] == 1
    definitions = ContractDefinitions(ledger.state, ORGS)
    found = definitions.definition("consent")
    assert found is not None and found.package_id == PKG1 and found.version == "1.0"
    assert definitions["consent"].satisfied_by({"hospital", "insurer"})
    assert not definitions["consent"].satisfied_by({"hospital", "board"})
    assert sorted(definitions) == ["_lifecycle", "consent"]
    assert definitions["_lifecycle"].satisfied_by({"board", "insurer"})  # MAJORITY without a config


def test_a_non_admin_may_not_approve_or_commit(ledger: Ledger) -> None:
    doctor = client("hospital", "drsmith", "practitioner")
    result = ledger.simulate(Call(doctor, "_lifecycle", "approve", ("consent", "1.0", "1", POLICY, PKG1)))
    assert result.response.status == 403 and not result.rwset.ns_rwset  # PERMISSION_DENIED
    message = result.response.message
    assert "hospital/drsmith may not approve" in message and "only an org admin" in message
    assert ledger.state.values == {}


def test_a_commit_without_enough_approvals_names_who_to_ask(ledger: Ledger) -> None:
    _define(ledger, "hospital")
    before = dict(ledger.state.values)
    message = ledger.refusal(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    assert message == ("commit of consent sequence 1 has approvals from hospital only of that definition; "
                       "the lifecycle policy MAJORITY of board, hospital, insurer needs 2; "
                       "ask insurer or board to approve")
    assert ledger.state.values == before


def test_a_commit_of_another_package_than_approved_is_refused(ledger: Ledger) -> None:
    _define(ledger, "hospital", "insurer")
    ledger.submit(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    _define(ledger, "hospital", "insurer", version="2.0", seq="2", package=PKG2)
    before = dict(ledger.state.values)
    message = ledger.refusal(admin("hospital"), "_lifecycle", "commit", "consent", "2.0", "2", POLICY, OTHER2)
    assert f"hospital approved package {PKG2}" in message and f"not package {OTHER2}" in message
    assert ledger.state.values == before


def test_sequences_cannot_be_skipped_or_repeated(ledger: Ledger) -> None:
    message = ledger.refusal(admin("hospital"), "_lifecycle", "approve", "consent", "1.0", "2", POLICY, PKG1)
    assert message == ("approval of consent sequence 2 refused: consent has no committed definition yet; "
                       "the next definition must be sequence 1")
    _define(ledger, "hospital", "insurer")
    ledger.submit(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    message = ledger.refusal(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    assert "consent is at sequence 1 (version 1.0); the next definition must be sequence 2" in message
    assert ledger.evaluate(admin("board"), "_lifecycle", "approvals", "consent")["sequence"] == 2


def test_an_upgrade_can_change_the_policy(ledger: Ledger) -> None:
    _define(ledger, "hospital", "insurer")
    ledger.submit(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    _define(ledger, "hospital", "board", version="2.0", seq="2", policy="OR(hospital, board)", package=PKG2)
    ledger.submit(admin("board"), "_lifecycle", "commit", "consent", "2.0", "2", "OR(hospital, board)", PKG2)
    definitions = ContractDefinitions(ledger.state, ORGS)
    assert definitions["consent"].satisfied_by({"board"})
    assert [d["version"] for d in ledger.evaluate(admin("board"), "_lifecycle", "definitions")] == ["2.0"]


def test_bad_definitions_are_refused(ledger: Ledger) -> None:
    assert "names pharmacy, not a member" in ledger.refusal(
        admin("hospital"), "_lifecycle", "approve", "consent", "1.0", "1", "AND(hospital, pharmacy)", PKG1)
    assert "not consent_1.1" in ledger.refusal(
        admin("hospital"), "_lifecycle", "approve", "consent", "1.1", "1", POLICY, PKG1)
    assert "is not LABEL:" in ledger.refusal(
        admin("hospital"), "_lifecycle", "approve", "consent", "1.0", "1", POLICY, "consent_1.0")


def test_no_contract_may_call_the_lifecycle_in_an_admins_name(ledger: Ledger) -> None:
    from careledger.chaincode import Context, Contract, submit

    class Sneaky(Contract):
        name = "sneaky"

        @submit
        def innocent(self, ctx: Context) -> bytes:
            return ctx.stub.invoke_contract("_lifecycle", "approve", ["consent", "1.0", "1", POLICY, PKG1])

    ledger.registry.register(Sneaky())
    message = ledger.refusal(admin("hospital"), "sneaky", "innocent")
    assert "contract 'sneaky' may not call system contract '_lifecycle'" in message
    assert ledger.state.values == {}


class _Packages:
    """Installed packages as LiveContracts sees them: a dict, and a generation bumped per install."""

    def __init__(self) -> None:
        self.generation = 0
        self.contracts: dict[str, object] = {}

    def contract(self, package_id: str):  # type: ignore[no-untyped-def]
        return self.contracts.get(package_id)


def test_the_endorser_runs_the_defined_version_once_installed_and_switches_on_refresh(ledger: Ledger) -> None:
    from careledger.chaincode import Contract, evaluate
    from careledger.network.node.grpcutil import RequestError
    from careledger.network.peer.definitions import LiveContracts

    def version(text: str) -> Contract:
        class Consent(Contract):
            name = "consent"

            @evaluate
            def version(self, ctx: object) -> str:
                return text

        return Consent()

    _define(ledger, "hospital", "insurer")
    ledger.submit(admin("hospital"), "_lifecycle", "commit", "consent", "1.0", "1", POLICY, PKG1)
    packages = _Packages()
    definitions = ContractDefinitions(ledger.state, ORGS)
    system = [LifecycleContract(definitions.lifecycle_rule)]
    live = LiveContracts("peer0.hospital", definitions, packages, system)
    with pytest.raises(RequestError) as refused:
        live.registry_for("consent")
    assert refused.value.code.name == "FAILED_PRECONDITION"
    assert refused.value.message == (
        f"contract consent version 1.0 (sequence 1) is defined with package {PKG1}, which peer "
        "peer0.hospital has not installed; an admin of its org runs `careledger contract install "
        "PACKAGE --peer peer0.hospital`")
    assert live.registry_for("basic").get("basic") is None  # undefined: the runtime's 404
    packages.contracts |= {PKG1: version("1.0"), PKG2: version("2.0")}
    packages.generation += 1
    assert live.registry_for("consent").get("consent").version(None) == "1.0"  # type: ignore[union-attr]
    _define(ledger, "hospital", "insurer", version="2.0", seq="2", package=PKG2)
    ledger.submit(admin("hospital"), "_lifecycle", "commit", "consent", "2.0", "2", POLICY, PKG2)
    assert definitions.definition("consent").version == "2.0"  # type: ignore[union-attr]
    live.refresh()  # what the peer's ledger listener does after a block that wrote to _lifecycle
    assert live.registry_for("consent").get("consent").version(None) == "2.0"  # type: ignore[union-attr]
    assert live.names() == ["_lifecycle", "consent"]
