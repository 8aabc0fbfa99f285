"""Claims rules as pure functions: coverage terms, the denial ladder and line adjudication."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from careledger.chaincode import ContractError
from careledger.chaincode.contracts.claims import rules
from careledger.chaincode.contracts.claims.records import (
    CARC,
    Accumulator,
    Adjustment,
    Amounts,
    Coverage,
    Frequency,
    LineRef,
    PriorAuthorization,
    ServiceLine,
    ServiceUsage,
)
from careledger.chaincode.contracts.common import Licence, Period, Relationship

NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
TERMS = {
    "plan": "gold-2026",
    "start": "2026-01-01",
    "end": "2027-01-01",
    "deductible": 10000,
    "coinsurance": 20,
    "annual_limit": 30000,
    "services": {"99213": {"fee": 15000, "max_quantity": 1}, "70551": {"fee": 80000, "max_quantity": 1}},
    "prior_authorization": ["70551"],
}
COVERAGE = rules.coverage("cov1", "hospital/pat1", "insurer", "insurer/ivy", NOW, TERMS)
VALID = Licence(True, "licence L1 is valid")
RELATED = Relationship(True, "consent c1 of hospital/pat1 permits hospital/bob treatment on 2026-03-10")
STRANGER = Relationship(
    False,
    "hospital/eve had no treatment relationship with hospital/pat1 on 2026-03-10: "
    "no consent, break-glass or audited access names them",
)
TWICE_A_YEAR = replace(
    COVERAGE,
    services=COVERAGE.services
    | {
        "99395": rules.service_rule(
            "99395", {"fee": 20000, "max_quantity": 1, "frequency": {"count": 2, "per": "year"}}
        )
    },
)


def line(
    service: str = "99213", day: str = "2026-03-10", quantity: int = 1, price: int = 20000
) -> ServiceLine:
    return ServiceLine(1, service, day, quantity, price)


def denial(
    item: ServiceLine,
    *,
    licence: Licence = VALID,
    relationship: Relationship = RELATED,
    earlier: LineRef | None = None,
    auths: list[PriorAuthorization] | None = None,
    coverage: Coverage = COVERAGE,
    used: int = 0,
) -> str | None:
    found = rules.denial(
        coverage,
        item,
        TODAY,
        licence=lambda: licence,
        relationship=lambda: relationship,
        first_of_its_kind=lambda: earlier,
        authorizations=lambda: auths or [],
        used=lambda: ServiceUsage(coverage.id, item.service, item.date[:4], used),
    )
    return None if found is None else found.code


def never() -> object:
    raise AssertionError("the ladder must not ask for this")


def test_terms_become_a_coverage_with_exactly_one_patient_share():
    assert (COVERAGE.coinsurance, COVERAGE.copay, COVERAGE.filing_limit_days) == (20, None, 365)
    assert COVERAGE.period == Period("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
    with pytest.raises(ContractError, match="exactly one of copay"):
        rules.coverage("c", "h/p", "insurer", "insurer/ivy", NOW, TERMS | {"copay": 100})
    with pytest.raises(ContractError, match="coinsurance must be a percentage"):
        rules.coverage("c", "h/p", "insurer", "insurer/ivy", NOW, TERMS | {"coinsurance": 101})
    with pytest.raises(ContractError, match="annual_limit must be an integer of at least 0"):
        rules.coverage("c", "h/p", "insurer", "insurer/ivy", NOW, TERMS | {"annual_limit": True})


def test_the_denial_ladder_gives_the_first_reason_in_plan_order():
    assert denial(line(day="2025-12-31")) == "26"
    assert denial(line(day="2027-01-01")) == "27"
    assert denial(line(), licence=Licence(False, "suspended")) == "B7"
    assert denial(line(), licence=Licence(False, "suspended"), relationship=STRANGER) == "B7"
    assert denial(line(), relationship=STRANGER, earlier=LineRef("cl0", 1)) == "242"
    assert denial(line(), earlier=LineRef("cl0", 1)) == "18"
    assert denial(line(service="12345")) == "204"
    assert denial(line(service="70551")) == "197"
    assert denial(line(quantity=2)) == "151"
    assert denial(line(day="2026-01-02"), coverage=replace(COVERAGE, filing_limit_days=30)) == "29"
    assert denial(line(service="99395"), coverage=TWICE_A_YEAR, used=2) == "119"
    assert denial(line()) is None


def test_a_line_outside_coverage_is_denied_without_a_licence_check_or_a_duplicate_mark():
    found = rules.denial(
        COVERAGE,
        line(day="2025-12-31"),
        TODAY,
        licence=never,
        relationship=never,
        first_of_its_kind=never,
        authorizations=never,
        used=never,
    )
    assert found == Adjustment("benefit", "26", "coverage cov1 starts 2026-01-01T00:00:00Z")


def test_a_provider_without_a_treatment_relationship_is_denied_242_before_the_duplicate_mark():
    found = rules.denial(
        COVERAGE,
        line(),
        TODAY,
        licence=lambda: VALID,
        relationship=lambda: STRANGER,
        first_of_its_kind=never,
        authorizations=never,
        used=never,
    )
    assert found == Adjustment("benefit", "242", STRANGER.reason)
    assert CARC["242"] == "Services not provided by network/primary care providers."


def test_a_frequency_limit_counts_units_per_calendar_period_and_is_asked_only_when_set():
    assert denial(line(service="99395", price=20000), coverage=TWICE_A_YEAR, used=1) is None
    found = rules.denial(
        TWICE_A_YEAR,
        line(service="99395", price=20000, quantity=1),
        TODAY,
        licence=lambda: VALID,
        relationship=lambda: RELATED,
        first_of_its_kind=lambda: None,
        authorizations=never,
        used=lambda: ServiceUsage("cov1", "99395", "2026", 2),
    )
    assert found == Adjustment(
        "benefit", "119", "plan gold-2026 allows 2 of service 99395 per calendar year; 2 already paid in 2026"
    )
    assert CARC["119"] == "Benefit maximum for this time period or occurrence has been reached."
    assert (
        rules.denial(
            COVERAGE,
            line(),
            TODAY,
            licence=lambda: VALID,
            relationship=lambda: RELATED,
            first_of_its_kind=lambda: None,
            authorizations=never,
            used=never,
        )
        is None
    )
    assert [Frequency(1, per).period_of("2026-05-17") for per in ("year", "quarter", "month")] == [
        "2026",
        "2026-Q2",
        "2026-05",
    ]
    assert rules.usage_period(TWICE_A_YEAR, line(service="99395")) == "2026"
    assert rules.usage_period(TWICE_A_YEAR, line()) is None


def test_only_lines_not_denied_count_against_a_frequency_limit_and_a_void_gives_them_back():
    used = ServiceUsage("cov1", "99395", "2026", 1)
    paid, _ = rules.paid_line(TWICE_A_YEAR, line(service="99395", price=20000), Accumulator("cov1", "2026"))
    denied = rules.denied_line(line(service="99395"), Adjustment("benefit", "29", "late"))
    assert rules.counted(used, paid).units == 2
    assert rules.counted(used, denied) == used
    assert rules.uncounted(rules.counted(used, paid), paid) == used


def test_frequency_terms_are_checked():
    def terms(frequency: object) -> dict:
        service = {"fee": 1, "max_quantity": 1, "frequency": frequency}
        return TERMS | {"services": {"99395": service}, "prior_authorization": []}

    made = rules.coverage("c", "h/p", "insurer", "insurer/ivy", NOW, terms({"count": 1, "per": "quarter"}))
    assert made.services["99395"].frequency == Frequency(1, "quarter")
    assert made.services["99395"].to_json() == {
        "fee": 1,
        "max_quantity": 1,
        "frequency": {"count": 1, "per": "quarter"},
    }
    assert COVERAGE.services["99213"].to_json() == {"fee": 15000, "max_quantity": 1}  # old bytes unchanged
    for bad, message in [
        ({"count": 1, "per": "week"}, "service 99395 frequency per must be one of month, quarter, year"),
        ({"count": 0, "per": "year"}, "service 99395 frequency count must be an integer of at least 1"),
        ("twice", "service 99395 frequency must be a JSON object"),
    ]:
        with pytest.raises(ContractError, match=re.escape(message)):
            rules.coverage(
                "c", "h/p", "insurer", "insurer/ivy", NOW, terms(bad) | {"prior_authorization": []}
            )


def test_a_claim_that_names_its_patient_must_name_the_coverage_beneficiary():
    assert rules.require_patient({}, COVERAGE) == "hospital/pat1"
    assert rules.require_patient({"patient": "hospital/pat1"}, COVERAGE) == "hospital/pat1"
    with pytest.raises(
        ContractError, match="claim patient 'hospital/pat2' is not the beneficiary of coverage cov1"
    ):
        rules.require_patient({"patient": "hospital/pat2"}, COVERAGE)


def test_prior_authorisation_must_be_active_on_the_date_of_service():
    auth = rules.prior_authorization("pa1", COVERAGE, "70551", "2026-03-01", "2026-04-01", "insurer/ivy", NOW)
    assert denial(line(service="70551", price=80000), auths=[auth]) is None
    assert denial(line(service="70551", day="2026-02-28"), auths=[auth]) == "197"
    assert denial(line(service="70551"), auths=[replace(auth, status="revoked")]) == "197"
    with pytest.raises(ContractError, match="needs no prior authorisation"):
        rules.require_needs_authorization(COVERAGE, "99213")


def test_a_paid_line_takes_fee_schedule_deductible_and_coinsurance_in_that_order():
    paid, used = rules.paid_line(COVERAGE, line(), Accumulator("cov1", "2026"))
    assert paid.decision == "approved"
    assert paid.amounts == Amounts(
        submitted=20000, eligible=15000, deductible=10000, copay=1000, benefit=4000
    )
    assert [r.code for r in paid.reasons] == ["45", "1", "2"]
    assert used == Accumulator("cov1", "2026", deductible=10000, benefit=4000)


def test_the_annual_limit_reduces_and_then_denies():
    nearly_used = Accumulator("cov1", "2026", deductible=10000, benefit=29000)
    reduced, used = rules.paid_line(COVERAGE, line(price=15000), nearly_used)
    assert (reduced.decision, reduced.amounts.benefit, used.benefit) == ("reduced", 1000, 30000)
    denied, _ = rules.paid_line(COVERAGE, line(price=15000), used)
    assert (denied.decision, [r.code for r in denied.reasons]) == ("denied", ["2", "119"])


def test_a_copay_plan_takes_the_copay_up_to_what_remains():
    copay_plan = replace(COVERAGE, coinsurance=None, copay=2500, deductible=0)
    paid, _ = rules.paid_line(copay_plan, line(price=2000), Accumulator("cov1", "2026"))
    assert (paid.amounts.copay, paid.amounts.benefit, paid.reasons[-1].code) == (2000, 0, "3")


def test_claim_outcome_is_partial_unless_every_line_agrees():
    approved, _ = rules.paid_line(COVERAGE, line(), Accumulator("cov1", "2026"))
    denied = rules.denied_line(line(), Adjustment("benefit", "204", "not covered"))
    assert rules.outcome([approved, approved]) == "approved"
    assert rules.outcome([denied]) == "denied"
    assert rules.outcome([approved, denied]) == "partial"
    assert denied.amounts == Amounts(submitted=20000)


def test_items_are_checked_and_may_not_be_dated_after_the_submission():
    assert rules.service_line(
        2, {"service": "99213", "date": "2026-03-12", "quantity": 1, "unit_price": 5}, TODAY
    ) == ServiceLine(2, "99213", "2026-03-12", 1, 5)
    with pytest.raises(ContractError, match="item 1 date 2026-03-13 is after the submission"):
        rules.service_line(
            1, {"service": "99213", "date": "2026-03-13", "quantity": 1, "unit_price": 5}, TODAY
        )
    with pytest.raises(ContractError, match="item 1 quantity must be an integer of at least 1"):
        rules.service_line(
            1, {"service": "99213", "date": "2026-03-12", "quantity": 0, "unit_price": 5}, TODAY
        )


def test_the_diagnosis_is_hashed_with_the_salt_and_never_kept():
    made = rules.diagnosis_hash({}, {"diagnosis": b"I10", "salt": b"0123456789abcdef"})
    assert len(made) == 64 and made != rules.diagnosis_hash(
        {}, {"diagnosis": b"I10", "salt": b"fedcba9876543210"}
    )
    with pytest.raises(ContractError, match="at least 16 random bytes"):
        rules.diagnosis_hash({}, {"diagnosis": b"I10", "salt": b"short"})


def test_lines_for_the_same_service_and_day_share_a_fingerprint_at_any_price_or_quantity():
    assert rules.fingerprint("p", "d", line()) == rules.fingerprint("p", "d", replace(line(), sequence=7))
    assert rules.fingerprint("p", "d", line()) == rules.fingerprint("p", "d", line(price=20001))
    assert rules.fingerprint("p", "d", line()) == rules.fingerprint("p", "d", line(quantity=3, price=1))
    for other in [line(service="99214"), line(day="2026-03-11")]:
        assert rules.fingerprint("p", "d", line()) != rules.fingerprint("p", "d", other)
    assert rules.fingerprint("p", "d", line()) != rules.fingerprint("p", "d2", line())
    assert rules.fingerprint("p", "d", line()) != rules.fingerprint("p2", "d", line())
    # ledgers written before kept the index under a fingerprint that also covered quantity and price
    assert rules.legacy_fingerprint("p", "d", line()) != rules.legacy_fingerprint("p", "d", line(price=1))
