"""The claims contract through the real network: the insurer's coverage and prior authorisation,
claims adjudicated line by line with CARC reasons, payment, voiding, correction and who sees what;
a claim needs the provider's treatment relationship with the patient, the same service twice is a
duplicate at any price, and a plan's frequency limits hold even for claims submitted at once."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from healthcare import (
    ALICE,
    BOB,
    INSURER_ADMIN,
    IVAN,
    JONES,
    LONG_AGO,
    RITA,
    SMITH,
    Committed,
    JonesRevoked,
    Ledger,
    days_ago,
    ledger_id,
    new_category,
    new_id,
    today,
)

from careledger.gateway import EndorseError

pytest_plugins = ("healthcare",)

DIAGNOSIS = hashlib.sha256(b"salt|I10").hexdigest()


@dataclass(frozen=True)
class Plan:
    """A coverage of its own, with service codes of its own: the duplicate check fingerprints
    patient, provider, service, day, quantity and price, across every claim on the ledger."""

    coverage: str
    visit: str
    mri: str
    lab: str
    uncovered: str
    record: dict


def terms(visit: str, mri: str, lab: str, **changes: object) -> dict:
    return {
        "plan": "gold",
        "start": days_ago(200),
        "end": (today() + timedelta(days=165)).isoformat(),
        "currency": "USD",
        "deductible": 10000,
        "coinsurance": 20,
        "annual_limit": 100000,
        "filing_limit_days": 30,
        "services": {
            visit: {"fee": 15000, "max_quantity": 1},
            mri: {"fee": 80000, "max_quantity": 1},
            lab: {"fee": 3000, "max_quantity": 3},
        },
        "prior_authorization": [mri],
    } | changes


def cover(care: Ledger, patient: str = ALICE, frequency: dict | None = None, **changes: object) -> Plan:
    suffix = uuid.uuid4().hex[:8]
    visit, mri, lab, uncovered = (f"{code}.{suffix}" for code in ("99213", "70551", "85025", "99999"))
    coverage = new_id("cov")
    plan_terms = terms(visit, mri, lab, **changes)
    if frequency is not None:  # the visit limited to `count` per calendar `per`
        plan_terms["services"][visit]["frequency"] = frequency
    text = json.dumps(plan_terms)
    record = care.submit(IVAN, "claims", "register_coverage", coverage, ledger_id(patient), text)
    return Plan(coverage, visit, mri, lab, uncovered, record)


def item(service: str, day: str | None = None, quantity: int = 1, price: int = 15000) -> dict:
    return {"service": service, "date": day or days_ago(10), "quantity": quantity, "unit_price": price}


def claim_text(plan: Plan, *items: dict) -> str:
    return json.dumps({"coverage": plan.coverage, "diagnosis_hash": DIAGNOSIS, "items": list(items)})


def claim(care: Ledger, plan: Plan, *items: dict, who: str = SMITH) -> dict:
    return care.submit(who, "claims", "submit_claim", new_id("claim"), claim_text(plan, *items))


def reasons(line: dict) -> list[str]:
    return [reason["code"] for reason in line["reasons"]]


@pytest.fixture(scope="module")
def treating(care: Ledger, registered_patients: dict) -> list[dict]:
    """The treatment relationships the claims rest on: Alice and Bob consent to Dr Smith's
    treatment and Alice to Dr Jones's, since 2020, each on a category of its own so that no other
    test's records open to them. Dr Jones has none with Bob."""
    return [
        care.submit(
            patient,
            "consent",
            "grant_consent",
            new_id("treat"),
            ledger_id(doctor),
            "access",
            "TREAT",
            new_category(),
            LONG_AGO,
        )
        for patient, doctor in ((ALICE, SMITH), (BOB, SMITH), (ALICE, JONES))
    ]


@pytest.fixture
def plan(care: Ledger, smith_licensed: dict, treating: list[dict]) -> Plan:
    return cover(care)


# --- coverage and prior authorisation ------------------------------------------------------


