"""The credentials contract: who may issue and change licences, and what verify answers when."""

from __future__ import annotations

import pytest
from contractharness import Ledger, admin, client

from careledger.chaincode.contracts.credentials import CredentialsContract

REGISTRAR = client("board", "rita", "registrar")
BOB = "hospital/bob"
ISSUE = (BOB, "CA-A12345", "MD", "US-CA", "cardiology,internal-medicine", "2026-01-01", "2027-01-01")


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(CredentialsContract())


@pytest.fixture
def issued(ledger: Ledger) -> Ledger:
    ledger.submit(REGISTRAR, "credentials", "issue", *ISSUE)
    return ledger


def verify(ledger: Ledger, at: str = "") -> dict:
    return ledger.evaluate(client("insurer", "ivy"), "credentials", "verify", BOB, at)


def status(ledger: Ledger, at: str = "") -> str:
    return verify(ledger, at)["status"]


# --- issue ---------------------------------------------------------------------------------


def test_registrar_issues_a_licence_that_verifies_and_is_announced(ledger):
    credential = ledger.submit(REGISTRAR, "credentials", "issue", *ISSUE)
    assert credential | {"changes": []} == {
        "practitioner": BOB,
        "license": "CA-A12345",
        "qualification": "MD",
        "jurisdiction": "US-CA",
        "specialties": ["cardiology", "internal-medicine"],
        "status": "active",
        "periods": [{"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}],
        "status_list_index": 0,
        "changes": [],
    }
    assert credential["changes"][0]["action"] == "issued"
    assert credential["changes"][0]["by"] == "board/rita"
    assert ledger.event() == ("CredentialIssued", credential)
    assert ledger.evaluate(REGISTRAR, "credentials", "get_credential", BOB) == credential
    assert verify(ledger) == {
        "practitioner": BOB,
        "at": "2026-03-01T12:00:00Z",
        "valid": True,
        "status": "valid",
        "reason": "licence CA-A12345 is valid",
    }


def test_each_licence_gets_its_own_status_list_index(issued):
    other = issued.submit(
        REGISTRAR,
        "credentials",
        "issue",
        "hospital/nina",
        "RN-77",
        "RN",
        "US",
        "",
        "2026-01-01",
        "2028-01-01",
    )
    assert (other["status_list_index"], other["specialties"]) == (1, [])


@pytest.mark.parametrize(
    "caller",
    [client("board", "carl", "clerk"), client("hospital", "mallory", "registrar"), admin("board")],
)
def test_only_a_board_registrar_may_issue(ledger, caller):
    assert ledger.refusal(caller, "credentials", "issue", *ISSUE) == (
        f"{caller.id} may not call issue: it needs attribute role=registrar in org 'board'"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({0: "bob"}, "practitioner 'bob' is not an identity id of the form org/name"),
        ({1: "A 1"}, "license_number 'A 1' is not a valid id"),
        ({2: "XX"}, "qualification 'XX' is not a v2-0360 degree/licence code; use MD, DO"),
        ({3: "California"}, "jurisdiction 'California' is not an ISO 3166 code like US-CA"),
        ({5: "soon"}, "valid_from 'soon' is not an ISO 8601 date or date-time"),
        ({6: "2025-12-31"}, "valid_until 2025-12-31 is not after valid_from 2026-01-01"),
    ],
)
def test_issue_refuses_bad_input(ledger, change, message):
    args = [change.get(i, arg) for i, arg in enumerate(ISSUE)]
    assert ledger.refusal(REGISTRAR, "credentials", "issue", *args).startswith(message)


def test_issue_refuses_a_second_licence(issued):
    assert issued.refusal(REGISTRAR, "credentials", "issue", *ISSUE) == (
        "hospital/bob already holds a licence; renew it instead"
    )


# --- verify --------------------------------------------------------------------------------


def test_verify_answers_for_a_given_date_or_the_transaction_time(issued):
    assert status(issued, "2025-12-31") == "not-yet-valid"
    assert verify(issued, "2025-12-31")["reason"] == ("licence CA-A12345 is valid from 2026-01-01T00:00:00Z")
    assert status(issued, "2026-06-01T08:30:00+02:00") == "valid"
    assert status(issued, "2027-01-01") == "expired"
    issued.later(days=400)
    assert verify(issued)["valid"] is False


def test_verify_of_an_unknown_practitioner_says_so_without_failing(ledger):
    assert verify(ledger) | {"at": ""} == {
        "practitioner": BOB,
        "at": "",
        "valid": False,
        "status": "unknown",
        "reason": "no licence has been issued to hospital/bob",
    }


def test_verify_refuses_a_malformed_date(issued):
    assert issued.refusal(REGISTRAR, "credentials", "verify", BOB, "last tuesday") == (
        "at 'last tuesday' is not an ISO 8601 date or date-time"
    )


# --- suspend, reinstate, revoke ------------------------------------------------------------


def test_suspension_with_an_earlier_effect_invalidates_only_dates_from_then(issued):
    issued.later(days=30)
    suspended = issued.submit(REGISTRAR, "credentials", "suspend", BOB, "complaint", "2026-03-20")
    assert suspended["status"] == "suspended"
    assert suspended["changes"][-1] | {"tx_id": ""} == {
        "action": "suspended",
        "effective": "2026-03-20T00:00:00Z",
        "recorded": "2026-03-31T12:00:00Z",
        "reason": "complaint",
        "by": "board/rita",
        "tx_id": "",
    }
    assert issued.event() == ("CredentialSuspended", suspended)
    assert status(issued, "2026-03-19") == "valid"
    assert verify(issued, "2026-03-25")["reason"] == (
        "licence CA-A12345 is suspended with effect from 2026-03-20T00:00:00Z"
    )
    issued.later(days=5)
    reinstated = issued.submit(REGISTRAR, "credentials", "reinstate", BOB, "cleared")
    assert (reinstated["status"], issued.event()[0]) == ("active", "CredentialReinstated")
    assert [status(issued, d) for d in ["2026-03-19", "2026-03-25", "2026-04-06"]] == [
        "valid",
        "suspended",
        "valid",
    ]


def test_revocation_is_permanent_and_keeps_earlier_dates_valid(issued):
    issued.later(days=10)
    revoked = issued.submit(REGISTRAR, "credentials", "revoke", BOB, "fraud")
    assert (revoked["status"], issued.event()[0]) == ("revoked", "CredentialRevoked")
    assert status(issued, "2026-03-05") == "valid"
    assert status(issued) == "revoked"
    for function, args in [
        ("suspend", ("again",)),
        ("reinstate", ("appeal",)),
        ("revoke", ("again",)),
        ("renew", ("2030-01-01", "appeal")),
    ]:
        assert issued.refusal(REGISTRAR, "credentials", function, BOB, *args) == (
            "licence CA-A12345 is revoked; revocation is permanent"
        )


def test_a_suspended_licence_can_be_revoked(issued):
    issued.submit(REGISTRAR, "credentials", "suspend", BOB, "complaint")
    assert issued.submit(REGISTRAR, "credentials", "revoke", BOB, "upheld")["status"] == "revoked"


def test_status_changes_refuse_the_wrong_starting_status(issued):
    assert issued.refusal(REGISTRAR, "credentials", "reinstate", BOB, "x") == (
        "licence CA-A12345 is active, not suspended"
    )
    issued.submit(REGISTRAR, "credentials", "suspend", BOB, "complaint")
    assert issued.refusal(REGISTRAR, "credentials", "suspend", BOB, "x") == (
        "licence CA-A12345 is suspended, not active"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "2026-03-02"), "effective time 2026-03-02T00:00:00Z is in the future"),
        (("x", "now"), "effective 'now' is not an ISO 8601 date or date-time"),
        ((" ", ""), "a reason is required"),
    ],
)
def test_suspend_and_revoke_refuse_bad_effective_times_and_empty_reasons(issued, args, message):
    for function in ["suspend", "revoke"]:
        assert issued.refusal(REGISTRAR, "credentials", function, BOB, *args) == message


