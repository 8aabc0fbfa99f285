"""The credentials contract through the real network: only the board's registrar changes licences,
anyone verifies them, for now or for a past date of service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from healthcare import (
    ALICE,
    BOARD_ADMIN,
    HOSPITAL_ADMIN,
    IVAN,
    RITA,
    SMITH,
    Ledger,
    days_ago,
    new_id,
    today,
)

pytest_plugins = ("healthcare",)

START, END = "2020-01-01", "2090-01-01"


def practitioner() -> str:
    """A practitioner id of its own: licences are keyed by the practitioner, one each."""
    return f"hospital/{new_id('nurse')}"


def issue(
    care: Ledger, who: str, license_number: str = "CA-A12345", start: str = START, end: str = END
) -> dict:
    return care.submit(
        RITA, "credentials", "issue", who, license_number, "MD", "US-CA", "cardiology", start, end
    )


def verify(care: Ledger, who: str, at: str = "") -> dict:
    return care.evaluate(IVAN, "credentials", "verify", who, at)


@pytest.fixture
def licensed(care: Ledger) -> str:
    who = practitioner()
    issue(care, who)
    return who


def test_registrar_issues_a_licence_that_any_org_verifies(care: Ledger) -> None:
    who = practitioner()
    credential = issue(care, who)
    assert credential | {"changes": [], "status_list_index": 0} == {
        "practitioner": who,
        "license": "CA-A12345",
        "qualification": "MD",
        "jurisdiction": "US-CA",
        "specialties": ["cardiology"],
        "status": "active",
        "periods": [{"start": "2020-01-01T00:00:00Z", "end": "2090-01-01T00:00:00Z"}],
        "status_list_index": 0,
        "changes": [],
    }
    (change,) = credential["changes"]
    assert (change["action"], change["by"]) == ("issued", "board/rita")
    assert care.evaluate(ALICE, "credentials", "get_credential", who) == credential
    verdict = verify(care, who)
    assert (verdict["valid"], verdict["status"], verdict["reason"]) == (
        True,
        "valid",
        "licence CA-A12345 is valid",
    )
    assert care.evaluate(HOSPITAL_ADMIN, "credentials", "verify", who, "")["valid"] is True


@pytest.mark.parametrize("caller", [SMITH, BOARD_ADMIN, IVAN, ALICE])
def test_only_a_board_registrar_may_issue(care: Ledger, caller: str) -> None:
    who = practitioner()
    assert care.refusal(caller, "credentials", "issue", who, "L-1", "MD", "US", "", START, END) == (
        f"{caller.replace(':', '/')} may not call issue: it needs attribute role=registrar in org 'board'"
    )


def test_issue_refuses_bad_input_and_a_second_licence(care: Ledger, licensed: str) -> None:
    who = practitioner()
    good = [who, "CA-1", "MD", "US-CA", "", START, END]
    cases = [
        ({0: "nurse"}, "practitioner 'nurse' is not an identity id of the form org/name"),
        ({1: "CA 1"}, "license_number 'CA 1' is not a valid id: use 1-64 letters, digits, '.', '_' or '-'"),
        (
            {2: "XX"},
            "qualification 'XX' is not a v2-0360 degree/licence code; use MD, DO, DDS, PharmD, PA, "
            "NP, CNM, RN, LPN",
        ),
        ({3: "California"}, "jurisdiction 'California' is not an ISO 3166 code like US-CA"),
        ({5: "soon"}, "valid_from 'soon' is not an ISO 8601 date or date-time"),
        ({6: "2019-12-31"}, "valid_until 2019-12-31 is not after valid_from 2020-01-01"),
    ]
    for change, message in cases:
        args = [change.get(n, arg) for n, arg in enumerate(good)]
        assert care.refusal(RITA, "credentials", "issue", *args) == message
    assert care.refusal(RITA, "credentials", "issue", licensed, "CA-2", "MD", "US", "", START, END) == (
        f"{licensed} already holds a licence; renew it instead"
    )


def test_verify_answers_for_a_past_date_and_for_unknown_practitioners(care: Ledger, licensed: str) -> None:
    assert verify(care, licensed, "2019-12-31") | {"at": ""} == {
        "practitioner": licensed,
        "at": "",
        "valid": False,
        "status": "not-yet-valid",
        "reason": "licence CA-A12345 is valid from 2020-01-01T00:00:00Z",
    }
    assert verify(care, licensed, "2026-06-01T08:30:00+02:00")["at"] == "2026-06-01T06:30:00Z"
    assert verify(care, licensed, "2026-06-01")["valid"] is True
    assert verify(care, licensed, "2090-01-01")["reason"] == (
        "licence CA-A12345 expired; no validity period covers that time"
    )
    stranger = practitioner()
    assert (verify(care, stranger)["status"], verify(care, stranger)["reason"]) == (
        "unknown",
        f"no licence has been issued to {stranger}",
    )
    assert care.query_refusal(IVAN, "credentials", "verify", licensed, "last tuesday") == (
        "at 'last tuesday' is not an ISO 8601 date or date-time"
    )


def test_suspension_with_an_earlier_effect_then_reinstatement(care: Ledger, licensed: str) -> None:
    effective = days_ago(10)
    suspended = care.submit(RITA, "credentials", "suspend", licensed, "complaint", effective)
    assert suspended["status"] == "suspended"
    change = suspended["changes"][-1]
    assert (change["action"], change["effective"], change["reason"], change["by"]) == (
        "suspended",
        f"{effective}T00:00:00Z",
        "complaint",
        "board/rita",
    )
    assert verify(care, licensed, days_ago(11))["valid"] is True
    assert verify(care, licensed, days_ago(5))["reason"] == (
        f"licence CA-A12345 is suspended with effect from {effective}T00:00:00Z"
    )
    assert verify(care, licensed)["status"] == "suspended"
    assert care.refusal(RITA, "credentials", "suspend", licensed, "again") == (
        "licence CA-A12345 is suspended, not active"
    )
    reinstated = care.submit(RITA, "credentials", "reinstate", licensed, "cleared")
    assert (reinstated["status"], reinstated["changes"][-1]["action"]) == ("active", "reinstated")
    assert verify(care, licensed)["valid"] is True
    assert verify(care, licensed, days_ago(5))["status"] == "suspended"  # the history stays
    assert care.refusal(RITA, "credentials", "reinstate", licensed, "again") == (
        "licence CA-A12345 is active, not suspended"
    )
    assert care.refusal(RITA, "credentials", "suspend", licensed, "late", days_ago(1)).startswith(
        f"effective time {days_ago(1)}T00:00:00Z is before the licence's last status change at "
    )


def test_status_changes_refuse_future_times_bad_times_and_empty_reasons(care: Ledger, licensed: str) -> None:
    ahead = (today() + timedelta(days=1)).isoformat()
    for function in ["suspend", "revoke"]:
        assert care.refusal(RITA, "credentials", function, licensed, "x", ahead) == (
            f"effective time {ahead}T00:00:00Z is in the future"
        )
        assert care.refusal(RITA, "credentials", function, licensed, "x", "now") == (
            "effective 'now' is not an ISO 8601 date or date-time"
        )
        assert care.refusal(RITA, "credentials", function, licensed, " ") == "a reason is required"


def test_revocation_is_permanent_and_keeps_earlier_dates_valid(care: Ledger, licensed: str) -> None:
    revoked = care.submit(RITA, "credentials", "revoke", licensed, "fraud", days_ago(3))
    assert (revoked["status"], revoked["changes"][-1]["action"]) == ("revoked", "revoked")
    assert verify(care, licensed, days_ago(4))["valid"] is True
    assert verify(care, licensed)["reason"] == (
        f"licence CA-A12345 is revoked with effect from {days_ago(3)}T00:00:00Z"
    )
    for function, args in [
        ("suspend", ("again",)),
        ("reinstate", ("appeal",)),
        ("revoke", ("again",)),
        ("renew", ("2091-01-01", "appeal")),
    ]:
        assert care.refusal(RITA, "credentials", function, licensed, *args) == (
            "licence CA-A12345 is revoked; revocation is permanent"
        )
    index = revoked["status_list_index"]
    assert index in care.evaluate(ALICE, "credentials", "status_list", "revocation")["indices"]
    assert index not in care.evaluate(ALICE, "credentials", "status_list", "suspension")["indices"]


def test_renewal_extends_the_licence_and_must_extend_it(care: Ledger, licensed: str) -> None:
    renewed = care.submit(RITA, "credentials", "renew", licensed, "2091-01-01", "annual renewal")
    assert renewed["periods"][-1] == {"start": "2090-01-01T00:00:00Z", "end": "2091-01-01T00:00:00Z"}
    assert renewed["changes"][-1]["action"] == "renewed"
    assert verify(care, licensed, "2090-06-01")["valid"] is True
    assert care.refusal(RITA, "credentials", "renew", licensed, "2090-06-01", "x") == (
        "valid_until 2090-06-01 does not extend the licence beyond 2091-01-01T00:00:00Z"
    )
    assert care.refusal(RITA, "credentials", "renew", licensed, "2092-01-01", "") == "a reason is required"


def test_a_lapsed_licence_renewed_late_leaves_the_gap_expired(care: Ledger) -> None:
    who = practitioner()
    issue(care, who, start="2024-01-01", end="2025-01-01")
    care.submit(RITA, "credentials", "renew", who, "2035-01-01", "late renewal")
    assert [verify(care, who, day)["status"] for day in ["2024-12-31", "2025-01-02"]] == ["valid", "expired"]
    assert verify(care, who)["valid"] is True


@pytest.mark.parametrize(
    ("function", "args"),
    [("suspend", ("x",)), ("reinstate", ("x",)), ("revoke", ("x",)), ("renew", ("2091-01-01", "x"))],
)
def test_status_changes_need_the_registrar_and_an_issued_licence(
    care: Ledger, licensed: str, function: str, args: tuple[str, ...]
) -> None:
    assert care.refusal(SMITH, "credentials", function, licensed, *args) == (
        f"hospital/drsmith may not call {function}: it needs attribute role=registrar in org 'board'"
    )
    stranger = practitioner()
    assert care.refusal(RITA, "credentials", function, stranger, *args) == (
        f"no licence has been issued to {stranger}"
    )


def test_exports_parse_as_fhir_and_verifiable_credential(care: Ledger, licensed: str) -> None:
    fhir = care.evaluate(ALICE, "credentials", "qualification_fhir", licensed)
    assert (fhir["resourceType"], fhir["active"]) == ("Practitioner", True)
    assert fhir["qualification"][0]["identifier"] == [
        {"system": "urn:careledger:license:US-CA", "value": "CA-A12345"}
    ]
    failed = care.evaluate(IVAN, "credentials", "verification_result_fhir", licensed, "2091-01-01")
    assert (failed["resourceType"], failed["status"], failed["statusDate"]) == (
        "VerificationResult",
        "val-fail",
        "2091-01-01T00:00:00Z",
    )
    assert (
        care.evaluate(IVAN, "credentials", "verification_result_fhir", licensed, "")["status"] == "validated"
    )
    document = care.evaluate(IVAN, "credentials", "credential_document", licensed)
    assert document["type"] == ["VerifiableCredential", "PractitionerLicenseCredential"]
    assert document["credentialSubject"]["id"] == f"urn:careledger:practitioner:{licensed}"
    assert care.query_refusal(IVAN, "credentials", "status_list", "expiry") == (
        "status purpose 'expiry' is not one of revocation, suspension"
    )
    stranger = practitioner()
    for function in ["get_credential", "qualification_fhir", "credential_document"]:
        assert care.query_refusal(IVAN, "credentials", function, stranger) == (
            f"no licence has been issued to {stranger}"
        )