def test_adjuster_registers_coverage_seen_by_its_patient_and_the_insurer_only(
    care: Ledger, plan: Plan
) -> None:
    coverage = plan.record
    assert coverage | {"registered": "", "services": {}} == {
        "id": plan.coverage,
        "status": "active",
        "beneficiary": "hospital/alice",
        "payor": "insurer",
        "registered": "",
        "by": "insurer/ivan",
        "plan": "gold",
        "period": {"start": f"{days_ago(200)}T00:00:00Z", "end": coverage["period"]["end"]},
        "currency": "USD",
        "deductible": 10000,
        "coinsurance": 20,
        "annual_limit": 100000,
        "filing_limit_days": 30,
        "services": {},
        "prior_authorization": [plan.mri],
    }
    assert care.evaluate(ALICE, "claims", "get_coverage", plan.coverage) == coverage
    assert care.evaluate(IVAN, "claims", "get_coverage", plan.coverage) == coverage
    for who in [BOB, SMITH, INSURER_ADMIN, RITA]:
        for function in ["get_coverage", "coverage_fhir"]:
            assert care.query_refusal(who, "claims", function, plan.coverage) == (
                f"{ledger_id(who)} may not see coverage {plan.coverage}: it is neither its patient, "
                "provider nor insurer"
            )
    assert (
        care.query_refusal(ALICE, "claims", "get_coverage", "cov-none") == "coverage cov-none does not exist"
    )
    fhir = care.evaluate(ALICE, "claims", "coverage_fhir", plan.coverage)
    assert (fhir["resourceType"], fhir["status"], fhir["class"][0]["value"]) == ("Coverage", "active", "gold")
    costs = {cost["type"]["coding"][0]["code"]: cost for cost in fhir["costToBeneficiary"]}
    assert costs["deductible"]["valueMoney"] == {"value": 100.0, "currency": "USD"}
    assert costs["copaypct"]["valueQuantity"]["value"] == 20


def test_only_insurer_adjusters_register_coverage_and_authorise(care: Ledger, plan: Plan) -> None:
    need = "it needs attribute role=claims-adjuster in org 'insurer'"
    text = json.dumps(terms(plan.visit, plan.mri, plan.lab))
    for caller in [SMITH, INSURER_ADMIN, ALICE, RITA]:
        assert care.refusal(caller, "claims", "register_coverage", new_id("cov"), "hospital/alice", text) == (
            f"{ledger_id(caller)} may not call register_coverage: {need}"
        )
        args = (new_id("pa"), plan.coverage, plan.mri, days_ago(20), days_ago(0))
        assert care.refusal(caller, "claims", "grant_prior_authorization", *args) == (
            f"{ledger_id(caller)} may not call grant_prior_authorization: {need}"
        )


def test_register_coverage_refuses_bad_terms_a_taken_id_and_a_bad_patient(care: Ledger, plan: Plan) -> None:
    good = terms(plan.visit, plan.mri, plan.lab)
    cases = [
        ("{", "terms is not valid JSON: Expecting property name enclosed in double quotes at 1"),
        ("[]", "terms must be a JSON object"),
        (good | {"copay": 100}, "terms must set exactly one of copay (cents) or coinsurance (percent)"),
        (
            good | {"start": "2026-05-01", "end": "2026-04-01"},
            "coverage end 2026-04-01 is not after start 2026-05-01",
        ),
        (good | {"services": {}}, "terms services must list at least one covered service"),
        (
            good | {"prior_authorization": ["12345"]},
            "terms prior_authorization must list covered service codes",
        ),
        (good | {"deductible": -1}, "deductible must be an integer of at least 0"),
        (good | {"coinsurance": 120}, "coinsurance must be a percentage from 0 to 100"),
        (good | {"currency": "dollars"}, "currency 'dollars' is not an ISO 4217 code like USD"),
    ]
    for sent, message in cases:
        text = sent if isinstance(sent, str) else json.dumps(sent)
        assert (
            care.refusal(IVAN, "claims", "register_coverage", new_id("cov"), "hospital/alice", text)
            == message
        )
    assert care.refusal(
        IVAN, "claims", "register_coverage", plan.coverage, "hospital/alice", json.dumps(good)
    ) == (f"coverage {plan.coverage} already exists")
    assert care.refusal(IVAN, "claims", "register_coverage", new_id("cov"), "alice", json.dumps(good)) == (
        "patient 'alice' is not an identity id of the form org/name"
    )