def test_status_changes_keep_effective_order_but_may_predate_the_ledger_entry(issued):
    issued.submit(REGISTRAR, "credentials", "suspend", BOB, "complaint", "2026-02-01")
    assert [status(issued, d) for d in ["2026-01-15", "2026-02-15"]] == ["valid", "suspended"]
    issued.later(days=4)
    issued.submit(REGISTRAR, "credentials", "reinstate", BOB, "cleared")
    assert issued.refusal(REGISTRAR, "credentials", "revoke", BOB, "x", "2026-03-02") == (
        "effective time 2026-03-02T00:00:00Z is before the licence's last status change at "
        "2026-03-05T12:00:00Z"
    )


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("suspend", ("x",)),
        ("reinstate", ("x",)),
        ("revoke", ("x",)),
        ("renew", ("2030-01-01", "x")),
    ],
)
def test_changes_need_a_registrar_and_an_issued_licence(issued, function, args):
    nurse = client("board", "nina", "practitioner")
    assert issued.refusal(nurse, "credentials", function, BOB, *args) == (
        f"board/nina may not call {function}: it needs attribute role=registrar in org 'board'"
    )
    assert issued.refusal(REGISTRAR, "credentials", function, "hospital/eve", *args) == (
        "no licence has been issued to hospital/eve"
    )


