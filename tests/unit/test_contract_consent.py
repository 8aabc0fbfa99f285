"""The consent contract: records, consents, audited access, break-glass, accounting and erasure."""

from __future__ import annotations

import hashlib

import pytest
from contractharness import Ledger, admin, client

from careledger.chaincode import Context, Contract, submit
from careledger.chaincode.contracts.consent import ConsentContract
from careledger.chaincode.contracts.credentials import CredentialsContract

PAT = client("hospital", "pat1", "patient")
OTHER_PAT = client("hospital", "pat2", "patient")
BOB = client("hospital", "bob", "practitioner", license="CA-A12345")
CARA = client("hospital", "cara", "practitioner")
IVY = client("insurer", "ivy", "claims-adjuster")
REGISTRAR = client("board", "rita", "registrar")
LAB_HASH = hashlib.sha256(b"salt+lab report").hexdigest()
SALT = b"0123456789abcdef"


def record_transient(location: str = "s3://vault/r1", digest: str = LAB_HASH) -> dict[str, bytes]:
    return {"location": location.encode(), "content_hash": digest.encode()}


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger(ConsentContract(), CredentialsContract())
    ledger.submit(PAT, "consent", "register_patient")
    ledger.submit(PAT, "consent", "register_record", "r-lab", "lab", "N", transient=record_transient())
    ledger.submit(
        PAT,
        "consent",
        "register_record",
        "r-mh",
        "mental-health",
        "R",
        transient=record_transient("s3://vault/r2"),
    )
    return ledger


def grant(ledger: Ledger, consent_id: str, actor: str, *rest: str, kind: str = "grant") -> dict:
    args = (consent_id, actor, *rest) if rest else (consent_id, actor, "access", "TREAT", "lab")
    return ledger.submit(PAT, "consent", f"{kind}_consent", *args)


def access(ledger: Ledger, who=BOB, record: str = "r-lab", purpose: str = "TREAT") -> dict:
    return ledger.submit(who, "consent", "access_record", PAT.id, record, purpose)


def license_bob(ledger: Ledger) -> None:
    ledger.submit(
        REGISTRAR, "credentials", "issue", BOB.id, "CA-A12345", "MD", "US-CA", "", "2026-01-01", "2027-01-01"
    )


def license_cara(ledger: Ledger) -> None:
    ledger.submit(
        REGISTRAR, "credentials", "issue", CARA.id, "CA-C777", "MD", "US-CA", "", "2026-01-01", "2027-01-01"
    )


# --- patients and records ------------------------------------------------------------------


def test_patient_registers_once_and_only_patients_may():
    ledger = Ledger(ConsentContract())
    patient = ledger.submit(PAT, "consent", "register_patient")
    assert patient == {"id": "hospital/pat1", "status": "active", "registered": "2026-03-01T12:00:00Z"}
    assert ledger.event() == ("PatientRegistered", patient)
    assert ledger.refusal(PAT, "consent", "register_patient") == (
        "patient hospital/pat1 is already registered"
    )
    assert ledger.refusal(BOB, "consent", "register_patient") == (
        "hospital/bob may not call register_patient: it needs attribute role=patient"
    )


def test_record_pointer_comes_from_transient_data_and_lists_for_the_patient(ledger):
    records = ledger.evaluate(PAT, "consent", "patient_records")["items"]
    assert [r["id"] for r in records] == ["r-lab", "r-mh"]
    assert records[0] == {
        "id": "r-lab",
        "patient": "hospital/pat1",
        "category": "lab",
        "sensitivity": "N",
        "location": "s3://vault/r1",
        "content_hash": LAB_HASH,
        "status": "current",
        "registered": "2026-03-01T12:00:00Z",
    }
    assert ledger.events[1] == ("RecordRegistered", records[0])