def test_prior_authorisation_covers_dates_in_its_period_only(care: Ledger, plan: Plan) -> None:
    auth_id = new_id("pa")
    auth = care.submit(
        IVAN,
        "claims",
        "grant_prior_authorization",
        auth_id,
        plan.coverage,
        plan.mri,
        days_ago(20),
        days_ago(5),
    )
    assert (auth["status"], auth["service"], auth["period"]) == (
        "active",
        plan.mri,
        {"start": f"{days_ago(20)}T00:00:00Z", "end": f"{days_ago(5)}T00:00:00Z"},
    )
    found = claim(
        care, plan, item(plan.mri, days_ago(10), price=80000), item(plan.mri, days_ago(3), price=80000)
    )
    assert [line["decision"] for line in found["items"]] == ["approved", "denied"]
    assert found["items"][1]["reasons"] == [
        {"category": "benefit", "code": "197", "text": f"service {plan.mri} needs prior authorisation"}
    ]
    cases = [
        (
            (new_id("pa"), plan.coverage, plan.visit, days_ago(9), days_ago(1)),
            f"service {plan.visit} needs no prior authorisation under coverage {plan.coverage}",
        ),
        ((new_id("pa"), "cov-none", plan.mri, days_ago(9), days_ago(1)), "coverage cov-none does not exist"),
        (
            (auth_id, plan.coverage, plan.mri, days_ago(9), days_ago(1)),
            f"prior authorisation {auth_id} already exists",
        ),
        (
            (new_id("pa"), plan.coverage, plan.mri, days_ago(1), days_ago(9)),
            f"end {days_ago(9)} is not after start {days_ago(1)}",
        ),
        (
            (new_id("pa"), plan.coverage, plan.mri, "March", days_ago(1)),
            "start 'March' is not an ISO 8601 date (YYYY-MM-DD)",
        ),
    ]
    for args, message in cases:
        assert care.refusal(IVAN, "claims", "grant_prior_authorization", *args) == message


# --- adjudication --------------------------------------------------------------------------


def test_an_approved_claim_applies_the_deductible_then_coinsurance(care: Ledger, plan: Plan) -> None:
    first = claim(care, plan, item(plan.visit, days_ago(12)))
    assert (first["status"], first["outcome"], first["patient"], first["provider"], first["insurer"]) == (
        "approved",
        "approved",
        "hospital/alice",
        "hospital/drsmith",
        "insurer",
    )
    (line,) = first["items"]
    assert line["amounts"] == {
        "submitted": 15000,
        "eligible": 15000,
        "deductible": 10000,
        "copay": 1000,
        "benefit": 4000,
    }
    assert reasons(line) == ["1", "2"]
    second = claim(care, plan, item(plan.visit, days_ago(11)))
    assert second["items"][0]["amounts"] | {"submitted": 0} == {
        "submitted": 0,
        "eligible": 15000,
        "deductible": 0,
        "copay": 3000,
        "benefit": 12000,
    }
    assert (second["outcome"], reasons(second["items"][0]), second["total"]["benefit"]) == (
        "approved",
        ["2"],
        12000,
    )


def test_a_claim_whose_every_line_fails_is_denied_with_a_reason_code_each(care: Ledger, plan: Plan) -> None:
    found = claim(
        care,
        plan,
        item(plan.visit, days_ago(201)),
        item(plan.uncovered, days_ago(9)),
        item(plan.mri, days_ago(8), price=80000),
        item(plan.lab, days_ago(7), quantity=4, price=3000),
        item(plan.visit, days_ago(45)),
    )
    assert (found["status"], found["outcome"], found["total"]["benefit"]) == ("denied", "denied", 0)
    assert [line["reasons"] for line in found["items"]] == [
        [
            {
                "category": "benefit",
                "code": "26",
                "text": f"coverage {plan.coverage} starts {days_ago(200)}T00:00:00Z",
            }
        ],
        [
            {
                "category": "benefit",
                "code": "204",
                "text": f"service {plan.uncovered} is not covered by plan gold",
            }
        ],
        [{"category": "benefit", "code": "197", "text": f"service {plan.mri} needs prior authorisation"}],
        [{"category": "benefit", "code": "151", "text": "quantity 4 is over the plan's limit of 3"}],
        [{"category": "benefit", "code": "29", "text": "filed 45 days after service; the limit is 30"}],
    ]
    ended = cover(care, end=days_ago(20))
    late = claim(care, ended, item(ended.visit, days_ago(15)))
    assert late["items"][0]["reasons"] == [
        {
            "category": "benefit",
            "code": "27",
            "text": f"coverage {ended.coverage} ended {days_ago(20)}T00:00:00Z",
        }
    ]


