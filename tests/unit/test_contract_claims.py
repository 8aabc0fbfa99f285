"""The claims contract: coverage, prior authorisation, line-by-line adjudication, payment, voiding."""

from __future__ import annotations

import hashlib
import json

import pytest
from contractharness import Call, Ledger, client

from careledger.chaincode.contracts.claims import ClaimsContract, rules
from careledger.chaincode.contracts.claims.records import ServiceLine
from careledger.chaincode.contracts.common import sha256_hex
from careledger.chaincode.contracts.consent import ConsentContract
from careledger.chaincode.contracts.credentials import CredentialsContract
from careledger.chaincode.stub import create_composite_key

ADJUSTER = client("insurer", "ivy", "claims-adjuster")
REGISTRAR = client("board", "rita", "registrar")
PAT = client("hospital", "pat1", "patient")
OTHER_PAT = client("hospital", "pat2", "patient")
BOB = client("hospital", "bob", "practitioner")
CARA = client("hospital", "cara", "practitioner")
DIAGNOSIS = hashlib.sha256(b"salt|I10").hexdigest()
TERMS = {
    "plan": "gold-2026",
    "start": "2026-01-01",
    "end": "2027-01-01",
    "currency": "USD",
    "deductible": 10000,
    "coinsurance": 20,
    "annual_limit": 100000,
    "services": {
        "99213": {"fee": 15000, "max_quantity": 1},
        "70551": {"fee": 80000, "max_quantity": 1},
        "85025": {"fee": 3000, "max_quantity": 3},
    },
    "prior_authorization": ["70551"],
}


def item(service: str = "99213", day: str = "2026-02-20", quantity: int = 1, price: int = 15000) -> dict:
    return {"service": service, "date": day, "quantity": quantity, "unit_price": price}


def claim_json(*items: dict, coverage: str = "cov1") -> str:
    return json.dumps({"coverage": coverage, "diagnosis_hash": DIAGNOSIS, "items": list(items or [item()])})


def cover(ledger: Ledger, coverage_id: str = "cov1", **changes: object) -> dict:
    return ledger.submit(
        ADJUSTER, "claims", "register_coverage", coverage_id, PAT.id, json.dumps(TERMS | changes)
    )


def claim(ledger: Ledger, claim_id: str, *items: dict, who=BOB, coverage: str = "cov1") -> dict:
    return ledger.submit(who, "claims", "submit_claim", claim_id, claim_json(*items, coverage=coverage))


def reasons(line: dict) -> list[str]:
    return [reason["code"] for reason in line["reasons"]]


def treats(ledger: Ledger, patient=PAT, practitioner=BOB, start: str = "2026-01-01") -> None:
    """The patient registers and consents to the practitioner's treatment from `start` on: the
    treatment relationship a claim needs."""
    if ledger.simulate(Call(patient, "consent", "register_patient")).response.status == 200:
        ledger.submit(patient, "consent", "register_patient")
    consent_id = f"treat-{practitioner.name}"
    ledger.submit(
        patient, "consent", "grant_consent", consent_id, practitioner.id, "access", "TREAT", "lab", start
    )


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger(ClaimsContract(), CredentialsContract(), ConsentContract())
    ledger.submit(
        REGISTRAR, "credentials", "issue", BOB.id, "CA-A12345", "MD", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    treats(ledger)
    cover(ledger)
    return ledger


# --- coverage ------------------------------------------------------------------------------


def test_insurer_registers_coverage_visible_to_patient_and_insurer_only(ledger):
    coverage = ledger.evaluate(PAT, "claims", "get_coverage", "cov1")
    assert coverage == {
        "id": "cov1",
        "status": "active",
        "beneficiary": "hospital/pat1",
        "payor": "insurer",
        "registered": "2026-03-01T12:00:00Z",
        "by": "insurer/ivy",
        "plan": "gold-2026",
        "period": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
        "currency": "USD",
        "deductible": 10000,
        "coinsurance": 20,
        "annual_limit": 100000,
        "filing_limit_days": 365,
        "services": TERMS["services"],
        "prior_authorization": ["70551"],
    }
    assert ledger.event() == ("CoverageRegistered", coverage)
    assert ledger.evaluate(ADJUSTER, "claims", "get_coverage", "cov1") == coverage
    for who in [BOB, OTHER_PAT]:
        assert ledger.refusal(who, "claims", "get_coverage", "cov1") == (
            f"{who.id} may not see coverage cov1: it is neither its patient, provider nor insurer"
        )
    assert ledger.refusal(PAT, "claims", "get_coverage", "cov9") == "coverage cov9 does not exist"


def test_coverage_exports_as_fhir_with_cost_to_beneficiary(ledger):
    fhir = ledger.evaluate(PAT, "claims", "coverage_fhir", "cov1")
    assert (fhir["resourceType"], fhir["status"], fhir["class"][0]["value"]) == (
        "Coverage",
        "active",
        "gold-2026",
    )
    assert fhir["payor"] == [
        {"type": "Organization", "identifier": {"system": "urn:careledger:id", "value": "insurer"}}
    ]
    costs = {cost["type"]["coding"][0]["code"]: cost for cost in fhir["costToBeneficiary"]}
    assert costs["deductible"]["valueMoney"] == {"value": 100.0, "currency": "USD"}
    assert costs["copaypct"]["valueQuantity"]["value"] == 20


def test_copay_plans_export_a_copay_amount():
    ledger = Ledger(ClaimsContract())
    terms = {k: v for k, v in TERMS.items() if k != "coinsurance"} | {"copay": 2500}
    ledger.submit(ADJUSTER, "claims", "register_coverage", "cov2", PAT.id, json.dumps(terms))
    costs = ledger.evaluate(PAT, "claims", "coverage_fhir", "cov2")["costToBeneficiary"]
    assert costs[1] == {
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/coverage-copay-type", "code": "copay"}
            ]
        },
        "valueMoney": {"value": 25.0, "currency": "USD"},
    }