@pytest.mark.parametrize(
    ("who", "args", "transient", "message"),
    [
        (
            BOB,
            ("r9", "lab", "N"),
            record_transient(),
            "hospital/bob may not call register_record: it needs attribute role=patient",
        ),
        (OTHER_PAT, ("r9", "lab", "N"), record_transient(), "patient hospital/pat2 is not registered"),
        (
            PAT,
            ("r-lab", "lab", "N"),
            record_transient(),
            "record r-lab of hospital/pat1 is already registered",
        ),
        (PAT, ("r 9", "lab", "N"), record_transient(), "record_id 'r 9' is not a valid id"),
        (
            PAT,
            ("r9", "lab", "secret"),
            record_transient(),
            "sensitivity 'secret' is not a v3-Confidentiality code (L, M, N, R, U, V)",
        ),
        (
            PAT,
            ("r9", "Lab Results", "N"),
            record_transient(),
            "category 'Lab Results' is not a lowercase code like 'lab' or 'mental-health'",
        ),
        (
            PAT,
            ("r9", "lab", "N"),
            {"content_hash": LAB_HASH.encode()},
            "register_record needs transient field 'location'",
        ),
        (
            PAT,
            ("r9", "lab", "N"),
            record_transient(digest="abc"),
            "content_hash must be a lowercase hex SHA-256 digest (64 characters)",
        ),
    ],
)
def test_register_record_refusals(ledger, who, args, transient, message):
    assert ledger.refusal(who, "consent", "register_record", *args, transient=transient).startswith(message)


# --- consents ------------------------------------------------------------------------------


def test_grant_records_a_permit_provision_and_lists_it(ledger):
    consent = grant(ledger, "c1", BOB.id, "access,disclose", "TREAT,HPAYMT", "lab,imaging", "", "2026-06-01")
    assert consent == {
        "id": "c1",
        "patient": "hospital/pat1",
        "status": "active",
        "provision": "permit",
        "actor": "hospital/bob",
        "actions": ["access", "disclose"],
        "purposes": ["TREAT", "HPAYMT"],
        "categories": ["lab", "imaging"],
        "period": {"start": "2026-03-01T12:00:00Z", "end": "2026-06-01T00:00:00Z"},
        "recorded": "2026-03-01T12:00:00Z",
        "roles": ["practitioner"],
    }
    assert ledger.event() == ("ConsentGranted", consent)
    assert ledger.evaluate(PAT, "consent", "patient_consents")["items"] == [consent]
    assert ledger.refusal(OTHER_PAT, "consent", "patient_consents") == (
        "patient hospital/pat2 is not registered"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("c1", "hospital/bob/x", "access", "TREAT", "lab"),
            "actor 'hospital/bob/x' must be an identity (org/name) or an org",
        ),
        (
            ("c1", "hospital", "read", "TREAT", "lab"),
            "actions read not known; use access, collect, correct, disclose, use",
        ),
        (("c1", "hospital", "access", "TREAT,FUN", "lab"), "purposes FUN not known; use ETREAT"),
        (("c1", "hospital", "access", "", "lab"), "purposes must name at least one code"),
        (("c1", "hospital", "access", "TREAT", "Lab"), "category 'Lab' is not a lowercase code"),
        (
            ("c1", "hospital", "access", "TREAT", "lab", "2026-05-01", "2026-04-01"),
            "end 2026-04-01 is not after start 2026-05-01T00:00:00Z",
        ),
        (
            ("c1", "hospital", "access", "TREAT", "lab", "tomorrow"),
            "start 'tomorrow' is not an ISO 8601 date or date-time",
        ),
        (("c 1", "hospital", "access", "TREAT", "lab"), "consent_id 'c 1' is not a valid id"),
    ],
)
def test_grant_and_deny_refuse_bad_provisions(ledger, args, message):
    for function in ["grant_consent", "deny_consent"]:
        assert ledger.refusal(PAT, "consent", function, *args).startswith(message)


def test_consents_are_unique_per_patient_and_only_the_patient_may_give_them(ledger):
    grant(ledger, "c1", BOB.id)
    assert ledger.refusal(PAT, "consent", "grant_consent", "c1", "hospital", "access", "TREAT", "lab") == (
        "consent c1 of hospital/pat1 already exists"
    )
    assert ledger.refusal(BOB, "consent", "grant_consent", "c2", BOB.id, "access", "TREAT", "lab") == (
        "hospital/bob may not call grant_consent: it needs attribute role=patient"
    )


def test_revoke_makes_a_consent_inactive_once(ledger):
    grant(ledger, "c1", BOB.id)
    ledger.later(hours=1)
    revoked = ledger.submit(PAT, "consent", "revoke_consent", "c1")
    assert (revoked["status"], revoked["revoked"]) == ("inactive", "2026-03-01T13:00:00Z")
    assert ledger.event() == ("ConsentRevoked", revoked)
    assert ledger.refusal(PAT, "consent", "revoke_consent", "c1") == "consent c1 is already inactive"
    assert ledger.refusal(PAT, "consent", "revoke_consent", "c9") == (
        "consent c9 of hospital/pat1 does not exist"
    )
    assert ledger.refusal(BOB, "consent", "revoke_consent", "c1").startswith("hospital/bob may not call")
    assert access(ledger)["granted"] is False