def test_a_partial_claim_pays_some_lines_and_cuts_charges_above_the_fee_schedule(
    care: Ledger, plan: Plan
) -> None:
    found = claim(care, plan, item(plan.visit, price=20000), item(plan.uncovered))
    assert (found["status"], found["outcome"]) == ("partial", "partial")
    paid, denied = found["items"]
    assert (paid["decision"], paid["amounts"]["eligible"], reasons(paid)) == (
        "approved",
        15000,
        ["45", "1", "2"],
    )
    assert paid["reasons"][0]["text"] == "fee schedule allows 15000 per unit"
    assert (denied["decision"], reasons(denied)) == ("denied", ["204"])


def test_the_annual_limit_reduces_then_denies_with_reason_119(
    care: Ledger, smith_licensed: dict, treating: list[dict]
) -> None:
    small = cover(care, deductible=0, annual_limit=15000)
    first = claim(care, small, item(small.visit, days_ago(12)), item(small.visit, days_ago(11)))
    assert [line["decision"] for line in first["items"]] == ["approved", "reduced"]
    assert [line["amounts"]["benefit"] for line in first["items"]] == [12000, 3000]
    assert (first["outcome"], reasons(first["items"][1])) == ("partial", ["2", "119"])
    second = claim(care, small, item(small.visit, days_ago(10)))
    assert (second["outcome"], reasons(second["items"][0])) == ("denied", ["2", "119"])


def test_an_exact_duplicate_claim_line_is_denied_with_reason_18(care: Ledger, plan: Plan) -> None:
    first = claim(care, plan, item(plan.visit), item(plan.lab, price=3000))
    again = claim(care, plan, item(plan.visit), item(plan.lab, days_ago(9), quantity=2, price=3000))
    assert [line["decision"] for line in again["items"]] == ["denied", "approved"]
    assert again["items"][0]["reasons"] == [
        {"category": "benefit", "code": "18", "text": f"exact duplicate of claim {first['id']} item 1"}
    ]
    assert again["outcome"] == "partial"


def test_identical_claims_ordered_into_one_block_the_second_is_mvcc_invalid(care: Ledger, plan: Plan) -> None:
    text = claim_text(plan, item(plan.lab, price=3000))
    contract = care.contract(SMITH, "claims")
    ids = [new_id("claim"), new_id("claim")]
    endorsed = [contract.new_proposal("submit_claim", [claim_id, text]).endorse() for claim_id in ids]
    assert all(json.loads(tx.result)["outcome"] == "approved" for tx in endorsed)  # each alone would pay
    commits = [tx.submit() for tx in endorsed]
    first, second = (care.settle(c.get_status(), tx.result) for c, tx in zip(commits, endorsed, strict=True))
    assert (first.code, second.code) == ("VALID", "MVCC_READ_CONFLICT")
    assert second.block in (first.block, first.block + 1)
    assert care.evaluate(IVAN, "claims", "get_claim", ids[0])["status"] == "approved"
    assert care.query_refusal(IVAN, "claims", "get_claim", ids[1]) == f"claim {ids[1]} does not exist"


def unpaid(care: Ledger, claim_id: str, status: str = "denied") -> None:
    """The insurer cannot pay the claim, and nothing was paid on it."""
    assert care.refusal(IVAN, "claims", "mark_paid", claim_id, new_id("pay")) == (
        f"claim {claim_id} is {status}; only approved or partial claims are paid"
    )
    found = care.evaluate(IVAN, "claims", "get_claim", claim_id)
    assert (found["status"], found["payment"], found["total"]["benefit"]) == (status, None, 0)


def test_a_provider_with_no_treatment_relationship_is_denied_242_and_nothing_is_paid(
    care: Ledger, smith_licensed: dict, treating: list[dict], jones_revoked: JonesRevoked
) -> None:
    bobs = cover(care, BOB)
    served = days_ago(10)  # Dr Jones was licensed then; he never treated Bob
    denied = claim(care, bobs, item(bobs.visit, served), who=JONES)
    assert (denied["patient"], denied["provider"], denied["outcome"]) == (
        "hospital/bob",
        "hospital/drjones",
        "denied",
    )
    assert denied["items"][0]["reasons"] == [
        {
            "category": "benefit",
            "code": "242",
            "text": f"hospital/drjones had no treatment relationship with hospital/bob on {served}: "
            "no consent, break-glass or audited access names them",
        }
    ]
    unpaid(care, denied["id"])
    reason = care.evaluate(BOB, "claims", "claim_response_fhir", denied["id"])["item"][0]["adjudication"][-1]
    assert reason["reason"]["coding"][0] | {"system": ""} == {
        "system": "",
        "code": "242",
        "display": "Services not provided by network/primary care providers.",
    }
    assert claim(care, bobs, item(bobs.visit, served))["outcome"] == "approved"  # Dr Smith treats Bob