@pytest.mark.parametrize(
    "caller", [client("insurer", "joe", "clerk"), client("hospital", "eve", "claims-adjuster"), BOB]
)
def test_only_insurer_adjusters_register_coverage_and_authorise(ledger, caller):
    need = "it needs attribute role=claims-adjuster in org 'insurer'"
    assert ledger.refusal(caller, "claims", "register_coverage", "cov2", PAT.id, json.dumps(TERMS)) == (
        f"{caller.id} may not call register_coverage: {need}"
    )
    args = ("pa1", "cov1", "70551", "2026-02-01", "2026-03-01")
    assert ledger.refusal(caller, "claims", "grant_prior_authorization", *args) == (
        f"{caller.id} may not call grant_prior_authorization: {need}"
    )


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ("{", "terms is not valid JSON"),
        ("[]", "terms must be a JSON object"),
        (TERMS | {"copay": 100}, "terms must set exactly one of copay (cents) or coinsurance (percent)"),
        (TERMS | {"end": "2025-01-01"}, "coverage end 2025-01-01 is not after start 2026-01-01"),
        (TERMS | {"start": "soon"}, "start 'soon' is not an ISO 8601 date or date-time"),
        (TERMS | {"services": {}}, "terms services must list at least one covered service"),
        (
            TERMS | {"prior_authorization": ["12345"]},
            "terms prior_authorization must list covered service codes",
        ),
        (TERMS | {"deductible": -1}, "deductible must be an integer of at least 0"),
        (TERMS | {"annual_limit": 10.5}, "annual_limit must be an integer of at least 0"),
        (TERMS | {"coinsurance": 120}, "coinsurance must be a percentage from 0 to 100"),
        (TERMS | {"currency": "dollars"}, "currency 'dollars' is not an ISO 4217 code like USD"),
        (
            TERMS | {"services": {"9 9": {"fee": 1, "max_quantity": 1}}, "prior_authorization": []},
            "service '9 9' is not a service code",
        ),
        (
            TERMS | {"services": {"99213": {"fee": 1}}, "prior_authorization": []},
            "service 99213 max_quantity must be an integer of at least 1",
        ),
    ],
)
def test_register_coverage_refuses_bad_terms(ledger, terms, message):
    text = terms if isinstance(terms, str) else json.dumps(terms)
    assert ledger.refusal(ADJUSTER, "claims", "register_coverage", "cov2", PAT.id, text).startswith(message)


def test_register_coverage_refuses_a_taken_id_and_a_bad_patient(ledger):
    assert ledger.refusal(ADJUSTER, "claims", "register_coverage", "cov1", PAT.id, json.dumps(TERMS)) == (
        "coverage cov1 already exists"
    )
    assert ledger.refusal(ADJUSTER, "claims", "register_coverage", "cov2", "pat1", json.dumps(TERMS)) == (
        "patient 'pat1' is not an identity id of the form org/name"
    )


# --- adjudication --------------------------------------------------------------------------