def test_consent_exports_as_fhir(ledger):
    grant(ledger, "c1", "insurer", "disclose", "HPAYMT", "lab", "2026-03-01", kind="deny")
    consent = ledger.evaluate(PAT, "consent", "consent_fhir", "c1")
    assert (consent["resourceType"], consent["status"], consent["provision"]["type"]) == (
        "Consent",
        "active",
        "deny",
    )
    assert consent["policyRule"]["coding"][0]["code"] == "OPTOUT"
    assert consent["provision"]["period"] == {"start": "2026-03-01T00:00:00Z"}
    assert consent["provision"]["actor"][0]["reference"] == {
        "type": "Organization",
        "identifier": {"system": "urn:careledger:id", "value": "insurer"},
    }
    assert consent["provision"]["purpose"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "code": "HPAYMT",
            "display": "healthcare payment",
        }
    ]
    assert consent["provision"]["action"][0]["coding"][0]["code"] == "disclose"
    assert (
        ledger.refusal(PAT, "consent", "consent_fhir", "c9") == "consent c9 of hospital/pat1 does not exist"
    )


# --- access --------------------------------------------------------------------------------


def test_granted_access_is_audited_before_the_pointer_is_returned(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id)
    answer = access(ledger)
    assert answer == {
        "granted": True,
        "reason": "consent c1 permits lab access for TREAT",
        "audit_event": answer["audit_event"],
        "record_id": "r-lab",
        "location": "s3://vault/r1",
        "content_hash": LAB_HASH,
    }
    name, audit = ledger.event()
    assert name == "RecordAccessed"
    assert audit == {
        "id": answer["audit_event"],
        "patient": "hospital/pat1",
        "record": "r-lab",
        "category": "lab",
        "agent": "hospital/bob",
        "purpose": "TREAT",
        "recorded": "2026-03-01T12:00:00Z",
        "granted": True,
        "reason": "consent c1 permits lab access for TREAT",
        "basis": "consent/c1",
        "action": "R",
    }


def test_refused_access_is_committed_with_its_audit_event_not_raised(ledger):
    answer = access(ledger)
    assert answer == {
        "granted": False,
        "reason": "no consent permits hospital/bob lab access for TREAT",
        "audit_event": answer["audit_event"],
    }
    assert ledger.codes == ["VALID"]
    assert ledger.event()[0] == "RecordAccessRefused"
    trail = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01")
    assert [(e["resource"]["id"], e["resource"]["outcome"]) for e in trail["entry"]] == [
        (answer["audit_event"], "4")
    ]


@pytest.mark.parametrize(
    ("who", "record", "purpose", "reason"),
    [
        (BOB, "r-mh", "TREAT", "no consent permits hospital/bob mental-health access for TREAT"),
        (BOB, "r-lab", "HRESCH", "no consent permits hospital/bob lab access for HRESCH"),
        (CARA, "r-lab", "TREAT", "no consent permits hospital/cara lab access for TREAT"),
        (BOB, "r-none", "TREAT", "record r-none of hospital/pat1 does not exist"),
        (BOB, "r-lab", "GOSSIP", "purpose 'GOSSIP' is not one of TREAT, ETREAT, HPAYMT"),
    ],
)
def test_access_outside_the_consent_is_refused_and_audited(ledger, who, record, purpose, reason):
    grant(ledger, "c1", BOB.id)
    answer = access(ledger, who, record, purpose)
    assert answer["granted"] is False and answer["reason"].startswith(reason)
    assert ledger.event()[1]["reason"] == answer["reason"]


def test_an_org_wide_permit_covers_its_members_and_a_deny_overrides_it(ledger):
    license_bob(ledger)
    license_cara(ledger)
    grant(ledger, "c1", "hospital", "access", "TREAT", "lab,mental-health")
    grant(ledger, "c2", BOB.id, "access", "TREAT", "mental-health", kind="deny")
    assert ledger.event()[0] == "ConsentDenied"
    assert access(ledger, CARA, "r-mh")["granted"] is True
    assert access(ledger, BOB, "r-lab")["granted"] is True
    refused = access(ledger, BOB, "r-mh")
    assert (refused["granted"], refused["reason"]) == (
        False,
        "consent c2 denies mental-health access for TREAT",
    )
    assert access(ledger, IVY)["granted"] is False