def test_the_same_service_on_the_same_day_one_cent_dearer_is_a_duplicate_and_not_paid(
    care: Ledger, plan: Plan
) -> None:
    first = claim(care, plan, item(plan.visit, price=15000))
    dearer = claim(care, plan, item(plan.visit, price=15001))
    more = claim(care, plan, item(plan.visit, quantity=2, price=7500))
    for again in (dearer, more):
        assert (again["outcome"], again["items"][0]["reasons"]) == (
            "denied",
            [{"category": "benefit", "code": "18", "text": f"exact duplicate of claim {first['id']} item 1"}],
        )
        unpaid(care, again["id"])
    assert care.submit(IVAN, "claims", "mark_paid", first["id"], new_id("pay"))["payment"]["amount"] == 4000


def _same_service_on_two_plans(care: Ledger, plan: Plan) -> tuple[Plan, list[str]]:
    """A second coverage of Alice's with the same service codes, and a claim text for each plan:
    the same lab test on the same day, the second 1 cent dearer. Each alone would be approved;
    they share no accumulator, only the duplicate index."""
    second = new_id("cov")
    text = json.dumps(terms(plan.visit, plan.mri, plan.lab))
    record = care.submit(IVAN, "claims", "register_coverage", second, ledger_id(ALICE), text)
    other = Plan(second, plan.visit, plan.mri, plan.lab, plan.uncovered, record)
    texts = [claim_text(plan, item(plan.lab, price=3000)), claim_text(other, item(plan.lab, price=3001))]
    return other, texts


def test_near_duplicates_ordered_into_one_block_conflict_on_the_duplicate_index(
    care: Ledger, plan: Plan
) -> None:
    _, texts = _same_service_on_two_plans(care, plan)
    contract = care.contract(SMITH, "claims")
    ids = [new_id("claim"), new_id("claim")]
    endorsed = [
        contract.new_proposal("submit_claim", [i, t]).endorse() for i, t in zip(ids, texts, strict=True)
    ]
    assert all(json.loads(tx.result)["outcome"] == "approved" for tx in endorsed)  # each alone would pay
    commits = [tx.submit() for tx in endorsed]
    first, second = (care.settle(c.get_status(), tx.result) for c, tx in zip(commits, endorsed, strict=True))
    assert (first.code, second.code) == ("VALID", "MVCC_READ_CONFLICT")
    assert care.query_refusal(IVAN, "claims", "get_claim", ids[1]) == f"claim {ids[1]} does not exist"


