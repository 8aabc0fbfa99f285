"""The consent rules as pure functions: the access decision ladder and record/consent changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from careledger.chaincode import ClientIdentity, ContractError
from careledger.chaincode.contracts.common import Licence, Period
from careledger.chaincode.contracts.consent import rules
from careledger.chaincode.contracts.consent.records import BreakGlass, Consent, RecordPointer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAT = "hospital/pat1"
BOB = "hospital/bob"
LAB = RecordPointer("r-lab", PAT, "lab", "N", "s3://vault/r1", "a" * 64, "current", "2026-03-01T00:00:00Z")


def consent(consent_id: str, actor: str, provision: str = "permit", **changes: object) -> Consent:
    base = Consent(
        consent_id,
        PAT,
        "active",
        provision,
        actor,
        ("access",),
        ("TREAT",),
        ("lab",),
        Period("2026-01-01T00:00:00Z"),
        "2026-01-01T00:00:00Z",
    )
    return replace(base, **changes)


def decide(
    who: str = BOB,
    record: RecordPointer | None = LAB,
    purpose: str = "TREAT",
    consents: list[Consent] | None = None,
    grants: list[BreakGlass] | None = None,
) -> rules.Decision:
    return rules.decide(
        who,
        PAT,
        "r-lab",
        record,
        purpose,
        NOW,
        break_glass=lambda: grants or [],
        consents=lambda: consents or [],
    )


def never() -> list[Consent]:
    raise AssertionError("the decision must not read this")


def test_a_permit_for_the_whole_org_grants_its_members():
    decision = decide(consents=[consent("c1", "hospital")])
    assert decision == rules.Decision(True, "consent c1 permits lab access for TREAT", "consent/c1")


def test_a_deny_overrides_every_permit_whatever_their_order():
    found = [consent("c1", BOB), consent("c2", "hospital", "deny")]
    assert decide(consents=found) == rules.Decision(
        False, "consent c2 denies lab access for TREAT", "consent/c2"
    )


def test_without_a_matching_consent_access_is_refused():
    wrong_purpose = consent("c1", BOB, purposes=("HPAYMT",))
    expired = consent("c2", BOB, period=Period("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
    revoked = consent("c3", BOB, status="inactive")
    other_person = consent("c4", "hospital/cara")
    decision = decide(consents=[wrong_purpose, expired, revoked, other_person])
    assert decision == rules.Decision(False, "no consent permits hospital/bob lab access for TREAT")


def test_an_org_prefix_does_not_cover_a_longer_org_name():
    assert not rules.covers("hospital", "hospitality/bob")
    assert rules.covers("hospital", "hospital/bob") and rules.covers(BOB, BOB)


def test_the_patient_reads_without_the_consents_being_read():
    assert decide(who=PAT, consents=None) == rules.Decision(
        True, "the patient reads their own record", "subject"
    )
    assert rules.decide(PAT, PAT, "r-lab", LAB, "TREAT", NOW, break_glass=never, consents=never).granted


def test_missing_erased_record_and_unknown_purpose_are_refused_before_any_lookup():
    erased = rules.erase(LAB, b"0123456789abcdef", PAT, "", NOW, "tx1")
    for record, purpose, reason in [
        (None, "TREAT", "record r-lab of hospital/pat1 does not exist"),
        (erased, "TREAT", "record r-lab of hospital/pat1 was erased"),
        (LAB, "FUN", "purpose 'FUN' is not one of TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH"),
    ]:
        decision = rules.decide(BOB, PAT, "r-lab", record, purpose, NOW, break_glass=never, consents=never)
        assert decision == rules.Decision(False, reason)


def test_an_open_break_glass_grant_opens_emergency_access_only():
    grant = rules.open_break_glass(PAT, BOB, Licence(True, "valid"), b"unconscious", NOW, "tx9")
    assert grant.period == Period("2026-03-01T12:00:00Z", "2026-03-01T16:00:00Z")
    assert decide(purpose="ETREAT", grants=[grant]) == rules.Decision(
        True, "break-glass tx9 is open", "break-glass/tx9"
    )
    assert not decide(purpose="TREAT", grants=[grant]).granted
    closed = BreakGlass(
        "tx8", PAT, BOB, "ETREAT", Period("2026-02-01T00:00:00Z", "2026-02-01T04:00:00Z"), "h"
    )
    assert not decide(purpose="ETREAT", grants=[closed]).granted


def test_break_glass_needs_a_valid_licence_and_keeps_only_a_hash_of_the_reason():
    with pytest.raises(ContractError, match="break-glass refused: licence L1 is suspended"):
        rules.open_break_glass(PAT, BOB, Licence(False, "licence L1 is suspended"), b"why", NOW, "tx9")
    grant = rules.open_break_glass(PAT, BOB, Licence(True, "valid"), b"cardiac arrest", NOW, "tx9")
    assert b"cardiac" not in repr(grant).encode() and len(grant.reason_hash) == 64


def test_standing_access_leaves_out_what_a_deny_takes_away():
    permit = consent("c1", "hospital", categories=("lab", "mental-health"))
    deny = consent("c2", "hospital", "deny", categories=("mental-health",))
    standing = rules.standing_access([permit, deny], NOW)
    assert [(s.actor, s.category, s.consent) for s in standing] == [("hospital", "lab", "c1")]
    assert rules.denials_in_force([permit, deny], NOW) == [deny]


def test_erasure_drops_the_location_and_rehashes_the_content_hash():
    erased = rules.erase(LAB, b"0123456789abcdef", "hospital/admin", "court order", NOW, "tx5")
    assert (erased.status, erased.location) == ("entered-in-error", None)
    assert erased.content_hash != LAB.content_hash
    assert erased.erased is not None and erased.erased.legal_basis == "court order"
    with pytest.raises(ContractError, match="already erased"):
        rules.erase(erased, b"0123456789abcdef", PAT, "", NOW, "tx6")


def test_only_the_patient_or_its_org_admin_with_a_legal_basis_erases():
    admin = ClientIdentity("hospital", "admin", "admin")
    rules.check_eraser(ClientIdentity("hospital", "pat1", "client"), PAT, "")
    rules.check_eraser(admin, PAT, "court order")
    with pytest.raises(ContractError, match="must record the legal basis"):
        rules.check_eraser(admin, PAT, " ")
    with pytest.raises(ContractError, match="only the patient or an admin of its org"):
        rules.check_eraser(ClientIdentity("insurer", "admin", "admin"), PAT, "court order")


def test_a_provision_starts_now_unless_told_and_must_end_after_it_starts():
    made = rules.provision("permit", "c1", PAT, "hospital", "access,use,access", "TREAT", "lab", "", "", NOW)
    assert made.period == Period("2026-03-01T12:00:00Z") and made.actions == ("access", "use")
    with pytest.raises(ContractError, match="end 2026-01-01 is not after start 2026-03-01T12:00:00Z"):
        rules.provision("permit", "c1", PAT, "hospital", "access", "TREAT", "lab", "", "2026-01-01", NOW)
    with pytest.raises(ContractError, match="actor 'a b' must be an identity"):
        rules.provision("permit", "c1", PAT, "a b", "access", "TREAT", "lab", "", "", NOW)


def test_a_consent_is_revoked_once():
    revoked = rules.revoke(consent("c1", BOB), NOW)
    assert (revoked.status, revoked.revoked) == ("inactive", "2026-03-01T12:00:00Z")
    with pytest.raises(ContractError, match="consent c1 is already inactive"):
        rules.revoke(revoked, NOW)