def test_consent_period_bounds_access(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id, "access", "TREAT", "lab", "2026-03-02", "2026-03-03")
    assert access(ledger)["granted"] is False
    ledger.later(days=1)
    assert access(ledger)["granted"] is True
    ledger.later(days=1)
    assert access(ledger)["granted"] is False


def test_the_patient_reads_their_own_record(ledger):
    answer = access(ledger, PAT)
    assert (answer["granted"], answer["reason"]) == (True, "the patient reads their own record")


def test_access_refuses_unknown_patients_and_malformed_record_ids(ledger):
    assert ledger.refusal(BOB, "consent", "access_record", "hospital/ghost", "r-lab", "TREAT") == (
        "patient hospital/ghost is not registered"
    )
    assert ledger.refusal(BOB, "consent", "access_record", PAT.id, "r lab", "TREAT").startswith(
        "record_id 'r lab' is not a valid id"
    )


class DoubleRead(Contract):
    """Calls access_record twice in one transaction: the second must not overwrite the audit."""

    name = "double"

    @submit
    def read_twice(self, ctx: Context, patient: str) -> None:
        for _ in range(2):
            ctx.stub.invoke_contract("consent", "access_record", [patient, "r-lab", "TREAT"])


def test_an_audit_event_is_never_overwritten():
    ledger = Ledger(ConsentContract(), DoubleRead())
    ledger.submit(PAT, "consent", "register_patient")
    assert ledger.refusal(BOB, "double", "read_twice", PAT.id).startswith("audit event tx")
    assert ledger.refusal(BOB, "double", "read_twice", PAT.id).endswith(
        "already exists; audit events are never overwritten"
    )


# --- queries -------------------------------------------------------------------------------


def test_access_summary_lists_what_is_permitted_now_minus_denies(ledger):
    grant(ledger, "c1", "hospital", "access", "TREAT,HPAYMT", "lab")
    grant(ledger, "c2", "hospital", "access", "HPAYMT", "lab", kind="deny")
    grant(ledger, "c3", IVY.id, "access", "HPAYMT", "lab", "2027-01-01")
    summary = ledger.evaluate(PAT, "consent", "access_summary")
    assert summary["at"] == "2026-03-01T12:00:00Z"
    assert summary["access"] == [
        {
            "actor": "hospital",
            "action": "access",
            "purpose": "TREAT",
            "category": "lab",
            "consent": "c1",
            "until": None,
            "roles": ["practitioner"],
        }
    ]
    assert [d["id"] for d in summary["denied"]] == ["c2"]
    assert summary["break_glass"] == []
    assert ledger.refusal(BOB, "consent", "access_summary").startswith("hospital/bob may not call")


def test_disclosures_account_for_granted_access_by_others_in_the_range(ledger):
    license_bob(ledger)
    license_cara(ledger)
    grant(ledger, "c1", "hospital", "access", "TREAT", "lab")
    access(ledger, BOB)
    ledger.later(days=1)
    access(ledger, PAT)
    access(ledger, IVY)
    access(ledger, CARA)
    assert ledger.evaluate(PAT, "consent", "disclosures", "2026-03-01", "2026-04-01")["items"] == [
        {
            "date": "2026-03-01T12:00:00Z",
            "recipient": "hospital/bob",
            "record": "r-lab",
            "category": "lab",
            "purpose": "TREAT",
            "basis": "consent/c1",
            "action": "read",
        },
        {
            "date": "2026-03-02T12:00:00Z",
            "recipient": "hospital/cara",
            "record": "r-lab",
            "category": "lab",
            "purpose": "TREAT",
            "basis": "consent/c1",
            "action": "read",
        },
    ]
    later = ledger.evaluate(PAT, "consent", "disclosures", "2026-03-02", "2026-04-01")["items"]
    assert [d["recipient"] for d in later] == ["hospital/cara"]
    assert ledger.refusal(IVY, "consent", "disclosures", "2026-03-01", "2026-04-01").startswith(
        "insurer/ivy may not call disclosures"
    )
    assert ledger.refusal(PAT, "consent", "disclosures", "March", "2026-04-01") == (
        "start 'March' is not an ISO 8601 date or date-time"
    )


