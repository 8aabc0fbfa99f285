"""The consent contract through the real network: records and consents of the patient, audited
access, break-glass checked against the credentials contract, accounting of disclosures, erasure."""

from __future__ import annotations

import json

import pytest
from healthcare import (
    ALICE,
    BOB,
    HOSPITAL_ADMIN,
    INSURER_ADMIN,
    IVAN,
    JONES,
    SMITH,
    JonesRevoked,
    Ledger,
    Pointer,
    instant,
    issue,
    ledger_id,
    new_category,
    new_id,
    register_record,
)

from careledger.gateway.checkpointer import InMemoryCheckpointer
from careledger.network.local.testing import LocalNetwork

pytest_plugins = ("healthcare",)

SALT = b"0123456789abcdef-salt"
PATIENT = ledger_id(ALICE)


@pytest.fixture
def record(care: Ledger, registered_patients: dict, smith_licensed: dict) -> Pointer:
    """A fresh record of Alice's in a category no other test's consents name (Dr Smith licensed,
    as every practitioner must be for a consent to let them in)."""
    return register_record(care, ALICE, new_category())


def grant(care: Ledger, actor: str, category: str, *, purposes: str = "TREAT", kind: str = "grant") -> dict:
    consent_id = new_id("consent")
    return care.submit(ALICE, "consent", f"{kind}_consent", consent_id, actor, "access", purposes, category)


def access(care: Ledger, who: str, record: Pointer, purpose: str = "TREAT", patient: str = PATIENT):  # noqa: ANN201
    """access_record committed; the Committed outcome (a refusal is a VALID audited answer)."""
    committed = care.commit(who, "consent", "access_record", patient, record.record_id, purpose)
    assert committed.code == "VALID", committed
    return committed


def audit_trail(care: Ledger, who: str = ALICE) -> dict[str, dict]:
    """The patient's FHIR AuditEvents of all time, by id."""
    return care.audit_events(who)


# --- patients and records ------------------------------------------------------------------


def test_patient_registers_once_and_only_patients_may(care: Ledger, registered_patients: dict) -> None:
    for who, registration in registered_patients.items():
        if registration is not None:  # registered by this session rather than before it
            assert (registration["id"], registration["status"]) == (ledger_id(who), "active")
        assert care.refusal(who, "consent", "register_patient") == (
            f"patient {ledger_id(who)} is already registered"
        )
    assert care.refusal(SMITH, "consent", "register_patient") == (
        "hospital/drsmith may not call register_patient: it needs attribute role=patient"
    )


def test_record_pointer_and_hash_travel_as_transient_and_list_for_the_patient(
    care: Ledger, record: Pointer
) -> None:
    listed = {r["id"]: r for r in care.items(ALICE, "consent", "patient_records")}
    assert listed[record.record_id] | {"registered": ""} == {
        "id": record.record_id,
        "patient": PATIENT,
        "category": record.category,
        "sensitivity": "N",
        "location": record.location,
        "content_hash": record.content_hash,
        "status": "current",
        "registered": "",
    }
    proposal, _ = care.transaction(record.registered.block, record.registered.tx_id)
    assert (proposal.function, len(proposal.transient)) == ("register_record", 0)
    assert [arg.decode() for arg in proposal.args] == [record.record_id, record.category, "N"]


def test_register_record_refusals(care: Ledger, record: Pointer) -> None:
    transient = {"location": b"vault://x", "content_hash": record.content_hash.encode()}
    cases = [
        (
            SMITH,
            ("r-1", "lab", "N"),
            transient,
            "hospital/drsmith may not call register_record: it needs attribute role=patient",
        ),
        (
            ALICE,
            (record.record_id, "lab", "N"),
            transient,
            f"record {record.record_id} of {PATIENT} is already registered",
        ),
        (
            ALICE,
            ("r 1", "lab", "N"),
            transient,
            "record_id 'r 1' is not a valid id: use 1-64 letters, digits, '.', '_' or '-'",
        ),
        (
            ALICE,
            ("r-1", "lab", "secret"),
            transient,
            "sensitivity 'secret' is not a v3-Confidentiality code (L, M, N, R, U, V)",
        ),
        (
            ALICE,
            ("r-1", "Lab Results", "N"),
            transient,
            "category 'Lab Results' is not a lowercase code like 'lab' or 'mental-health'",
        ),
        (
            ALICE,
            ("r-1", "lab", "N"),
            {"content_hash": transient["content_hash"]},
            "register_record needs transient field 'location'",
        ),
        (
            ALICE,
            ("r-1", "lab", "N"),
            {"location": b"vault://x", "content_hash": b"abc"},
            "content_hash must be a lowercase hex SHA-256 digest (64 characters)",
        ),
    ]
    for who, args, sent, message in cases:
        assert care.refusal(who, "consent", "register_record", *args, transient=sent) == message
    assert care.query_refusal(SMITH, "consent", "patient_records") == (
        "hospital/drsmith may not call patient_records: it needs attribute role=patient"
    )