def test_near_duplicates_submitted_at_once_are_approved_at_most_once(care: Ledger, plan: Plan) -> None:
    _, texts = _same_service_on_two_plans(care, plan)
    ids = [new_id("claim"), new_id("claim")]
    start = threading.Barrier(2)
    outcomes: dict[str, Committed | EndorseError] = {}

    def submit(claim_id: str, text: str) -> None:
        start.wait()
        try:
            outcomes[claim_id] = care.commit(SMITH, "claims", "submit_claim", claim_id, text)
        except EndorseError as err:  # endorsed while only one peer had committed the other: no agreement
            outcomes[claim_id] = err

    threads = [threading.Thread(target=submit, args=pair) for pair in zip(ids, texts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(outcomes) == set(ids)
    approved = [
        i
        for i, o in outcomes.items()
        if isinstance(o, Committed) and o.code == "VALID" and o.result["outcome"] == "approved"
    ]
    assert len(approved) == 1, outcomes
    (loser,) = set(ids) - set(approved)
    lost = outcomes[loser]
    if isinstance(lost, Committed) and lost.code == "VALID":  # endorsed after the winner committed
        assert [r["code"] for r in lost.result["items"][0]["reasons"]] == ["18"]
        unpaid(care, loser)
    else:  # endorsed alongside the winner: ordered after it and MVCC-invalid (or never endorsed)
        assert isinstance(lost, EndorseError) or lost.code == "MVCC_READ_CONFLICT", lost
        assert care.query_refusal(IVAN, "claims", "get_claim", loser) == f"claim {loser} does not exist"


def test_a_plan_frequency_limit_denies_with_119_once_the_month_is_used(
    care: Ledger, smith_licensed: dict, treating: list[dict]
) -> None:
    monthly = cover(care, frequency={"count": 1, "per": "month"}, filing_limit_days=365)
    anchor = today() - timedelta(days=3)
    first_day, second_day = anchor.replace(day=1), anchor.replace(day=2)  # one calendar month
    first = claim(care, monthly, item(monthly.visit, first_day.isoformat()))
    second = claim(care, monthly, item(monthly.visit, second_day.isoformat()))
    assert (first["outcome"], second["outcome"]) == ("approved", "denied")
    assert second["items"][0]["reasons"] == [
        {
            "category": "benefit",
            "code": "119",
            "text": f"plan gold allows 1 of service {monthly.visit} per calendar month; "
            f"1 already paid in {first_day.isoformat()[:7]}",
        }
    ]
    unpaid(care, second["id"])
    assert monthly.record["services"][monthly.visit]["frequency"] == {"count": 1, "per": "month"}


def test_new_ids_must_be_fhir_ids(care: Ledger, plan: Plan) -> None:
    rule = "is not a valid FHIR id: use 1-64 letters, digits, '-' or '.'"
    assert care.refusal(SMITH, "claims", "submit_claim", "claim_1", claim_text(plan, item(plan.visit))) == (
        f"claim_id 'claim_1' {rule}"
    )
    text = json.dumps(terms(plan.visit, plan.mri, plan.lab))
    assert care.refusal(IVAN, "claims", "register_coverage", "cov_1", ledger_id(ALICE), text) == (
        f"coverage_id 'cov_1' {rule}"
    )


def test_a_revoked_licence_denies_the_next_claim_from_the_revocation_on(
    care: Ledger, plan: Plan, jones_revoked: JonesRevoked
) -> None:
    day = jones_revoked.day
    denied = claim(care, plan, item(plan.lab, day.isoformat(), price=3000), who=JONES)
    assert (denied["provider"], denied["outcome"]) == ("hospital/drjones", "denied")
    assert denied["items"][0]["reasons"] == [
        {
            "category": "benefit",
            "code": "B7",
            "text": f"licence RN-2002 is revoked with effect from {day}T00:00:00Z",
        }
    ]
    before = (day - timedelta(days=1)).isoformat()
    earlier = claim(care, plan, item(plan.lab, before, price=3000), who=JONES)
    assert earlier["outcome"] == "approved"  # services before the revocation are still paid


def test_submit_claim_refuses_malformed_claims_and_non_practitioners(care: Ledger, plan: Plan) -> None:
    good = claim_text(plan, item(plan.visit))
    tomorrow = (today() + timedelta(days=1)).isoformat()
    cases = [
        ("nope", "claim is not valid JSON: Expecting value at 0"),
        (
            json.dumps({"coverage": "cov-none", "items": [item(plan.visit)]}),
            "coverage cov-none does not exist",
        ),
        (json.dumps({"items": [item(plan.visit)]}), "claim coverage must be a coverage id"),
        (
            json.dumps({"coverage": plan.coverage, "diagnosis_hash": DIAGNOSIS, "items": []}),
            "claim items must be a list of 1 to 50 lines",
        ),
        (
            json.dumps({"coverage": plan.coverage, "diagnosis_hash": "I10", "items": [item(plan.visit)]}),
            "diagnosis_hash must be a lowercase hex SHA-256 digest (64 characters)",
        ),
        (
            claim_text(plan, item(plan.visit, "20.02.2026")),
            "item 1 date '20.02.2026' is not an ISO 8601 date (YYYY-MM-DD)",
        ),
        (claim_text(plan, item(plan.visit, tomorrow)), f"item 1 date {tomorrow} is after the submission"),
        (
            claim_text(plan, item(plan.visit), item(plan.lab, quantity=0)),
            "item 2 quantity must be an integer of at least 1",
        ),
    ]
    for text, message in cases:
        assert care.refusal(SMITH, "claims", "submit_claim", new_id("claim"), text) == message
    for who in [ALICE, IVAN]:
        assert care.refusal(who, "claims", "submit_claim", new_id("claim"), good) == (
            f"{ledger_id(who)} may not call submit_claim: it needs attribute role=practitioner"
        )
    taken = claim(care, plan, item(plan.visit))["id"]
    assert care.refusal(SMITH, "claims", "submit_claim", taken, good) == f"claim {taken} already exists"


# --- payment, voiding, correction ----------------------------------------------------------


def test_marking_paid_is_for_the_insurer_and_idempotent(care: Ledger, plan: Plan) -> None:
    claim_id = claim(care, plan, item(plan.visit))["id"]
    paid = care.submit(IVAN, "claims", "mark_paid", claim_id, "pay-001")
    assert (paid["status"], paid["payment"] | {"date": ""}) == (
        "paid",
        {"date": "", "amount": 4000, "reference": "pay-001", "by": "insurer/ivan"},
    )
    again = care.commit(IVAN, "claims", "mark_paid", claim_id, "pay-002")
    assert (again.code, again.result) == ("VALID", paid)
    _, response = care.transaction(again.block, again.tx_id)
    assert not any(ns.writes for ns in response.rwset.ns_rwset) and not response.event.event_name
    assert care.evaluate(ALICE, "claims", "get_claim", claim_id) == paid
    assert care.refusal(SMITH, "claims", "mark_paid", claim_id, "pay-003") == (
        "hospital/drsmith may not call mark_paid: it needs attribute role=claims-adjuster in org 'insurer'"
    )
    assert (
        care.refusal(IVAN, "claims", "mark_paid", "claim-none", "pay-003")
        == "claim claim-none does not exist"
    )


def test_denied_and_voided_claims_are_not_paid(care: Ledger, plan: Plan) -> None:
    denied = claim(care, plan, item(plan.uncovered))["id"]
    assert care.refusal(IVAN, "claims", "mark_paid", denied, "pay-1") == (
        f"claim {denied} is denied; only approved or partial claims are paid"
    )
    care.submit(SMITH, "claims", "void_claim", denied, "wrong code")
    assert care.refusal(IVAN, "claims", "mark_paid", denied, "pay-1") == (
        f"claim {denied} is voided; only approved or partial claims are paid"
    )


def test_voiding_releases_the_duplicate_index_and_the_accumulators(care: Ledger, plan: Plan) -> None:
    first = claim(care, plan, item(plan.visit))
    voided = care.submit(SMITH, "claims", "void_claim", first["id"], "billed in error")
    assert (voided["status"], voided["voided"]["reason"], voided["voided"]["by"]) == (
        "voided",
        "billed in error",
        "hospital/drsmith",
    )
    again = claim(care, plan, item(plan.visit))
    assert (again["outcome"], reasons(again["items"][0]), again["items"][0]["amounts"]["deductible"]) == (
        "approved",
        ["1", "2"],
        10000,
    )


def test_void_refusals(care: Ledger, plan: Plan) -> None:
    claim_id = claim(care, plan, item(plan.visit))["id"]
    assert care.refusal(JONES, "claims", "void_claim", claim_id, "x") == (
        f"hospital/drjones may not void claim {claim_id}: only its provider may"
    )
    assert care.refusal(ALICE, "claims", "void_claim", claim_id, "x") == (
        "hospital/alice may not call void_claim: it needs attribute role=practitioner"
    )
    assert care.refusal(SMITH, "claims", "void_claim", claim_id, " ") == "a reason is required"
    assert care.refusal(SMITH, "claims", "void_claim", "claim-none", "x") == "claim claim-none does not exist"
    care.submit(IVAN, "claims", "mark_paid", claim_id, "pay-1")
    assert care.refusal(SMITH, "claims", "void_claim", claim_id, "x") == (
        f"claim {claim_id} is paid and can no longer be voided"
    )


def test_correction_voids_the_claim_and_adjudicates_its_replacement(care: Ledger, plan: Plan) -> None:
    old = claim(care, plan, item(plan.visit, quantity=2))
    new = new_id("claim")
    corrected = care.submit(
        SMITH, "claims", "correct_claim", old["id"], new, claim_text(plan, item(plan.visit))
    )
    assert (corrected["id"], corrected["replaces"], corrected["outcome"]) == (new, old["id"], "approved")
    replaced = care.evaluate(SMITH, "claims", "get_claim", old["id"])
    assert (replaced["status"], replaced["voided"]["reason"]) == ("voided", f"corrected by claim {new}")
    related = care.evaluate(ALICE, "claims", "claim_fhir", new)["related"]
    assert related[0]["claim"]["identifier"]["value"] == old["id"]
    assert related[0]["relationship"]["coding"][0]["code"] == "prior"
    assert care.evaluate(ALICE, "claims", "claim_fhir", old["id"])["status"] == "cancelled"
    assert care.refusal(
        SMITH, "claims", "correct_claim", old["id"], new_id("claim"), claim_text(plan, item(plan.lab))
    ) == (f"claim {old['id']} is voided and can no longer be voided")
    assert care.refusal(
        JONES, "claims", "correct_claim", new, new_id("claim"), claim_text(plan, item(plan.lab))
    ) == (f"hospital/drjones may not void claim {new}: only its provider may")


# --- who sees what, and the FHIR exports ---------------------------------------------------


def test_patients_and_providers_see_their_own_claims_only(care: Ledger, plan: Plan) -> None:
    alices = claim(care, plan, item(plan.visit))["id"]
    bobs_plan = cover(care, BOB)
    bobs = claim(care, bobs_plan, item(bobs_plan.visit))["id"]

    def mine(who: str) -> set[str]:
        return {c["id"] for c in care.items(who, "claims", "my_claims")}

    assert (alices in mine(ALICE), bobs in mine(ALICE)) == (True, False)
    assert (alices in mine(BOB), bobs in mine(BOB)) == (False, True)
    assert {alices, bobs} <= mine(SMITH)
    assert not {alices, bobs} & mine(JONES)
    assert care.query_refusal(IVAN, "claims", "my_claims") == (
        "insurer/ivan may not call my_claims: it needs attribute role=patient or practitioner"
    )
    for who in [ALICE, SMITH, IVAN]:
        assert care.evaluate(who, "claims", "get_claim", alices)["id"] == alices
    for who in [BOB, JONES, INSURER_ADMIN, RITA]:
        for function in ["get_claim", "claim_fhir", "claim_response_fhir"]:
            assert care.query_refusal(who, "claims", function, alices) == (
                f"{ledger_id(who)} may not see claim {alices}: "
                "it is neither its patient, provider nor insurer"
            )
    for function in ["get_claim", "claim_fhir", "claim_response_fhir"]:
        assert (
            care.query_refusal(ALICE, "claims", function, "claim-none") == "claim claim-none does not exist"
        )


def test_claim_and_claim_response_export_as_fhir(care: Ledger, plan: Plan) -> None:
    claim_id = claim(care, plan, item(plan.visit), item(plan.uncovered, price=5000))["id"]
    fhir = care.evaluate(SMITH, "claims", "claim_fhir", claim_id)
    assert (fhir["resourceType"], fhir["status"], fhir["use"]) == ("Claim", "active", "claim")
    assert "related" not in fhir  # FHIR JSON has no empty arrays: an original claim relates to none
    assert fhir["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == DIAGNOSIS
    assert [entry["productOrService"]["coding"][0]["code"] for entry in fhir["item"]] == [
        plan.visit,
        plan.uncovered,
    ]
    assert fhir["total"] == {"value": 200.0, "currency": "USD"}
    response = care.evaluate(ALICE, "claims", "claim_response_fhir", claim_id)
    assert (response["resourceType"], response["outcome"], response["disposition"]) == (
        "ClaimResponse",
        "complete",
        "partial",
    )
    benefit = response["item"][1]["adjudication"][-1]
    assert (benefit["category"]["coding"][0]["code"], benefit["reason"]["coding"][0]) == (
        "benefit",
        {
            "system": "https://x12.org/codes/claim-adjustment-reason-codes",
            "code": "204",
            "display": "This service/equipment/drug is not covered under the patient's current benefit plan.",
        },
    )
    assert "payment" not in response
    care.submit(IVAN, "claims", "mark_paid", claim_id, "pay-9")
    payment = care.evaluate(IVAN, "claims", "claim_response_fhir", claim_id)["payment"]
    assert (payment["amount"], payment["identifier"]["value"]) == (
        {"value": 40.0, "currency": "USD"},
        "pay-9",
    )