def test_audit_trail_exports_fhir_audit_events(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id)
    answer = access(ledger)
    (entry,) = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-03-01", "2026-03-02")["entry"]
    event = entry["resource"]
    assert (event["resourceType"], event["id"], event["action"], event["outcome"]) == (
        "AuditEvent",
        answer["audit_event"],
        "R",
        "0",
    )
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    assert event["agent"] == [
        {"who": {"identifier": {"system": "urn:careledger:id", "value": "hospital/bob"}}, "requestor": True}
    ]
    assert event["entity"][0]["what"]["identifier"]["value"] == "r-lab"


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("patient_records", ()),
        ("patient_consents", ()),
        ("consent_fhir", ("c1",)),
        ("access_summary", ()),
        ("disclosures", ("2026-03-01", "2026-04-01")),
        ("audit_events_fhir", ("2026-03-01", "2026-04-01")),
    ],
)
def test_patient_queries_answer_only_the_patient(ledger, function, args):
    grant(ledger, "c1", BOB.id)
    assert ledger.refusal(BOB, "consent", function, *args) == (
        f"hospital/bob may not call {function}: it needs attribute role=patient"
    )


# --- break-glass ---------------------------------------------------------------------------


def test_break_glass_opens_four_hours_of_emergency_access_over_denies(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id, "access", "TREAT,ETREAT", "mental-health", kind="deny")
    glass = ledger.submit(BOB, "consent", "break_glass", PAT.id, transient={"reason": b"unconscious"})
    assert glass == {
        "id": glass["id"],
        "patient": "hospital/pat1",
        "practitioner": "hospital/bob",
        "purpose": "ETREAT",
        "period": {"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T16:00:00Z"},
        "reason_hash": glass["reason_hash"],
    }
    assert ledger.event() == ("BreakGlassOpened", glass)
    assert access(ledger, BOB, "r-mh", "TREAT")["granted"] is False
    answer = access(ledger, BOB, "r-mh", "ETREAT")
    assert (answer["granted"], answer["reason"]) == (True, f"break-glass {glass['id']} is open")
    assert access(ledger, CARA, "r-mh", "ETREAT")["granted"] is False
    assert ledger.evaluate(PAT, "consent", "access_summary")["break_glass"] == [glass]
    ledger.later(hours=4)
    assert access(ledger, BOB, "r-mh", "ETREAT")["granted"] is False


def test_break_glass_needs_a_licensed_practitioner_a_reason_and_a_patient(ledger):
    reason = {"reason": b"unconscious"}
    assert ledger.refusal(IVY, "consent", "break_glass", PAT.id, transient=reason) == (
        "insurer/ivy may not call break_glass: it needs attribute role=practitioner"
    )
    # a refused break-glass is committed: an audited denial the patient is told of by an event
    refused = ledger.submit(BOB, "consent", "break_glass", PAT.id, transient=reason)
    assert refused == {
        "granted": False,
        "reason": "break-glass refused: no licence has been issued to hospital/bob",
        "audit_event": refused["audit_event"],
    }
    assert ledger.event()[0] == "BreakGlassRefused"
    assert ledger.event()[1]["patient"] == PAT.id
    assert ledger.evaluate(PAT, "consent", "access_summary")["break_glass"] == []
    license_bob(ledger)
    ledger.submit(REGISTRAR, "credentials", "suspend", BOB.id, "complaint")
    assert ledger.submit(BOB, "consent", "break_glass", PAT.id, transient=reason)["reason"] == (
        "break-glass refused: licence CA-A12345 is suspended with effect from 2026-03-01T12:00:00Z"
    )
    assert ledger.refusal(BOB, "consent", "break_glass", PAT.id) == (
        "break_glass needs transient field 'reason'"
    )
    assert ledger.refusal(BOB, "consent", "break_glass", "hospital/ghost", transient=reason) == (
        "patient hospital/ghost is not registered"
    )


