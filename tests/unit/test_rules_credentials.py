"""Licence rules as pure functions: status changes in effective order, renewal, and verification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from careledger.chaincode import ContractError
from careledger.chaincode.contracts.common import Period
from careledger.chaincode.contracts.credentials import rules

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BOB = "hospital/bob"
STAMP = {"by": "board/rita", "tx_id": "tx1"}
LICENCE = rules.issue(
    BOB, "L-1", "MD", "US-CA", "ICU, ER", "2026-01-01", "2026-06-01", index=3, now=ISSUED, **STAMP
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_issue_checks_codes_and_starts_with_one_period_and_one_change():
    assert LICENCE.periods == (Period("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"),)
    assert LICENCE.specialties == ("ICU", "ER") and LICENCE.status_list_index == 3
    assert [c.action for c in LICENCE.changes] == ["issued"]
    with pytest.raises(ContractError, match="qualification 'Dr'"):
        rules.issue(BOB, "L-1", "Dr", "US-CA", "", "2026-01-01", "2026-06-01", index=0, now=NOW, **STAMP)
    with pytest.raises(ContractError, match="jurisdiction 'California'"):
        rules.issue(BOB, "L-1", "MD", "California", "", "2026-01-01", "2026-06-01", index=0, now=NOW, **STAMP)


def test_verify_answers_for_past_dates_with_a_backdated_suspension():
    suspended = rules.change_status(LICENCE, "suspended", "inquiry", "2026-02-01", now=NOW, **STAMP)
    assert rules.verdict(suspended, BOB, at("2026-01-15")).status == "valid"
    later = rules.verdict(suspended, BOB, at("2026-02-15"))
    assert (later.valid, later.reason) == (
        False,
        "licence L-1 is suspended with effect from 2026-02-01T00:00:00Z",
    )
    reinstated = rules.change_status(suspended, "reinstated", "cleared", "", now=NOW, **STAMP)
    assert rules.verdict(reinstated, BOB, at("2026-02-15")).status == "suspended"
    assert rules.verdict(reinstated, BOB, NOW).valid


def test_verify_tells_unknown_not_yet_valid_and_expired_apart():
    assert rules.verdict(None, BOB, NOW).status == "unknown"
    assert rules.verdict(LICENCE, BOB, at("2025-12-31")).status == "not-yet-valid"
    assert rules.verdict(LICENCE, BOB, at("2026-06-01")).status == "expired"


def test_status_changes_must_follow_the_allowed_order_and_never_go_back_in_time():
    with pytest.raises(ContractError, match="licence L-1 is active, not suspended"):
        rules.change_status(LICENCE, "reinstated", "why", "", now=NOW, **STAMP)
    with pytest.raises(ContractError, match="is in the future"):
        rules.change_status(LICENCE, "suspended", "why", "2026-04-01", now=NOW, **STAMP)
    suspended = rules.change_status(LICENCE, "suspended", "inquiry", "2026-02-01", now=NOW, **STAMP)
    revoked = rules.change_status(suspended, "revoked", "fraud", "", now=NOW, **STAMP)
    with pytest.raises(ContractError, match="before the licence's last status change"):
        rules.change_status(suspended, "revoked", "fraud", "2026-01-15", now=NOW, **STAMP)
    with pytest.raises(ContractError, match="revocation is permanent"):
        rules.renew(revoked, "2027-01-01", "again", now=NOW, **STAMP)
    with pytest.raises(ContractError, match="a reason is required"):
        rules.change_status(LICENCE, "suspended", " ", "", now=NOW, **STAMP)


def test_renewal_after_a_lapse_leaves_a_gap():
    lapsed = datetime(2026, 7, 1, tzinfo=UTC)
    renewed = rules.renew(LICENCE, "2027-07-01", "late renewal", now=lapsed, **STAMP)
    assert renewed.periods[-1] == Period("2026-07-01T00:00:00Z", "2027-07-01T00:00:00Z")
    assert rules.verdict(renewed, BOB, at("2026-06-15")).status == "expired"
    with pytest.raises(ContractError, match="does not extend the licence"):
        rules.renew(LICENCE, "2026-05-01", "short", now=NOW, **STAMP)


def test_status_lists_hold_the_indices_of_revoked_or_suspended_licences():
    suspended = rules.change_status(LICENCE, "suspended", "inquiry", "", now=NOW, **STAMP)
    assert rules.status_indices([LICENCE, suspended], "suspension") == [3]
    assert rules.status_indices([LICENCE, suspended], "revocation") == []
    with pytest.raises(ContractError, match="status purpose 'expiry'"):
        rules.status_indices([], "expiry")