# --- renew ---------------------------------------------------------------------------------


def test_renewal_before_expiry_continues_the_period(issued):
    renewed = issued.submit(REGISTRAR, "credentials", "renew", BOB, "2028-01-01", "annual")
    assert renewed["periods"][-1] == {"start": "2027-01-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}
    assert issued.event() == ("CredentialRenewed", renewed)
    assert status(issued, "2027-06-01") == "valid"


def test_renewal_after_a_lapse_leaves_the_gap_expired(issued):
    issued.now = issued.now.replace(year=2027, month=2)
    issued.submit(REGISTRAR, "credentials", "renew", BOB, "2028-01-01", "late renewal")
    assert [status(issued, d) for d in ["2026-12-31", "2027-01-15", "2027-02-02"]] == [
        "valid",
        "expired",
        "valid",
    ]


def test_renewal_must_extend_the_licence_and_give_a_reason(issued):
    assert issued.refusal(REGISTRAR, "credentials", "renew", BOB, "2026-12-01", "x") == (
        "valid_until 2026-12-01 does not extend the licence beyond 2027-01-01T00:00:00Z"
    )
    assert issued.refusal(REGISTRAR, "credentials", "renew", BOB, "2028-01-01", "") == (
        "a reason is required"
    )


# --- exports -------------------------------------------------------------------------------


def test_qualification_exports_as_fhir_practitioner(issued):
    practitioner = issued.evaluate(REGISTRAR, "credentials", "qualification_fhir", BOB)
    assert practitioner["resourceType"] == "Practitioner"
    assert practitioner["active"] is True
    (qualification,) = practitioner["qualification"]
    assert qualification["code"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0360",
            "code": "MD",
            "display": "Doctor of Medicine",
        }
    ]
    assert qualification["identifier"] == [{"system": "urn:careledger:license:US-CA", "value": "CA-A12345"}]
    assert qualification["period"] == {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}


def test_verification_result_exports_success_and_failure(issued):
    ok = issued.evaluate(REGISTRAR, "credentials", "verification_result_fhir", BOB, "2026-06-01")
    assert (ok["resourceType"], ok["status"], ok["statusDate"]) == (
        "VerificationResult",
        "validated",
        "2026-06-01T00:00:00Z",
    )
    source = ok["primarySource"][0]
    assert source["type"][0]["coding"][0]["code"] == "lic-board"
    assert source["validationStatus"]["coding"][0]["code"] == "successful"
    failed = issued.evaluate(REGISTRAR, "credentials", "verification_result_fhir", BOB, "2027-06-01")
    assert failed["status"] == "val-fail"
    assert failed["primarySource"][0]["validationStatus"]["text"].endswith(
        "expired; no validity period covers that time"
    )


def test_credential_document_carries_status_list_entries_that_follow_the_status(issued):
    document = issued.evaluate(REGISTRAR, "credentials", "credential_document", BOB)
    assert document["credentialSubject"]["id"] == "urn:careledger:practitioner:hospital/bob"
    assert (document["validFrom"], document["validUntil"]) == ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert [(s["statusPurpose"], s["statusListIndex"]) for s in document["credentialStatus"]] == [
        ("revocation", "0"),
        ("suspension", "0"),
    ]
    assert issued.evaluate(REGISTRAR, "credentials", "status_list", "suspension")["indices"] == []
    issued.submit(REGISTRAR, "credentials", "suspend", BOB, "complaint")
    assert issued.evaluate(REGISTRAR, "credentials", "status_list", "suspension")["indices"] == [0]
    assert issued.evaluate(REGISTRAR, "credentials", "status_list", "revocation")["indices"] == []
    assert issued.refusal(REGISTRAR, "credentials", "status_list", "expiry") == (
        "status purpose 'expiry' is not one of revocation, suspension"
    )


@pytest.mark.parametrize("function", ["get_credential", "qualification_fhir", "credential_document"])
def test_lookups_of_an_unknown_licence_are_refused(issued, function):
    assert issued.refusal(REGISTRAR, "credentials", function, "hospital/eve") == (
        "no licence has been issued to hospital/eve"
    )