def test_break_glass_leaves_a_review_item_for_the_practitioners_org_admin(ledger):
    license_bob(ledger)
    glass = ledger.submit(BOB, "consent", "break_glass", PAT.id, transient={"reason": b"unconscious"})
    (item,) = ledger.evaluate(admin("hospital"), "consent", "pending_reviews")["items"]
    assert item == glass | {"review": "pending"}
    assert ledger.evaluate(admin("insurer"), "consent", "pending_reviews")["items"] == []
    for function, args in [("pending_reviews", ()), ("close_review", (glass["id"], "justified"))]:
        assert ledger.refusal(BOB, "consent", function, *args) == (
            f"hospital/bob may not call {function}: it needs an org admin identity"
        )
    assert ledger.refusal(admin("hospital"), "consent", "close_review", glass["id"], "fine") == (
        "review outcome 'fine' is not one of justified, unjustified"
    )
    assert ledger.refusal(admin("insurer"), "consent", "close_review", glass["id"], "justified") == (
        f"no break-glass use {glass['id']} by insurer awaits review"
    )
    ledger.later(days=1)
    closed = ledger.submit(admin("hospital"), "consent", "close_review", glass["id"], "justified")
    assert closed | {"reason_hash": ""} == glass | {
        "review": "justified",
        "reviewed": "2026-03-02T12:00:00Z",
        "reviewer": "hospital/admin",
        "reason_hash": "",
    }
    assert ledger.event() == ("BreakGlassReviewed", closed)
    assert ledger.evaluate(admin("hospital"), "consent", "pending_reviews")["items"] == []
    assert ledger.refusal(admin("hospital"), "consent", "close_review", glass["id"], "unjustified") == (
        f"break-glass use {glass['id']} was already reviewed: justified"
    )


# --- erasure -------------------------------------------------------------------------------


def test_patient_erasure_leaves_an_unlinkable_tombstone_and_keeps_the_audit(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id)
    access(ledger)
    erased = ledger.submit(PAT, "consent", "erase_record", PAT.id, "r-lab", transient={"salt": SALT})
    assert erased["status"] == "entered-in-error"
    assert erased["location"] is None
    assert erased["content_hash"] not in (LAB_HASH, hashlib.sha256(LAB_HASH.encode()).hexdigest())
    assert erased["erased"] | {"tx_id": ""} == {
        "at": "2026-03-01T12:00:00Z",
        "by": "hospital/pat1",
        "legal_basis": "request of the data subject",
        "tx_id": "",
    }
    assert ledger.event() == ("RecordErased", erased)
    answer = access(ledger)
    assert (answer["granted"], answer["reason"]) == (False, "record r-lab of hospital/pat1 was erased")
    assert "location" not in answer
    trail = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-03-01", "2026-03-02")
    assert [e["resource"]["outcome"] for e in trail["entry"]] == ["0", "4"]
    assert ledger.refusal(PAT, "consent", "erase_record", PAT.id, "r-lab", transient={"salt": SALT}) == (
        "record r-lab of hospital/pat1 is already erased"
    )


def test_an_org_admin_erases_with_a_recorded_legal_basis(ledger):
    hospital_admin = admin("hospital")
    erased = ledger.submit(
        hospital_admin,
        "consent",
        "erase_record",
        PAT.id,
        "r-mh",
        "court order 12/2026",
        transient={"salt": SALT},
    )
    assert (erased["erased"]["by"], erased["erased"]["legal_basis"]) == (
        "hospital/admin",
        "court order 12/2026",
    )


@pytest.mark.parametrize(
    ("who", "args", "salt", "message"),
    [
        (
            OTHER_PAT,
            ("r-lab",),
            SALT,
            "hospital/pat2 may not erase records of hospital/pat1: only the patient or an admin of its org",
        ),
        (
            admin("insurer"),
            ("r-lab", "contract"),
            SALT,
            "insurer/admin may not erase records of hospital/pat1",
        ),
        (BOB, ("r-lab", "because"), SALT, "hospital/bob may not erase records of hospital/pat1"),
        (admin("hospital"), ("r-lab",), SALT, "an admin must record the legal basis of an erasure"),
        (PAT, ("r-lab",), None, "erase_record needs transient field 'salt'"),
        (PAT, ("r-lab",), b"short", "transient salt must be at least 16 random bytes"),
        (PAT, ("r-none",), SALT, "record r-none of hospital/pat1 does not exist"),
    ],
)
def test_erasure_refusals(ledger, who, args, salt, message):
    transient = {} if salt is None else {"salt": salt}
    found = ledger.refusal(who, "consent", "erase_record", PAT.id, *args, transient=transient)
    assert found.startswith(message)