# --- consents ------------------------------------------------------------------------------


def test_grant_records_a_permit_listed_and_exported_as_fhir(care: Ledger, registered_patients: dict) -> None:
    consent_id, category = new_id("consent"), new_category()
    consent = care.submit(
        ALICE,
        "consent",
        "grant_consent",
        consent_id,
        "hospital/drsmith",
        "access,disclose",
        "TREAT,HPAYMT",
        category,
        "",
        "2099-01-01",
    )
    assert consent | {"period": {}, "recorded": ""} == {
        "id": consent_id,
        "patient": PATIENT,
        "status": "active",
        "provision": "permit",
        "actor": "hospital/drsmith",
        "actions": ["access", "disclose"],
        "purposes": ["TREAT", "HPAYMT"],
        "categories": [category],
        "period": {},
        "recorded": "",
        "roles": ["practitioner"],
    }
    assert consent["period"] == {"start": consent["recorded"], "end": "2099-01-01T00:00:00Z"}
    assert consent in care.items(ALICE, "consent", "patient_consents")
    fhir = care.evaluate(ALICE, "consent", "consent_fhir", consent_id)
    assert (fhir["resourceType"], fhir["status"], fhir["provision"]["type"]) == (
        "Consent",
        "active",
        "permit",
    )
    assert fhir["policyRule"]["coding"][0]["code"] == "OPTIN"
    assert care.query_refusal(ALICE, "consent", "consent_fhir", "nope") == (
        f"consent nope of {PATIENT} does not exist"
    )
    assert care.refusal(
        ALICE, "consent", "grant_consent", consent_id, "hospital", "access", "TREAT", "lab"
    ) == (f"consent {consent_id} of {PATIENT} already exists")


def test_deny_records_a_deny_provision_exported_as_opt_out(care: Ledger, registered_patients: dict) -> None:
    consent = grant(care, "insurer", new_category(), purposes="HPAYMT", kind="deny")
    assert (consent["provision"], consent["actor"]) == ("deny", "insurer")
    fhir = care.evaluate(ALICE, "consent", "consent_fhir", consent["id"])
    assert (fhir["provision"]["type"], fhir["policyRule"]["coding"][0]["code"]) == ("deny", "OPTOUT")
    assert fhir["provision"]["actor"][0]["reference"]["type"] == "Organization"


def test_grant_and_deny_refuse_bad_provisions_and_non_patients(
    care: Ledger, registered_patients: dict
) -> None:
    cases = [
        (
            ("c1", "hospital/bob/x", "access", "TREAT", "lab"),
            "actor 'hospital/bob/x' must be an identity (org/name) or an org",
        ),
        (
            ("c1", "hospital", "read", "TREAT", "lab"),
            "actions read not known; use access, collect, correct, disclose, use",
        ),
        (
            ("c1", "hospital", "access", "FUN", "lab"),
            "purposes FUN not known; use ETREAT, HOPERAT, HPAYMT, HRESCH, PUBHLTH, TREAT",
        ),
        (("c1", "hospital", "access", "", "lab"), "purposes must name at least one code"),
        (
            ("c1", "hospital", "access", "TREAT", "Lab"),
            "category 'Lab' is not a lowercase code like 'lab' or 'mental-health'",
        ),
        (
            ("c1", "hospital", "access", "TREAT", "lab", "2030-05-01", "2030-04-01"),
            "end 2030-04-01 is not after start 2030-05-01T00:00:00Z",
        ),
        (
            ("c1", "hospital", "access", "TREAT", "lab", "tomorrow"),
            "start 'tomorrow' is not an ISO 8601 date or date-time",
        ),
        (
            ("c 1", "hospital", "access", "TREAT", "lab"),
            "consent_id 'c 1' is not a valid id: use 1-64 letters, digits, '.', '_' or '-'",
        ),
    ]
    for function in ["grant_consent", "deny_consent"]:
        for args, message in cases:
            assert care.refusal(ALICE, "consent", function, *args) == message
        assert care.refusal(
            SMITH, "consent", function, "c2", "hospital/drsmith", "access", "TREAT", "lab"
        ) == (f"hospital/drsmith may not call {function}: it needs attribute role=patient")