def test_an_approved_claim_applies_deductible_then_coinsurance(ledger):
    first = claim(ledger, "c1")
    assert (first["status"], first["outcome"], first["patient"], first["provider"]) == (
        "approved",
        "approved",
        "hospital/pat1",
        "hospital/bob",
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
    assert ledger.event() == ("ClaimAdjudicated", first)
    second = claim(ledger, "c2", item(day="2026-02-21"))
    assert second["items"][0]["amounts"] | {"submitted": 0} == {
        "submitted": 0,
        "eligible": 15000,
        "deductible": 0,
        "copay": 3000,
        "benefit": 12000,
    }
    assert second["total"]["benefit"] == 12000


def test_charges_above_the_fee_schedule_are_cut_with_reason_45(ledger):
    cover(ledger, "cov2", deductible=0)
    (line,) = claim(ledger, "c1", item(price=20000), coverage="cov2")["items"]
    assert (line["decision"], line["amounts"]["eligible"], line["amounts"]["benefit"]) == (
        "approved",
        15000,
        12000,
    )
    assert reasons(line) == ["45", "2"]


def test_copay_is_capped_by_what_remains_after_the_deductible(ledger):
    terms = {k: v for k, v in TERMS.items() if k != "coinsurance"} | {"copay": 2500, "deductible": 14000}
    ledger.submit(ADJUSTER, "claims", "register_coverage", "cov2", PAT.id, json.dumps(terms))
    (line,) = claim(ledger, "c1", coverage="cov2")["items"]
    assert (line["amounts"]["copay"], line["amounts"]["benefit"], reasons(line)) == (1000, 0, ["1", "3"])


def test_each_line_is_denied_for_the_first_failing_check(ledger):
    cover(ledger, "late", filing_limit_days=30)
    cover(ledger, "short", end="2026-02-01")
    cases = [
        ("cov1", item(day="2025-12-15"), "26", "coverage cov1 starts 2026-01-01T00:00:00Z"),
        ("short", item(day="2026-02-15"), "27", "coverage short ended 2026-02-01T00:00:00Z"),
        ("cov1", item(service="99999"), "204", "service 99999 is not covered by plan gold-2026"),
        ("cov1", item(service="70551", price=80000), "197", "service 70551 needs prior authorisation"),
        ("cov1", item(quantity=2), "151", "quantity 2 is over the plan's limit of 1"),
        ("late", item(day="2026-01-15"), "29", "filed 45 days after service; the limit is 30"),
    ]
    for n, (coverage, line_item, code, text) in enumerate(cases):
        found = claim(ledger, f"d{n}", line_item, coverage=coverage)
        assert (found["status"], found["outcome"]) == ("denied", "denied")
        assert found["items"][0]["reasons"] == [{"category": "benefit", "code": code, "text": text}]
        assert found["items"][0]["amounts"]["benefit"] == 0


def test_a_licence_not_valid_on_the_date_of_service_denies_the_line(ledger):
    ledger.submit(REGISTRAR, "credentials", "suspend", BOB.id, "complaint", "2026-02-25")
    found = claim(ledger, "c1", item(day="2026-02-20"), item(day="2026-02-26"))
    assert found["outcome"] == "partial"
    assert [reasons(line) for line in found["items"]] == [["1", "2"], ["B7"]]
    assert found["items"][1]["reasons"][0]["text"] == (
        "licence CA-A12345 is suspended with effect from 2026-02-25T00:00:00Z"
    )
    assert claim(ledger, "c2", item(day="2026-02-19"), who=CARA)["items"][0]["reasons"][0]["text"] == (
        "no licence has been issued to hospital/cara"
    )


def test_prior_authorisation_covers_dates_in_its_period(ledger):
    auth = ledger.submit(
        ADJUSTER, "claims", "grant_prior_authorization", "pa1", "cov1", "70551", "2026-02-01", "2026-03-01"
    )
    assert (auth["status"], auth["period"]["end"]) == ("active", "2026-03-01T00:00:00Z")
    assert ledger.event() == ("PriorAuthorizationGranted", auth)
    found = claim(
        ledger,
        "c1",
        item(service="70551", day="2026-02-10", price=80000),
        item(service="70551", day="2026-01-10", price=80000),
    )
    assert [line["decision"] for line in found["items"]] == ["approved", "denied"]
    assert found["outcome"] == "partial"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("pa2", "cov1", "99213", "2026-02-01", "2026-03-01"),
            "service 99213 needs no prior authorisation under",
        ),
        (("pa2", "cov9", "70551", "2026-02-01", "2026-03-01"), "coverage cov9 does not exist"),
        (("pa1", "cov1", "70551", "2026-02-01", "2026-03-01"), "prior authorisation pa1 already exists"),
        (
            ("pa2", "cov1", "70551", "2026-03-01", "2026-02-01"),
            "end 2026-02-01 is not after start 2026-03-01",
        ),
        (
            ("pa2", "cov1", "70551", "March", "2026-04-01"),
            "start 'March' is not an ISO 8601 date (YYYY-MM-DD)",
        ),
    ],
)
def test_prior_authorisation_refusals(ledger, args, message):
    ledger.submit(
        ADJUSTER, "claims", "grant_prior_authorization", "pa1", "cov1", "70551", "2026-02-01", "2026-03-01"
    )
    assert ledger.refusal(ADJUSTER, "claims", "grant_prior_authorization", *args).startswith(message)


def test_an_exact_duplicate_line_is_denied_with_reason_18(ledger):
    claim(ledger, "c1", item(), item(service="85025", price=3000))
    found = claim(ledger, "c2", item(), item(service="85025", day="2026-02-21", price=3000, quantity=2))
    assert [line["decision"] for line in found["items"]] == ["denied", "approved"]
    assert found["items"][0]["reasons"][0] == {
        "category": "benefit",
        "code": "18",
        "text": "exact duplicate of claim c1 item 1",
    }
    assert found["outcome"] == "partial"
    twice = claim(ledger, "c3", item(day="2026-02-01"), item(day="2026-02-01"))
    assert [reasons(line) for line in twice["items"]][1] == ["18"]