# --- issue 10: coverage, licences, edits, delegates ------------------------------------------

MUM = client("hospital", "mum")  # a guardian: no healthcare role needed
HOSPITAL_BILLING = client("hospital", "billing", "claims-adjuster")
EDITED_HASH = hashlib.sha256(b"salt+corrected lab report").hexdigest()


def test_an_org_wide_consent_covers_no_patient_admin_or_billing_identity(ledger):
    license_bob(ledger)
    ledger.submit(OTHER_PAT, "consent", "register_patient")
    grant(ledger, "c1", "hospital")
    assert access(ledger, BOB)["granted"] is True
    for outsider in (OTHER_PAT, admin("hospital"), HOSPITAL_BILLING):
        refused = access(ledger, outsider)
        assert refused["reason"] == f"no consent permits {outsider.id} lab access for TREAT"
    assert ledger.refusal(
        PAT, "consent", "grant_consent", "c2", "hospital", "access", "TREAT", "lab", "", "", "claims-adjuster"
    ).startswith("an organisation-wide consent to hospital may not cover role claims-adjuster")
    named = ledger.submit(
        PAT, "consent", "grant_consent", "c3", IVY.id, "access", "HPAYMT", "lab", "", "", "claims-adjuster"
    )
    assert named["roles"] == ["claims-adjuster"]
    assert access(ledger, IVY, purpose="HPAYMT")["granted"] is True  # no licence asked of billing staff
    fhir = ledger.evaluate(PAT, "consent", "consent_fhir", "c1")
    assert fhir["provision"]["actor"] == [
        {
            "role": {"coding": [{"system": "urn:careledger:role", "code": "practitioner"}]},
            "reference": {
                "type": "Organization",
                "identifier": {"system": "urn:careledger:id", "value": "hospital"},
            },
        }
    ]


def test_every_access_checks_the_licence_at_the_transaction_time(ledger):
    grant(ledger, "c1", BOB.id)
    never = access(ledger)
    assert never["reason"] == (
        "consent c1 permits lab access for TREAT, but hospital/bob is not licensed now: "
        "no licence has been issued to hospital/bob"
    )
    license_bob(ledger)
    assert access(ledger)["granted"] is True
    assert (
        ledger.evaluate(BOB, "consent", "check_access", PAT.id, "r-lab", "TREAT")["content_hash"] == LAB_HASH
    )
    ledger.later(hours=1)
    ledger.submit(REGISTRAR, "credentials", "revoke", BOB.id, "surrendered")
    refused = access(ledger)
    assert refused["reason"] == (
        "consent c1 permits lab access for TREAT, but hospital/bob is not licensed now: "
        "licence CA-A12345 is revoked with effect from 2026-03-01T13:00:00Z"
    )
    assert ledger.event() == ("RecordAccessRefused", ledger.event()[1])
    assert ledger.evaluate(BOB, "consent", "check_access", PAT.id, "r-lab", "TREAT")["granted"] is False


def test_an_edit_needs_a_correct_grant_moves_the_hash_and_is_an_audited_update(ledger):
    license_bob(ledger)
    grant(ledger, "c1", BOB.id)
    edit = {"content_hash": EDITED_HASH.encode()}
    refused = ledger.submit(BOB, "consent", "correct_record", PAT.id, "r-lab", "TREAT", transient=edit)
    assert refused == {
        "granted": False,
        "reason": "no consent permits hospital/bob lab correct for TREAT",
        "audit_event": refused["audit_event"],
    }
    assert ledger.event()[0] == "RecordCorrectionRefused"
    first = ledger.evaluate(PAT, "consent", "patient_records")["items"][0]
    assert first["content_hash"] == LAB_HASH  # unchanged
    grant(ledger, "c2", BOB.id, "correct", "TREAT", "lab")
    done = ledger.submit(BOB, "consent", "correct_record", PAT.id, "r-lab", "TREAT", transient=edit)
    assert done == {
        "granted": True,
        "reason": "consent c2 permits lab correct for TREAT",
        "audit_event": done["audit_event"],
        "record_id": "r-lab",
        "content_hash": EDITED_HASH,
    }
    name, audit = ledger.event()
    assert (name, audit["action"], audit["patient"]) == ("RecordCorrected", "U", PAT.id)
    record = ledger.evaluate(PAT, "consent", "patient_records")["items"][0]
    assert (record["content_hash"], record["corrected"]) == (EDITED_HASH, "2026-03-01T12:00:00Z")
    disclosed = ledger.evaluate(PAT, "consent", "disclosures", "2026-03-01", "2026-04-01")["items"]
    assert [(d["recipient"], d["action"]) for d in disclosed] == [("hospital/bob", "edit")]
    trail = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-03-01", "2026-04-01")
    assert [(e["resource"]["action"], e["resource"]["outcome"]) for e in trail["entry"]] == [
        ("U", "4"),
        ("U", "0"),
    ]
    assert ledger.refusal(BOB, "consent", "correct_record", PAT.id, "r-lab", "TREAT") == (
        "correct_record needs transient field 'content_hash'"
    )


