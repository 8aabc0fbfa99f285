"""The consent rules as pure functions: the access decision ladder and record/consent changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from careledger.chaincode import ClientIdentity, ContractError
from careledger.chaincode.contracts.common import Licence, Period
from careledger.chaincode.contracts.consent import rules
from careledger.chaincode.contracts.consent.records import AuditEvent, BreakGlass, Consent, RecordPointer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAT = "hospital/pat1"
BOB = "hospital/bob"
BOB_ID = ClientIdentity("hospital", "bob", "client", {"role": "practitioner"})
PAT_ID = ClientIdentity("hospital", "pat1", "client", {"role": "patient"})
LICENSED = Licence(True, "licence L-bob is valid")
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
    who: ClientIdentity = BOB_ID,
    record: RecordPointer | None = LAB,
    purpose: str = "TREAT",
    consents: list[Consent] | None = None,
    grants: list[BreakGlass] | None = None,
    licence: Licence = LICENSED,
    action: str = "access",
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
        licence=lambda: licence,
        action=action,
    )


def unlicensed() -> Licence:
    raise AssertionError("the decision must not ask for a licence")


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
    assert decide(who=PAT_ID, consents=None) == rules.Decision(
        True, "the patient reads their own record", "subject"
    )
    assert rules.decide(
        PAT_ID, PAT, "r-lab", LAB, "TREAT", NOW, break_glass=never, consents=never, licence=unlicensed
    ).granted


def test_missing_erased_record_and_unknown_purpose_are_refused_before_any_lookup():
    erased = rules.erase(LAB, b"0123456789abcdef", PAT, "", NOW, "tx1")
    for record, purpose, reason in [
        (None, "TREAT", "record r-lab of hospital/pat1 does not exist"),
        (erased, "TREAT", "record r-lab of hospital/pat1 was erased"),
        (LAB, "FUN", "purpose 'FUN' is not one of TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH"),
    ]:
        decision = rules.decide(
            BOB_ID, PAT, "r-lab", record, purpose, NOW, break_glass=never, consents=never, licence=unlicensed
        )
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


# --- issue 10: who a consent covers, licences, edits, delegates ------------------------------

ADMIN_ID = ClientIdentity("hospital", "admin", "admin")
IVY_ID = ClientIdentity("insurer", "ivy", "client", {"role": "claims-adjuster"})
HOSPITAL_ADJUSTER = ClientIdentity("hospital", "billing", "client", {"role": "claims-adjuster"})
OTHER_PATIENT = ClientIdentity("hospital", "pat2", "client", {"role": "patient"})
REVOKED = Licence(False, "licence L-bob is revoked with effect from 2026-02-01T00:00:00Z")


def test_an_org_wide_permit_covers_only_its_licensed_clinical_identities():
    org = consent("c1", "hospital", roles=("practitioner",))
    assert decide(consents=[org]).granted
    for outsider in (OTHER_PATIENT, ADMIN_ID, HOSPITAL_ADJUSTER, IVY_ID):
        decision = rules.decide(
            outsider,
            PAT,
            "r-lab",
            LAB,
            "TREAT",
            NOW,
            break_glass=never,
            consents=lambda: [org],
            licence=unlicensed,
        )
        assert decision == rules.Decision(False, f"no consent permits {outsider.id} lab access for TREAT")


def test_a_consent_of_before_issue_10_covers_an_org_s_clinical_roles_and_a_named_identity_s_any_role():
    legacy_org, legacy_named = consent("c1", "hospital"), consent("c2", IVY_ID.id)
    assert (legacy_org.roles, legacy_named.roles) == (None, None)
    assert decide(consents=[legacy_org]).granted
    assert not decide(who=OTHER_PATIENT, consents=[legacy_org]).granted
    assert not decide(who=HOSPITAL_ADJUSTER, consents=[legacy_org]).granted
    assert decide(who=IVY_ID, consents=[legacy_named]).granted


def test_a_grant_to_a_clinical_role_holds_only_with_a_licence_valid_now():
    for found in ([consent("c1", "hospital", roles=("practitioner",))], [consent("c1", BOB)]):
        assert decide(consents=found, licence=REVOKED) == rules.Decision(
            False,
            "consent c1 permits lab access for TREAT, but hospital/bob is not licensed now: "
            "licence L-bob is revoked with effect from 2026-02-01T00:00:00Z",
            "consent/c1",
        )
    never_licensed = Licence(False, "no licence has been issued to hospital/bob")
    assert decide(consents=[consent("c1", BOB)], licence=never_licensed).reason.endswith(
        "is not licensed now: no licence has been issued to hospital/bob"
    )
    grant = rules.open_break_glass(PAT, BOB, LICENSED, b"collapse", NOW, "tx9")
    assert decide(purpose="ETREAT", grants=[grant], licence=REVOKED).reason == (
        "break-glass tx9 is open, but hospital/bob is not licensed now: "
        "licence L-bob is revoked with effect from 2026-02-01T00:00:00Z"
    )


def test_a_named_claims_adjuster_needs_no_licence_and_a_deny_asks_for_none():
    named = consent("c1", IVY_ID.id, roles=("claims-adjuster",))
    assert rules.decide(
        IVY_ID,
        PAT,
        "r-lab",
        LAB,
        "TREAT",
        NOW,
        break_glass=never,
        consents=lambda: [named],
        licence=unlicensed,
    ).granted
    deny = consent("c2", "hospital", "deny")
    assert rules.decide(
        BOB_ID,
        PAT,
        "r-lab",
        LAB,
        "TREAT",
        NOW,
        break_glass=never,
        consents=lambda: [deny],
        licence=unlicensed,
    ) == rules.Decision(False, "consent c2 denies lab access for TREAT", "consent/c2")


def test_a_permit_names_the_roles_it_covers_and_an_org_wide_one_only_clinical_roles():
    made = rules.provision("permit", "c1", PAT, "hospital", "access", "TREAT", "lab", "", "", NOW)
    assert made.roles == ("practitioner",)
    named = rules.provision(
        "permit", "c2", PAT, "insurer/ivy", "access", "HPAYMT", "lab", "", "", NOW, "claims-adjuster"
    )
    assert named.roles == ("claims-adjuster",)
    assert named.to_json()["roles"] == ["claims-adjuster"]
    cases = [
        (
            "hospital",
            "claims-adjuster",
            "an organisation-wide consent to hospital may not cover role claims-adjuster: it covers only "
            "practitioner; name billing staff one by one; patients and org admins are never covered",
        ),
        (
            "hospital/pat2",
            "patient",
            "a consent to hospital/pat2 may not cover role patient: it covers only practitioner, "
            "claims-adjuster; patients and org admins are never covered",
        ),
    ]
    for actor, roles, message in cases:
        with pytest.raises(ContractError) as err:
            rules.provision("permit", "c3", PAT, actor, "access", "TREAT", "lab", "", "", NOW, roles)
        assert str(err.value) == message
    with pytest.raises(ContractError, match="a deny provision covers every identity its actor names"):
        rules.provision("deny", "c4", PAT, "hospital", "access", "TREAT", "lab", "", "", NOW, "practitioner")
    deny = rules.provision("deny", "c4", PAT, "hospital", "access", "TREAT", "lab", "", "", NOW)
    assert deny.roles is None and "roles" not in deny.to_json()


def test_an_edit_needs_a_grant_for_the_correct_action():
    reader = consent("c1", BOB)
    editor = consent("c2", BOB, actions=("correct",))
    assert decide(consents=[reader], action="correct") == rules.Decision(
        False, "no consent permits hospital/bob lab correct for TREAT"
    )
    assert decide(consents=[editor], action="correct") == rules.Decision(
        True, "consent c2 permits lab correct for TREAT", "consent/c2"
    )
    assert decide(who=PAT_ID, action="correct").reason == "the patient corrects their own record"
    grant = rules.open_break_glass(PAT, BOB, LICENSED, b"collapse", NOW, "tx9")
    assert not decide(purpose="ETREAT", grants=[grant], action="correct").granted  # break-glass reads only


def test_an_edit_moves_the_content_hash_and_shows_as_an_edit_in_the_disclosures():
    edited = rules.correct(LAB, "b" * 64, NOW)
    assert (edited.content_hash, edited.corrected) == ("b" * 64, "2026-03-01T12:00:00Z")
    with pytest.raises(ContractError, match="already has content hash"):
        rules.correct(edited, "b" * 64, NOW)
    base = AuditEvent(
        "t1", PAT, "r-lab", "lab", BOB, "TREAT", "2026-03-01T12:00:00Z", True, "ok", "consent/c1"
    )
    edit = replace(base, id="t2", action="U")
    by_delegate = replace(
        base, id="t3", agent="hospital/mum", action="R", entity="disclosures", on_behalf="GUARD"
    )
    refused = replace(base, id="t4", granted=False, action="U")
    shown = rules.disclosures([base, edit, by_delegate, refused])
    assert [(a.id, rules.disclosure_kind(a)) for a in shown] == [("t1", "read"), ("t2", "edit")]


def test_a_delegate_is_named_by_the_patient_or_an_admin_with_a_legal_basis():
    rules.check_appointer(PAT_ID, PAT, "")
    rules.check_appointer(ADMIN_ID, PAT, "minor: birth certificate 2019")
    with pytest.raises(ContractError, match="an admin must record the legal basis of a delegation"):
        rules.check_appointer(ADMIN_ID, PAT, "")
    with pytest.raises(ContractError, match="hospital/bob may not name or revoke delegates of hospital/pat1"):
        rules.check_appointer(BOB_ID, PAT, "because")
    named = rules.delegation(PAT, "hospital/mum", "GUARD", "", "", "2027-01-01", now=NOW, by=PAT)
    assert named.in_force(NOW) and named.legal_basis is None
    assert rules.require_delegate(named, "hospital/mum", PAT, NOW) == named
    for args, message in [
        ((PAT, "GUARD"), "hospital/pat1 may not be their own delegate"),
        (
            ("hospital/mum", "FRIEND"),
            "relationship 'FRIEND' is not one of GUARD, PRN, HPOWATT, POWATT (v3-RoleCode)",
        ),
        (("mum", "GUARD"), "delegate 'mum' is not an identity id of the form org/name"),
    ]:
        with pytest.raises(ContractError) as err:
            rules.delegation(PAT, args[0], args[1], "", "", "", now=NOW, by=PAT)
        assert str(err.value) == message
    revoked = rules.revoke_delegation(named, NOW)
    with pytest.raises(ContractError, match="hospital/mum's delegation for hospital/pat1 is revoked"):
        rules.require_delegate(revoked, "hospital/mum", PAT, NOW)
    with pytest.raises(ContractError, match="hospital/eve is not a delegate of hospital/pat1"):
        rules.require_delegate(None, "hospital/eve", PAT, NOW)
    with pytest.raises(ContractError, match="is already inactive"):
        rules.revoke_delegation(revoked, NOW)


def test_break_glass_refusal_names_the_licence():
    assert rules.break_glass_refusal(LICENSED) is None
    assert rules.break_glass_refusal(REVOKED) == (
        "break-glass refused: licence L-bob is revoked with effect from 2026-02-01T00:00:00Z"
    )