def test_the_same_service_on_the_same_day_at_another_price_or_quantity_is_a_duplicate(ledger):
    first = claim(ledger, "c1", item(service="85025", price=3000))
    for n, (quantity, price) in enumerate([(1, 3001), (2, 3000), (3, 1)], start=2):
        again = claim(ledger, f"c{n}", item(service="85025", quantity=quantity, price=price))
        assert (again["outcome"], again["total"]["benefit"]) == ("denied", 0)
        assert again["items"][0]["reasons"] == [
            {"category": "benefit", "code": "18", "text": "exact duplicate of claim c1 item 1"}
        ]
        assert ledger.refusal(ADJUSTER, "claims", "mark_paid", f"c{n}", "pay-1") == (
            f"claim c{n} is denied; only approved or partial claims are paid"
        )
    assert first["outcome"] == "approved"
    accumulator = ledger.state.get_state("claims", "\x00accumulator\x00cov1\x002026\x00")
    assert json.loads(accumulator[0])["benefit"] == first["total"]["benefit"]  # only the first counted


def test_a_duplicate_in_the_same_block_is_mvcc_invalid_not_paid_twice(ledger):
    uncovered = claim_json(item(service="99999"))  # touches no accumulator: only the index conflicts
    calls = [Call(BOB, "claims", "submit_claim", (claim_id, uncovered)) for claim_id in ["c1", "c2"]]
    first, second = ledger.block(calls)
    assert ledger.codes == ["VALID", "MVCC_READ_CONFLICT"]
    claims_ns = [ns for ns in second.rwset.ns_rwset if ns.namespace == "claims"][0]
    assert any(
        r.key.startswith("\x00claim-service\x00") and not r.HasField("version") for r in claims_ns.reads
    )
    other = claim_json(item(service="99999", day="2026-02-21"))
    ledger.block([Call(BOB, "claims", "submit_claim", ("c3", other)), calls[1]])
    assert ledger.codes == ["VALID", "VALID"]


def test_the_annual_limit_reduces_then_denies(ledger):
    cover(ledger, "cov2", deductible=0, annual_limit=15000)
    first = claim(ledger, "c1", item(), item(day="2026-02-21"), coverage="cov2")
    assert [line["amounts"]["benefit"] for line in first["items"]] == [12000, 3000]
    assert [line["decision"] for line in first["items"]] == ["approved", "reduced"]
    assert reasons(first["items"][1]) == ["2", "119"]
    assert first["outcome"] == "partial"
    second = claim(ledger, "c2", item(day="2026-02-22"), coverage="cov2")
    assert (second["outcome"], second["items"][0]["reasons"][-1]["code"]) == ("denied", "119")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "claim is not valid JSON"),
        (json.dumps({"coverage": "cov9", "items": [item()]}), "coverage cov9 does not exist"),
        (json.dumps({"items": [item()]}), "claim coverage must be a coverage id"),
        (
            json.dumps({"coverage": "cov1", "diagnosis_hash": DIAGNOSIS, "items": []}),
            "claim items must be a list of 1 to 50 lines",
        ),
        (
            json.dumps({"coverage": "cov1", "diagnosis_hash": "I10", "items": [item()]}),
            "diagnosis_hash must be a lowercase hex SHA-256 digest",
        ),
        (claim_json(item(day="20.02.2026")), "item 1 date '20.02.2026' is not an ISO 8601 date (YYYY-MM-DD)"),
        (claim_json(item(day="2026-03-02")), "item 1 date 2026-03-02 is after the submission"),
        (claim_json(item(), item(quantity=0)), "item 2 quantity must be an integer of at least 1"),
        (claim_json(item(price=-5)), "item 1 unit_price must be an integer of at least 0"),
        (claim_json(item(service="")), "item 1 service '' is not a service code like 99213"),
        (claim_json(["x"]), "item 1 must be a JSON object"),
    ],
)
def test_submit_claim_refuses_malformed_claims(ledger, text, message):
    assert ledger.refusal(BOB, "claims", "submit_claim", "c1", text).startswith(message)


def test_only_practitioners_submit_claims_and_ids_are_unique(ledger):
    assert ledger.refusal(PAT, "claims", "submit_claim", "c1", claim_json()) == (
        "hospital/pat1 may not call submit_claim: it needs attribute role=practitioner"
    )
    claim(ledger, "c1")
    assert ledger.refusal(BOB, "claims", "submit_claim", "c1", claim_json()) == "claim c1 already exists"


# --- payment, voiding, correction ----------------------------------------------------------