def test_a_delegate_manages_consents_and_reads_disclosures_audited_for_the_patient(ledger):
    assert ledger.refusal(
        MUM, "consent", "grant_consent_for", PAT.id, "c1", BOB.id, "access", "TREAT", "lab"
    ) == (
        "hospital/mum is not a delegate of hospital/pat1: the patient or an admin of its org names delegates"
    )
    assert ledger.refusal(BOB, "consent", "name_delegate", PAT.id, MUM.id, "GUARD").startswith(
        "hospital/bob may not name or revoke delegates of hospital/pat1"
    )
    named = ledger.submit(PAT, "consent", "name_delegate", PAT.id, MUM.id, "GUARD")
    assert (named["delegate"], named["by"], named["status"]) == (MUM.id, PAT.id, "active")
    assert ledger.event() == ("DelegateNamed", named)
    made = ledger.submit(MUM, "consent", "grant_consent_for", PAT.id, "c1", BOB.id, "access", "TREAT", "lab")
    assert (made["patient"], made["by"]) == (PAT.id, MUM.id)
    ledger.submit(MUM, "consent", "revoke_consent_for", PAT.id, "c1")
    disclosures = ledger.submit(MUM, "consent", "disclosures_for", PAT.id, "2026-01-01", "2027-01-01")
    assert disclosures == {"items": [], "bookmark": "", "fetched": 2}  # the delegate's own two acts
    assert ledger.event()[0] == "DelegateReadDisclosures"
    trail = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01")
    acts = [e["resource"] for e in trail["entry"]]
    assert sorted(a["action"] for a in acts) == ["C", "R", "U"]
    for act in acts:
        assert act["agent"][0]["who"]["identifier"]["value"] == MUM.id
        assert act["agent"][0]["role"][0]["coding"][0]["code"] == "GUARD"
        assert act["agent"][1]["who"]["identifier"]["value"] == PAT.id
        assert "on behalf of hospital/pat1" in act["outcomeDesc"]
    assert [d["delegate"] for d in ledger.evaluate(PAT, "consent", "patient_delegates")["items"]] == [MUM.id]
    ledger.submit(PAT, "consent", "revoke_delegate", PAT.id, MUM.id)
    assert ledger.refusal(MUM, "consent", "revoke_consent_for", PAT.id, "c1") == (
        "hospital/mum's delegation for hospital/pat1 is revoked"
    )


def test_an_admin_names_a_guardian_only_with_a_legal_basis(ledger):
    hospital_admin = admin("hospital")
    assert ledger.refusal(hospital_admin, "consent", "name_delegate", PAT.id, MUM.id, "GUARD") == (
        "an admin must record the legal basis of a delegation (e.g. minor, incapacity, court order)"
    )
    named = ledger.submit(hospital_admin, "consent", "name_delegate", PAT.id, MUM.id, "GUARD", "minor")
    assert (named["by"], named["legal_basis"]) == ("hospital/admin", "minor")
    assert ledger.refusal(PAT, "consent", "name_delegate", PAT.id, MUM.id, "PRN") == (
        "hospital/mum is already a delegate of hospital/pat1"
    )


def test_break_glass_is_audited_in_the_patients_trail_and_announced(ledger):
    license_bob(ledger)
    glass = ledger.submit(BOB, "consent", "break_glass", PAT.id, transient={"reason": b"unconscious"})
    assert ledger.event() == ("BreakGlassOpened", glass)
    (entry,) = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01")["entry"]
    assert (entry["resource"]["action"], entry["resource"]["outcome"]) == ("E", "0")
    assert [e["what"]["type"] for e in entry["resource"]["entity"]] == ["Patient"]