# --- access and its audit trail ------------------------------------------------------------


def test_access_under_a_consent_returns_the_pointer_and_is_audited(care: Ledger, record: Pointer) -> None:
    consent = grant(care, "hospital/drsmith", record.category)
    granted = access(care, SMITH, record)
    reason = f"consent {consent['id']} permits {record.category} access for TREAT"
    assert granted.result == {
        "granted": True,
        "reason": reason,
        "audit_event": granted.tx_id,
        "record_id": record.record_id,
        "location": record.location,
        "content_hash": record.content_hash,
    }
    event = audit_trail(care)[granted.tx_id]
    assert (event["resourceType"], event["action"], event["outcome"], event["outcomeDesc"]) == (
        "AuditEvent",
        "R",
        "0",
        reason,
    )
    assert event["agent"][0]["who"]["identifier"]["value"] == "hospital/drsmith"
    assert event["entity"][0]["what"]["identifier"]["value"] == record.record_id
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"


def test_refused_access_is_committed_with_its_audit_event(care: Ledger, record: Pointer) -> None:
    grant(care, "hospital/drsmith", record.category)
    cases = [
        (
            JONES,
            record.record_id,
            "TREAT",
            f"no consent permits hospital/drjones {record.category} access for TREAT",
        ),
        (
            IVAN,
            record.record_id,
            "TREAT",
            f"no consent permits insurer/ivan {record.category} access for TREAT",
        ),
        (
            SMITH,
            record.record_id,
            "HRESCH",
            f"no consent permits hospital/drsmith {record.category} access for HRESCH",
        ),
        (SMITH, "rec-none", "TREAT", f"record rec-none of {PATIENT} does not exist"),
        (
            SMITH,
            record.record_id,
            "GOSSIP",
            "purpose 'GOSSIP' is not one of TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH",
        ),
    ]
    refused = []
    for who, record_id, purpose, reason in cases:
        committed = care.commit(who, "consent", "access_record", PATIENT, record_id, purpose)
        assert committed.code == "VALID"
        assert committed.result == {"granted": False, "reason": reason, "audit_event": committed.tx_id}
        refused.append(committed.tx_id)
    trail = audit_trail(care)
    assert [(trail[tx]["outcome"], trail[tx]["outcomeDesc"]) for tx in refused] == [
        ("4", c[3]) for c in cases
    ]
    disclosed = care.items(ALICE, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert not {d["record"] for d in disclosed} & {record.record_id, "rec-none"}


def test_access_refuses_unknown_patients_and_malformed_record_ids(care: Ledger, record: Pointer) -> None:
    assert care.refusal(SMITH, "consent", "access_record", "hospital/ghost", record.record_id, "TREAT") == (
        "patient hospital/ghost is not registered"
    )
    assert care.refusal(SMITH, "consent", "access_record", PATIENT, "r 1", "TREAT") == (
        "record_id 'r 1' is not a valid id: use 1-64 letters, digits, '.', '_' or '-'"
    )


def test_the_patient_reads_their_own_record_without_a_disclosure(care: Ledger, record: Pointer) -> None:
    own = access(care, ALICE, record)
    assert (own.result["granted"], own.result["reason"]) == (True, "the patient reads their own record")
    assert own.result["location"] == record.location
    assert audit_trail(care)[own.tx_id]["outcome"] == "0"
    disclosed = care.items(ALICE, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert record.record_id not in {d["record"] for d in disclosed}


def test_an_org_wide_permit_covers_its_members_and_a_deny_overrides_it(care: Ledger, record: Pointer) -> None:
    grant(care, "hospital", record.category)
    deny = grant(care, "hospital/drjones", record.category, kind="deny")
    assert access(care, SMITH, record).result["granted"] is True
    assert access(care, JONES, record).result | {"audit_event": ""} == {
        "granted": False,
        "reason": f"consent {deny['id']} denies {record.category} access for TREAT",
        "audit_event": "",
    }
    assert access(care, IVAN, record).result["granted"] is False


def test_revocation_takes_effect_in_the_very_next_block(care: Ledger, record: Pointer) -> None:
    consent = grant(care, "hospital/drsmith", record.category)
    assert access(care, SMITH, record).result["granted"] is True
    # an access endorsed while the consent held, ordered after the revocation: it must not count
    stale = care.contract(SMITH, "consent").new_proposal(
        "access_record", [PATIENT, record.record_id, "TREAT"]
    )
    stale_tx = stale.endorse()
    revoke = care.contract(ALICE, "consent").new_proposal("revoke_consent", [consent["id"]]).endorse()
    revoked_commit, stale_commit = revoke.submit(), stale_tx.submit()
    revoked = care.settle(revoked_commit.get_status(), revoke.result)
    late = care.settle(stale_commit.get_status(), stale_tx.result)
    assert revoked.code == "VALID"
    assert revoked.result["status"] == "inactive"
    assert late.result["granted"] is True and late.code in ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")
    assert late.block in (revoked.block, revoked.block + 1)
    assert late.tx_id not in audit_trail(care)
    after = access(care, SMITH, record)
    assert after.result["granted"] is False
    assert after.result["reason"] == f"no consent permits hospital/drsmith {record.category} access for TREAT"
    assert care.refusal(ALICE, "consent", "revoke_consent", consent["id"]) == (
        f"consent {consent['id']} is already inactive"
    )
    assert (
        care.refusal(ALICE, "consent", "revoke_consent", "nope")
        == f"consent nope of {PATIENT} does not exist"
    )
    assert care.refusal(SMITH, "consent", "revoke_consent", consent["id"]) == (
        "hospital/drsmith may not call revoke_consent: it needs attribute role=patient"
    )


def test_access_summary_lists_what_is_permitted_now_minus_denies(care: Ledger, record: Pointer) -> None:
    permit = grant(care, "hospital", record.category, purposes="TREAT,HPAYMT")
    deny = grant(care, "hospital", record.category, purposes="HPAYMT", kind="deny")
    summary = care.evaluate(ALICE, "consent", "access_summary")
    mine = [a for a in summary["access"] if a["category"] == record.category]
    assert mine == [
        {
            "actor": "hospital",
            "action": "access",
            "purpose": "TREAT",
            "category": record.category,
            "consent": permit["id"],
            "until": None,
            "roles": ["practitioner"],
        }
    ]
    assert deny["id"] in {d["id"] for d in summary["denied"]}


def test_accounting_of_disclosures_covers_exactly_the_date_range(care: Ledger, record: Pointer) -> None:
    consent = grant(care, "hospital/drsmith", record.category)
    granted = access(care, SMITH, record)
    recorded = audit_trail(care)[granted.tx_id]["recorded"]
    expected = {
        "date": recorded,
        "recipient": "hospital/drsmith",
        "record": record.record_id,
        "category": record.category,
        "purpose": "TREAT",
        "basis": f"consent/{consent['id']}",
        "action": "read",
    }

    def disclosed(start: str, end: str) -> list[dict]:
        found = care.items(ALICE, "consent", "disclosures", start, end)
        return [d for d in found if d["record"] == record.record_id]

    assert disclosed(recorded, instant(recorded, seconds=1)) == [expected]
    assert disclosed(instant(recorded, days=-1), recorded) == []  # [start, end): the end is excluded
    assert disclosed(instant(recorded, microseconds=1), instant(recorded, days=1)) == []
    assert care.query_refusal(ALICE, "consent", "disclosures", "March", "2100-01-01") == (
        "start 'March' is not an ISO 8601 date or date-time"
    )


def test_patient_queries_answer_only_the_patient(care: Ledger, registered_patients: dict) -> None:
    for function, args in [
        ("patient_records", ()),
        ("patient_consents", ()),
        ("consent_fhir", ("c1",)),
        ("access_summary", ()),
        ("disclosures", ("2000-01-01", "2100-01-01")),
        ("audit_events_fhir", ("2000-01-01", "2100-01-01")),
    ]:
        for who in [SMITH, IVAN]:
            assert care.query_refusal(who, "consent", function, *args) == (
                f"{ledger_id(who)} may not call {function}: it needs attribute role=patient"
            )


# --- break-glass ---------------------------------------------------------------------------


def test_break_glass_by_a_licensed_practitioner_opens_emergency_access(
    care: Ledger, registered_patients: dict, smith_licensed: dict
) -> None:
    record = register_record(care, BOB, new_category())
    deny = care.submit(
        BOB,
        "consent",
        "deny_consent",
        new_id("consent"),
        "hospital/drsmith",
        "access",
        "TREAT,ETREAT",
        record.category,
    )
    reason = new_id("unconscious-in-er").encode()
    opened = care.commit(SMITH, "consent", "break_glass", ledger_id(BOB), transient={"reason": reason})
    glass = opened.result
    assert glass | {"period": {}, "reason_hash": ""} == {
        "id": opened.tx_id,
        "patient": "hospital/bob",
        "practitioner": "hospital/drsmith",
        "purpose": "ETREAT",
        "period": {},
        "reason_hash": "",
    }
    assert glass["period"]["end"] == instant(glass["period"]["start"], hours=4)
    assert reason not in care.block_bytes(opened.block)  # the reason stays with the hospital
    refused = access(care, SMITH, record, "TREAT", patient="hospital/bob")
    assert refused.result["reason"] == f"consent {deny['id']} denies {record.category} access for TREAT"
    emergency = access(care, SMITH, record, "ETREAT", patient="hospital/bob")
    assert (emergency.result["granted"], emergency.result["reason"]) == (
        True,
        f"break-glass {glass['id']} is open",
    )
    assert access(care, JONES, record, "ETREAT", patient="hospital/bob").result["granted"] is False
    assert glass in care.evaluate(BOB, "consent", "access_summary")["break_glass"]
    disclosed = care.items(BOB, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert [d["basis"] for d in disclosed if d["record"] == record.record_id] == [
        f"break-glass/{glass['id']}"
    ]


def test_break_glass_waits_for_review_by_the_practitioners_org_admin(
    care: Ledger, registered_patients: dict, smith_licensed: dict
) -> None:
    glass = care.submit(SMITH, "consent", "break_glass", ledger_id(BOB), transient={"reason": b"seizure"})
    pending = care.items(HOSPITAL_ADMIN, "consent", "pending_reviews")
    assert glass | {"review": "pending"} in pending
    assert glass["id"] not in {
        item["id"] for item in care.items(INSURER_ADMIN, "consent", "pending_reviews")
    }
    assert care.query_refusal(SMITH, "consent", "pending_reviews") == (
        "hospital/drsmith may not call pending_reviews: it needs an org admin identity"
    )
    assert care.refusal(SMITH, "consent", "close_review", glass["id"], "justified") == (
        "hospital/drsmith may not call close_review: it needs an org admin identity"
    )
    assert care.refusal(HOSPITAL_ADMIN, "consent", "close_review", glass["id"], "fine") == (
        "review outcome 'fine' is not one of justified, unjustified"
    )
    assert care.refusal(INSURER_ADMIN, "consent", "close_review", glass["id"], "justified") == (
        f"no break-glass use {glass['id']} by insurer awaits review"
    )
    closed = care.submit(HOSPITAL_ADMIN, "consent", "close_review", glass["id"], "justified")
    assert (closed["review"], closed["reviewer"]) == ("justified", "hospital/admin")
    assert glass["id"] not in {
        item["id"] for item in care.items(HOSPITAL_ADMIN, "consent", "pending_reviews")
    }
    assert care.refusal(HOSPITAL_ADMIN, "consent", "close_review", glass["id"], "unjustified") == (
        f"break-glass use {glass['id']} was already reviewed: justified"
    )


def test_break_glass_is_refused_to_an_unlicensed_and_to_a_revoked_practitioner(
    care: Ledger, jones_revoked: JonesRevoked
) -> None:
    assert (
        jones_revoked.unlicensed_break_glass
        == "break-glass refused: no licence has been issued to hospital/drjones"
    )
    again = care.commit(JONES, "consent", "break_glass", ledger_id(BOB), transient={"reason": b"collapse"})
    assert (again.code, again.result["granted"]) == ("VALID", False)
    assert again.result["reason"] == (
        f"break-glass refused: licence RN-2002 is revoked with effect from {jones_revoked.day}T00:00:00Z"
    )


def test_break_glass_needs_a_practitioner_a_reason_and_a_registered_patient(
    care: Ledger, registered_patients: dict, smith_licensed: dict
) -> None:
    reason = {"reason": b"collapse"}
    assert care.refusal(IVAN, "consent", "break_glass", ledger_id(BOB), transient=reason) == (
        "insurer/ivan may not call break_glass: it needs attribute role=practitioner"
    )
    assert care.refusal(SMITH, "consent", "break_glass", ledger_id(BOB)) == (
        "break_glass needs transient field 'reason'"
    )
    assert care.refusal(SMITH, "consent", "break_glass", "hospital/ghost", transient=reason) == (
        "patient hospital/ghost is not registered"
    )


# --- erasure -------------------------------------------------------------------------------


def test_patient_erasure_leaves_a_tombstone_and_the_audit_trail_intact(care: Ledger, record: Pointer) -> None:
    grant(care, "hospital/drsmith", record.category)
    before = access(care, SMITH, record)
    erased = care.commit(
        ALICE, "consent", "erase_record", PATIENT, record.record_id, transient={"salt": SALT}
    )
    tombstone = erased.result
    assert (tombstone["status"], tombstone["location"]) == ("entered-in-error", None)
    assert tombstone["content_hash"] != record.content_hash
    assert tombstone["erased"] == {
        "at": tombstone["erased"]["at"],
        "by": PATIENT,
        "legal_basis": "request of the data subject",
        "tx_id": erased.tx_id,
    }
    assert SALT not in care.block_bytes(erased.block)
    listed = {r["id"]: r for r in care.items(ALICE, "consent", "patient_records")}
    assert listed[record.record_id] == tombstone
    after = access(care, SMITH, record)
    assert after.result == {
        "granted": False,
        "reason": f"record {record.record_id} of {PATIENT} was erased",
        "audit_event": after.tx_id,
    }
    trail = audit_trail(care)
    assert (trail[before.tx_id]["outcome"], trail[after.tx_id]["outcome"]) == ("0", "4")
    disclosed = care.items(ALICE, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert [d["recipient"] for d in disclosed if d["record"] == record.record_id] == ["hospital/drsmith"]
    assert care.refusal(
        ALICE, "consent", "erase_record", PATIENT, record.record_id, transient={"salt": SALT}
    ) == (f"record {record.record_id} of {PATIENT} is already erased")


def test_an_org_admin_erases_with_a_recorded_legal_basis(care: Ledger, record: Pointer) -> None:
    erased = care.submit(
        HOSPITAL_ADMIN,
        "consent",
        "erase_record",
        PATIENT,
        record.record_id,
        "court order 12/2026",
        transient={"salt": SALT},
    )
    assert (erased["erased"]["by"], erased["erased"]["legal_basis"]) == (
        "hospital/admin",
        "court order 12/2026",
    )


def test_erasure_refusals(care: Ledger, record: Pointer) -> None:
    salt = {"salt": SALT}
    cases = [
        (
            BOB,
            (),
            salt,
            f"hospital/bob may not erase records of {PATIENT}: only the patient or an admin of its org",
        ),
        (
            INSURER_ADMIN,
            ("contract",),
            salt,
            f"insurer/admin may not erase records of {PATIENT}: only the patient or an admin of its org",
        ),
        (
            SMITH,
            ("because",),
            salt,
            f"hospital/drsmith may not erase records of {PATIENT}: only the patient or an admin of its org",
        ),
        (HOSPITAL_ADMIN, (), salt, "an admin must record the legal basis of an erasure"),
        (ALICE, (), {}, "erase_record needs transient field 'salt'"),
        (ALICE, (), {"salt": b"short"}, "transient salt must be at least 16 random bytes"),
    ]
    for who, rest, sent, message in cases:
        assert (
            care.refusal(who, "consent", "erase_record", PATIENT, record.record_id, *rest, transient=sent)
            == message
        )
    assert care.refusal(ALICE, "consent", "erase_record", PATIENT, "rec-none", transient=salt) == (
        f"record rec-none of {PATIENT} does not exist"
    )


# --- issue 10: who a consent covers, licences on every access, the patient told, delegates ----


def consents_of(care: Ledger, who: str = ALICE) -> list[dict]:
    return care.items(who, "consent", "patient_consents")


def test_an_org_wide_consent_admits_no_patient_admin_or_billing_staff(
    net: LocalNetwork, care: Ledger, record: Pointer
) -> None:
    billing = issue(net, "hospital", "billing", role="claims-adjuster")
    grant(care, "hospital", record.category)
    assert access(care, SMITH, record).result["granted"] is True
    for outsider in (BOB, HOSPITAL_ADMIN, billing):
        refused = access(care, outsider, record)
        assert refused.result == {
            "granted": False,
            "reason": f"no consent permits {ledger_id(outsider)} {record.category} access for TREAT",
            "audit_event": refused.tx_id,
        }
    before = consents_of(care)
    assert care.refusal(
        ALICE,
        "consent",
        "grant_consent",
        new_id("consent"),
        "hospital",
        "access",
        "TREAT",
        record.category,
        "",
        "",
        "claims-adjuster",
    ) == (
        "an organisation-wide consent to hospital may not cover role claims-adjuster: it covers only "
        "practitioner; name billing staff one by one; patients and org admins are never covered"
    )
    assert consents_of(care) == before  # the ledger did not change


def test_a_consent_lets_in_no_practitioner_without_a_valid_licence_now(
    net: LocalNetwork, care: Ledger, record: Pointer, jones_revoked: JonesRevoked
) -> None:
    newcomer = issue(net, "hospital", "drnew", role="practitioner")
    for who in (JONES, newcomer):
        grant(care, ledger_id(who), record.category)
    trail_before = set(audit_trail(care))
    revoked = access(care, JONES, record)
    assert revoked.result["granted"] is False
    assert revoked.result["reason"].endswith(
        f"but hospital/drjones is not licensed now: licence RN-2002 is revoked with effect from "
        f"{jones_revoked.day}T00:00:00Z"
    )
    never = access(care, newcomer, record)
    assert never.result["reason"].endswith(
        f"is not licensed now: no licence has been issued to {ledger_id(newcomer)}"
    )
    assert "location" not in revoked.result and "location" not in never.result
    assert set(audit_trail(care)) - trail_before == {revoked.tx_id, never.tx_id}  # only the denials
    assert (
        care.evaluate(JONES, "consent", "check_access", PATIENT, record.record_id, "TREAT")["granted"]
        is False
    )


def test_a_refused_edit_is_audited_and_changes_nothing_else(care: Ledger, record: Pointer) -> None:
    grant(care, "hospital/drsmith", record.category)  # access only: no `correct`
    edit = {"content_hash": ("e" * 64).encode()}
    refused = care.commit(
        SMITH, "consent", "correct_record", PATIENT, record.record_id, "TREAT", transient=edit
    )
    assert (refused.code, refused.result["granted"], refused.result["reason"]) == (
        "VALID",
        False,
        f"no consent permits hospital/drsmith {record.category} correct for TREAT",
    )
    (pointer,) = [
        r for r in care.items(ALICE, "consent", "patient_records") if r["id"] == record.record_id
    ]
    assert pointer["content_hash"] == record.content_hash and "corrected" not in pointer
    assert audit_trail(care)[refused.tx_id]["action"] == "U"
    assert care.refusal(SMITH, "consent", "correct_record", PATIENT, record.record_id, "TREAT") == (
        "correct_record needs transient field 'content_hash'"
    )


def test_the_patient_follows_their_own_break_glass_and_refusals_with_a_checkpoint(
    care: Ledger, record: Pointer, jones_revoked: JonesRevoked
) -> None:
    start = care.commit(ALICE, "consent", "access_record", PATIENT, record.record_id, "TREAT").block
    bobs = care.commit(SMITH, "consent", "break_glass", ledger_id(BOB), transient={"reason": b"stroke"})
    refused = care.commit(JONES, "consent", "break_glass", PATIENT, transient={"reason": b"collapse"})
    denied = access(care, JONES, record)
    opened = care.commit(SMITH, "consent", "break_glass", PATIENT, transient={"reason": b"seizure"})
    assert bobs.code == refused.code == opened.code == "VALID"
    checkpointer = InMemoryCheckpointer()
    with care.net.connect(ALICE) as gateway:
        network = gateway.get_network(care.channel)
        seen: list[tuple[str, str, str]] = []
        with network.get_chaincode_events("consent", start_block=start, checkpoint=checkpointer) as events:
            for event in events:
                payload = json.loads(event.payload)
                seen.append((event.tx_id, event.event_name, payload["patient"]))
                checkpointer.checkpoint_chaincode_event(event)
                if event.tx_id == denied.tx_id:
                    break
        with network.get_chaincode_events("consent", checkpoint=checkpointer) as events:
            resumed = next(iter(events))  # after the checkpoint: nothing delivered twice
    assert {patient for _, _, patient in seen} == {PATIENT}  # never Bob's break-glass
    assert bobs.tx_id not in {tx for tx, _, _ in seen}
    assert (refused.tx_id, "BreakGlassRefused", PATIENT) in seen
    assert (denied.tx_id, "RecordAccessRefused", PATIENT) in seen
    assert (resumed.tx_id, resumed.event_name) == (opened.tx_id, "BreakGlassOpened")
    trail = audit_trail(care)
    assert (trail[refused.tx_id]["action"], trail[refused.tx_id]["outcome"]) == ("E", "4")
    assert trail[refused.tx_id]["outcomeDesc"] == jones_revoked.unlicensed_break_glass.replace(
        "no licence has been issued to hospital/drjones",
        f"licence RN-2002 is revoked with effect from {jones_revoked.day}T00:00:00Z",
    )


def test_a_guardian_manages_consents_and_reads_disclosures_audited_for_the_patient(
    net: LocalNetwork, care: Ledger, registered_patients: dict
) -> None:
    child = issue(net, "hospital", "pt", role="patient")
    guardian = issue(net, "hospital", "guardian")
    care.submit(child, "consent", "register_patient")
    patient, guardian_id = ledger_id(child), ledger_id(guardian)
    consent_id = new_id("consent")
    args = (patient, consent_id, "hospital/drsmith", "access", "TREAT", "lab")
    assert care.refusal(guardian, "consent", "grant_consent_for", *args) == (
        f"{guardian_id} is not a delegate of {patient}: the patient or an admin of its org names delegates"
    )
    assert care.refusal(HOSPITAL_ADMIN, "consent", "name_delegate", patient, guardian_id, "GUARD") == (
        "an admin must record the legal basis of a delegation (e.g. minor, incapacity, court order)"
    )
    assert care.refusal(IVAN, "consent", "name_delegate", patient, guardian_id, "GUARD", "minor") == (
        f"insurer/ivan may not name or revoke delegates of {patient}: only the patient or an admin of its org"
    )
    assert consents_of(care, child) == []  # the ledger did not change
    named = care.submit(HOSPITAL_ADMIN, "consent", "name_delegate", patient, guardian_id, "GUARD", "minor")
    assert (named["by"], named["legal_basis"], named["relationship"]) == ("hospital/admin", "minor", "GUARD")
    made = care.commit(guardian, "consent", "grant_consent_for", *args)
    assert (made.result["patient"], made.result["by"]) == (patient, guardian_id)
    read = care.commit(guardian, "consent", "disclosures_for", patient, "2000-01-01", "2100-01-01")
    assert read.result["items"] == []
    trail = audit_trail(care, child)
    for tx in (made.tx_id, read.tx_id):
        agents = trail[tx]["agent"]
        assert agents[0]["who"]["identifier"]["value"] == guardian_id
        assert agents[0]["role"][0]["coding"][0]["code"] == "GUARD"
        assert agents[1]["who"]["identifier"]["value"] == patient
        assert trail[tx]["outcomeDesc"].endswith(f"on behalf of {patient}")
    care.submit(child, "consent", "revoke_delegate", patient, guardian_id)
    assert care.refusal(guardian, "consent", "revoke_consent_for", patient, consent_id) == (
        f"{guardian_id}'s delegation for {patient} is revoked"
    )
    assert [c["status"] for c in consents_of(care, child)] == ["active"]  # unchanged by the refusal