def test_marking_paid_is_for_the_insurer_and_idempotent(ledger):
    claim(ledger, "c1")
    ledger.later(days=3)
    paid = ledger.submit(ADJUSTER, "claims", "mark_paid", "c1", "pay-001")
    assert (paid["status"], paid["payment"]) == (
        "paid",
        {"date": "2026-03-04T12:00:00Z", "amount": 4000, "reference": "pay-001", "by": "insurer/ivy"},
    )
    assert ledger.event() == ("ClaimPaid", paid)
    events = len(ledger.events)
    assert ledger.submit(ADJUSTER, "claims", "mark_paid", "c1", "pay-002") == paid
    assert len(ledger.events) == events
    assert ledger.refusal(BOB, "claims", "mark_paid", "c1", "pay-003") == (
        "hospital/bob may not call mark_paid: it needs attribute role=claims-adjuster in org 'insurer'"
    )
    assert ledger.refusal(ADJUSTER, "claims", "mark_paid", "c9", "pay-003") == "claim c9 does not exist"


def test_denied_and_voided_claims_are_not_paid(ledger):
    claim(ledger, "c1", item(service="99999"))
    assert ledger.refusal(ADJUSTER, "claims", "mark_paid", "c1", "pay-1") == (
        "claim c1 is denied; only approved or partial claims are paid"
    )
    ledger.submit(BOB, "claims", "void_claim", "c1", "wrong code")
    assert ledger.refusal(ADJUSTER, "claims", "mark_paid", "c1", "pay-1") == (
        "claim c1 is voided; only approved or partial claims are paid"
    )


def test_voiding_releases_the_duplicate_index_and_the_accumulators(ledger):
    claim(ledger, "c1")
    voided = ledger.submit(BOB, "claims", "void_claim", "c1", "billed in error")
    assert (voided["status"], voided["voided"]["reason"], voided["voided"]["by"]) == (
        "voided",
        "billed in error",
        "hospital/bob",
    )
    assert ledger.event() == ("ClaimVoided", voided)
    again = claim(ledger, "c2")
    assert again["items"][0]["amounts"]["deductible"] == 10000
    assert reasons(again["items"][0]) == ["1", "2"]


def test_void_refusals(ledger):
    claim(ledger, "c1")
    assert ledger.refusal(CARA, "claims", "void_claim", "c1", "x") == (
        "hospital/cara may not void claim c1: only its provider may"
    )
    assert ledger.refusal(PAT, "claims", "void_claim", "c1", "x") == (
        "hospital/pat1 may not call void_claim: it needs attribute role=practitioner"
    )
    assert ledger.refusal(BOB, "claims", "void_claim", "c1", " ") == "a reason is required"
    ledger.submit(ADJUSTER, "claims", "mark_paid", "c1", "pay-1")
    assert ledger.refusal(BOB, "claims", "void_claim", "c1", "x") == (
        "claim c1 is paid and can no longer be voided"
    )
    claim(ledger, "c2", item(day="2026-02-21"))
    ledger.submit(BOB, "claims", "void_claim", "c2", "x")
    assert (
        ledger.refusal(BOB, "claims", "void_claim", "c2", "x")
        == "claim c2 is voided and can no longer be voided"
    )


def test_correction_voids_the_claim_and_adjudicates_its_replacement(ledger):
    claim(ledger, "c1", item(quantity=2))
    corrected = ledger.submit(BOB, "claims", "correct_claim", "c1", "c2", claim_json(item()))
    assert (corrected["id"], corrected["replaces"], corrected["outcome"]) == ("c2", "c1", "approved")
    assert ledger.event() == ("ClaimCorrected", corrected)
    old = ledger.evaluate(BOB, "claims", "get_claim", "c1")
    assert (old["status"], old["voided"]["reason"]) == ("voided", "corrected by claim c2")
    related = ledger.evaluate(PAT, "claims", "claim_fhir", "c2")["related"]
    assert related[0]["claim"]["identifier"]["value"] == "c1"
    assert related[0]["relationship"]["coding"][0]["code"] == "prior"
    assert ledger.refusal(BOB, "claims", "correct_claim", "c1", "c3", claim_json()) == (
        "claim c1 is voided and can no longer be voided"
    )


# --- who sees what -------------------------------------------------------------------------


def test_patients_and_providers_see_their_own_claims_only(ledger):
    ledger.submit(
        REGISTRAR, "credentials", "issue", CARA.id, "CA-B1", "RN", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    ledger.submit(ADJUSTER, "claims", "register_coverage", "cov2", OTHER_PAT.id, json.dumps(TERMS))
    treats(ledger, OTHER_PAT, CARA)
    claim(ledger, "c1")
    claim(ledger, "c2", item(day="2026-02-21"), who=CARA, coverage="cov2")
    assert [c["id"] for c in ledger.evaluate(PAT, "claims", "my_claims")["items"]] == ["c1"]
    assert [c["id"] for c in ledger.evaluate(OTHER_PAT, "claims", "my_claims")["items"]] == ["c2"]
    assert [c["id"] for c in ledger.evaluate(BOB, "claims", "my_claims")["items"]] == ["c1"]
    assert ledger.refusal(ADJUSTER, "claims", "my_claims") == (
        "insurer/ivy may not call my_claims: it needs attribute role=patient or practitioner"
    )
    for who in [PAT, BOB, ADJUSTER]:
        assert ledger.evaluate(who, "claims", "get_claim", "c1")["id"] == "c1"
    for who in [OTHER_PAT, CARA, client("insurer", "joe", "clerk")]:
        assert ledger.refusal(who, "claims", "get_claim", "c1") == (
            f"{who.id} may not see claim c1: it is neither its patient, provider nor insurer"
        )


# --- FHIR exports --------------------------------------------------------------------------


def test_claim_exports_as_fhir_claim(ledger):
    claim(ledger, "c1", item(), item(service="85025", quantity=2, price=2500))
    fhir = ledger.evaluate(BOB, "claims", "claim_fhir", "c1")
    assert (fhir["resourceType"], fhir["status"], fhir["use"]) == ("Claim", "active", "claim")
    assert "related" not in fhir  # FHIR JSON has no empty arrays: an original claim has no related
    assert fhir["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == DIAGNOSIS
    assert fhir["item"][1] == {
        "sequence": 2,
        "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "85025"}]},
        "servicedDate": "2026-02-20",
        "quantity": {"value": 2},
        "unitPrice": {"value": 25.0, "currency": "USD"},
        "net": {"value": 50.0, "currency": "USD"},
    }
    assert fhir["total"] == {"value": 200.0, "currency": "USD"}


def test_claim_response_exports_adjudication_with_carc_reasons_and_payment(ledger):
    claim(ledger, "c1", item(), item(service="99999"))
    response = ledger.evaluate(PAT, "claims", "claim_response_fhir", "c1")
    assert (response["resourceType"], response["outcome"], response["disposition"]) == (
        "ClaimResponse",
        "complete",
        "partial",
    )
    first, second = response["item"]
    deductible = [a for a in first["adjudication"] if a["category"]["coding"][0]["code"] == "deductible"][0]
    assert deductible["amount"] == {"value": 100.0, "currency": "USD"}
    assert deductible["reason"]["coding"][0] == {
        "system": "https://x12.org/codes/claim-adjustment-reason-codes",
        "code": "1",
        "display": "Deductible Amount.",
    }
    benefit = second["adjudication"][-1]
    assert (benefit["category"]["coding"][0]["code"], benefit["reason"]["coding"][0]["code"]) == (
        "benefit",
        "204",
    )
    assert {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in response["total"]} == {
        "submitted": 300.0,
        "eligible": 150.0,
        "deductible": 100.0,
        "copay": 10.0,
        "benefit": 40.0,
    }
    assert "payment" not in response
    ledger.submit(ADJUSTER, "claims", "mark_paid", "c1", "pay-1")
    payment = ledger.evaluate(PAT, "claims", "claim_response_fhir", "c1")["payment"]
    assert (payment["date"], payment["amount"]["value"], payment["identifier"]["value"]) == (
        "2026-03-01",
        40.0,
        "pay-1",
    )


@pytest.mark.parametrize("function", ["get_claim", "claim_fhir", "claim_response_fhir"])
def test_claim_lookups_refuse_strangers_and_unknown_claims(ledger, function):
    claim(ledger, "c1")
    assert ledger.refusal(OTHER_PAT, "claims", function, "c1") == (
        "hospital/pat2 may not see claim c1: it is neither its patient, provider nor insurer"
    )
    assert ledger.refusal(PAT, "claims", function, "c9") == "claim c9 does not exist"


def test_coverage_export_and_correction_refuse_strangers(ledger):
    assert ledger.refusal(CARA, "claims", "coverage_fhir", "cov1") == (
        "hospital/cara may not see coverage cov1: it is neither its patient, provider nor insurer"
    )
    claim(ledger, "c1")
    assert ledger.refusal(CARA, "claims", "correct_claim", "c1", "c2", claim_json()) == (
        "hospital/cara may not void claim c1: only its provider may"
    )


def test_diagnosis_codes_may_travel_as_transient_data_and_only_their_salted_hash_is_kept(ledger):
    body = json.dumps({"coverage": "cov1", "items": [item()]})
    salt = b"0123456789abcdef"
    claim = ledger.submit(
        BOB, "claims", "submit_claim", "c1", body, transient={"diagnosis": b"I10", "salt": salt}
    )
    assert claim["diagnosis_hash"] == sha256_hex(salt, b"I10")
    assert "I10" not in json.dumps(claim)


@pytest.mark.parametrize(
    ("transient", "message"),
    [
        ({}, "a claim needs diagnosis_hash, or the transient fields diagnosis and salt"),
        ({"diagnosis": b"I10"}, "a claim needs diagnosis_hash, or the transient fields diagnosis and salt"),
        ({"diagnosis": b"I10", "salt": b"short"}, "transient salt must be at least 16 random bytes"),
    ],
)
def test_transient_diagnosis_refusals(ledger, transient, message):
    body = json.dumps({"coverage": "cov1", "items": [item()]})
    assert ledger.refusal(BOB, "claims", "submit_claim", "c1", body, transient=transient) == message


# --- treatment relationship, frequency limits, FHIR ids -------------------------------------


def test_a_provider_with_no_treatment_relationship_is_denied_242_and_nothing_is_paid(ledger):
    ledger.submit(
        REGISTRAR, "credentials", "issue", CARA.id, "CA-B1", "RN", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    found = claim(ledger, "c1", item(), who=CARA)
    assert (found["status"], found["outcome"], found["total"]["benefit"]) == ("denied", "denied", 0)
    assert found["items"][0]["reasons"] == [
        {
            "category": "benefit",
            "code": "242",
            "text": "hospital/cara had no treatment relationship with hospital/pat1 on 2026-02-20: "
            "no consent, break-glass or audited access names them",
        }
    ]
    assert ledger.refusal(ADJUSTER, "claims", "mark_paid", "c1", "pay-1") == (
        "claim c1 is denied; only approved or partial claims are paid"
    )
    display = ledger.evaluate(PAT, "claims", "claim_response_fhir", "c1")["item"][0]["adjudication"][-1]
    assert (
        display["reason"]["coding"][0]["display"]
        == "Services not provided by network/primary care providers."
    )
    # the denied line took no duplicate mark: once the patient consents, the same visit is paid
    treats(ledger, PAT, CARA)
    assert claim(ledger, "c2", item(), who=CARA)["outcome"] == "approved"


def test_a_relationship_counts_from_its_start_and_a_later_revocation_keeps_earlier_days(ledger):
    ledger.submit(
        REGISTRAR, "credentials", "issue", CARA.id, "CA-B1", "RN", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    treats(ledger, PAT, CARA, start="2026-02-15")
    ledger.submit(PAT, "consent", "revoke_consent", "treat-cara")
    found = claim(ledger, "c1", item(day="2026-02-14"), item(day="2026-02-20"), who=CARA)
    assert [reasons(line) for line in found["items"]] == [["242"], ["1", "2"]]


def test_an_audited_treatment_access_or_a_break_glass_is_a_relationship(ledger):
    ledger.submit(
        REGISTRAR, "credentials", "issue", CARA.id, "CA-B1", "RN", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    ledger.submit(CARA, "consent", "break_glass", PAT.id, transient={"reason": b"collapse"})
    glass = claim(ledger, "c1", item(day="2026-03-01"), item(day="2026-02-27"), who=CARA)
    assert [reasons(line) for line in glass["items"]] == [["1", "2"], ["242"]]
    transient = {"location": b"vault://r1", "content_hash": DIAGNOSIS.encode()}
    ledger.submit(PAT, "consent", "register_record", "r1", "lab", "N", transient=transient)
    ledger.submit(PAT, "consent", "grant_consent", "lab-for-bob", BOB.id, "access", "TREAT", "lab")
    dana = client("hospital", "dana", "practitioner")
    ledger.submit(
        REGISTRAR, "credentials", "issue", dana.id, "CA-D1", "MD", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    ledger.submit(PAT, "consent", "grant_consent", "lab-for-dana", dana.id, "access", "HPAYMT", "lab")
    ledger.submit(dana, "consent", "access_record", PAT.id, "r1", "HPAYMT")  # granted, but not treatment
    assert reasons(claim(ledger, "c2", item(day="2026-03-01"), who=dana)["items"][0]) == ["242"]
    ledger.submit(PAT, "consent", "grant_consent", "treat-dana", dana.id, "access", "TREAT", "lab")
    ledger.submit(PAT, "consent", "revoke_consent", "treat-dana")
    ledger.later(hours=1)
    ledger.submit(dana, "consent", "access_record", PAT.id, "r1", "TREAT")  # refused: revoked
    assert reasons(claim(ledger, "c3", item(day="2026-02-28"), who=dana)["items"][0]) == ["242"]


def test_a_frequency_limit_denies_with_119_once_the_period_is_used_and_a_void_gives_it_back(ledger):
    services = TERMS["services"] | {
        "99395": {"fee": 20000, "max_quantity": 2, "frequency": {"count": 2, "per": "quarter"}}
    }
    coverage = cover(ledger, "cov2", services=services, deductible=0)
    assert coverage["services"]["99395"]["frequency"] == {"count": 2, "per": "quarter"}
    physical = {"service": "99395", "price": 20000}

    def physicals(claim_id: str, day: str, quantity: int = 1) -> dict:
        return claim(ledger, claim_id, item(**physical, day=day, quantity=quantity), coverage="cov2")

    def limit_text(used: int) -> str:
        return (
            f"plan gold-2026 allows 2 of service 99395 per calendar quarter; {used} already paid in 2026-Q1"
        )

    assert physicals("c1", "2026-01-10")["outcome"] == "approved"
    over = physicals("c2", "2026-02-10", quantity=2)  # 1 + 2 is over 2
    assert (over["outcome"], over["total"]["benefit"]) == ("denied", 0)
    assert over["items"][0]["reasons"] == [{"category": "benefit", "code": "119", "text": limit_text(1)}]
    assert physicals("c3", "2026-02-11")["outcome"] == "approved"  # the denied c2 took nothing
    full = physicals("c4", "2026-02-12")
    assert (full["outcome"], full["items"][0]["reasons"][0]["text"]) == ("denied", limit_text(2))
    assert ledger.refusal(ADJUSTER, "claims", "mark_paid", "c4", "pay-1") == (
        "claim c4 is denied; only approved or partial claims are paid"
    )
    ledger.submit(BOB, "claims", "void_claim", "c3", "billed in error")
    assert physicals("c5", "2026-02-13")["outcome"] == "approved"
    assert reasons(physicals("c6", "2026-02-27")["items"][0]) == ["119"]
    ledger.later(days=45)
    assert physicals("c7", "2026-04-01")["outcome"] == "approved"  # a new quarter


def test_two_claims_for_a_frequency_limited_service_in_one_block_cannot_both_take_the_last_unit(ledger):
    services = TERMS["services"] | {
        "99395": {"fee": 20000, "max_quantity": 1, "frequency": {"count": 1, "per": "year"}}
    }
    cover(ledger, "cov2", services=services)
    cover(ledger, "cov3", services=services)
    texts = [
        claim_json({"service": "99395", "date": day, "quantity": 1, "unit_price": 20000}, coverage="cov2")
        for day in ("2026-02-10", "2026-02-11")
    ]
    ledger.block([Call(BOB, "claims", "submit_claim", (f"c{n}", text)) for n, text in enumerate(texts)])
    assert ledger.codes == ["VALID", "MVCC_READ_CONFLICT"]


def test_near_duplicates_on_two_coverages_in_one_block_conflict_on_the_duplicate_index_alone(ledger):
    cover(ledger, "cov2")
    first = claim_json(item(price=15000), coverage="cov1")
    second = claim_json(item(price=15001, quantity=1), coverage="cov2")  # another plan, 1 cent more
    results = ledger.block(
        [
            Call(BOB, "claims", "submit_claim", ("c1", first)),
            Call(BOB, "claims", "submit_claim", ("c2", second)),
        ]
    )
    assert [json.loads(r.response.payload)["outcome"] for r in results] == [
        "approved",
        "approved",
    ]  # each alone
    assert ledger.codes == ["VALID", "MVCC_READ_CONFLICT"]
    claims_ns = [ns for ns in results[1].rwset.ns_rwset if ns.namespace == "claims"][0]
    first_ns = [ns for ns in results[0].rwset.ns_rwset if ns.namespace == "claims"][0]
    shared = {w.key for w in first_ns.writes} & {r.key for r in claims_ns.reads}
    assert [key.split("\x00")[1] for key in shared] == ["claim-service"]


@pytest.mark.parametrize(
    ("function", "args", "what"),
    [
        ("register_coverage", ("cov_2", PAT.id, json.dumps(TERMS)), "coverage_id"),
        ("grant_prior_authorization", ("pa_1", "cov1", "70551", "2026-02-01", "2026-03-01"), "auth_id"),
        ("submit_claim", ("c_1", claim_json()), "claim_id"),
    ],
)
def test_new_ids_must_be_fhir_ids(ledger, function, args, what):
    who = BOB if function == "submit_claim" else ADJUSTER
    assert ledger.refusal(who, "claims", function, *args) == (
        f"{what} {args[0]!r} is not a valid FHIR id: use 1-64 letters, digits, '-' or '.'"
    )


def test_a_correction_must_take_a_fhir_id_and_a_claim_naming_another_patient_is_refused(ledger):
    claim(ledger, "c1")
    assert ledger.refusal(BOB, "claims", "correct_claim", "c1", "c1_b", claim_json()) == (
        "claim_id 'c1_b' is not a valid FHIR id: use 1-64 letters, digits, '-' or '.'"
    )
    body = json.dumps(
        {"coverage": "cov1", "patient": OTHER_PAT.id, "diagnosis_hash": DIAGNOSIS, "items": [item()]}
    )
    assert ledger.refusal(BOB, "claims", "submit_claim", "c2", body) == (
        "claim patient 'hospital/pat2' is not the beneficiary of coverage cov1"
    )
    named = json.dumps(
        {
            "coverage": "cov1",
            "patient": PAT.id,
            "diagnosis_hash": DIAGNOSIS,
            "items": [item(day="2026-02-21")],
        }
    )
    assert ledger.submit(BOB, "claims", "submit_claim", "c3", named)["patient"] == PAT.id


def test_voiding_a_claim_adjudicated_before_the_new_duplicate_index_releases_its_old_key(ledger):
    claim(ledger, "c1")
    legacy = rules.legacy_fingerprint(PAT.id, BOB.id, ServiceLine(1, "99213", "2026-02-20", 1, 15000))
    old_key = create_composite_key("claim-line", [legacy])
    ledger.state.commit("claims", old_key, b'{"claim":"c1","sequence":1}', (99, 0), "tx-old", ledger.now)
    ledger.submit(BOB, "claims", "void_claim", "c1", "billed in error")
    assert ledger.state.get_state("claims", old_key) is None
