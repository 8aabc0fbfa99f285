"""The treatment relationship a claim needs, as a pure rule over the consent contract's records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from careledger.chaincode.contracts.common import Period
from careledger.chaincode.contracts.consent.records import AuditEvent, BreakGlass, Consent
from careledger.chaincode.contracts.consent.relationship import treatment_relationship

BOB, PAT = "hospital/bob", "hospital/pat1"
DAY = date(2026, 3, 10)
CONSENT = Consent(
    id="c1",
    patient=PAT,
    status="active",
    provision="permit",
    actor=BOB,
    actions=("access",),
    purposes=("TREAT",),
    categories=("lab",),
    period=Period("2026-03-01T00:00:00Z"),
    recorded="2026-03-01T00:00:00Z",
)
GLASS = BreakGlass("bg1", PAT, BOB, "ETREAT", Period("2026-03-10T22:00:00Z", "2026-03-11T02:00:00Z"), "h")
ACCESS = AuditEvent(
    "tx1", PAT, "r-lab", "lab", BOB, "TREAT", "2026-03-10T09:00:00Z", True, "consent c1 permits", "consent/c1"
)


def never() -> list:
    raise AssertionError("the ladder must not read this")


def related(
    consents: list[Consent] | None = None,
    glass: list[BreakGlass] | None = None,
    audits: list[AuditEvent] | None = None,
    day: date = DAY,
) -> bool:
    return treatment_relationship(
        BOB,
        PAT,
        day,
        consents=lambda: consents or [],
        break_glass=lambda: glass or [],
        audits=lambda: audits or [],
    ).related


def test_a_treatment_consent_naming_the_practitioner_or_their_org_in_force_that_day_is_enough():
    answer = treatment_relationship(
        BOB, PAT, DAY, consents=lambda: [CONSENT], break_glass=never, audits=never
    )
    assert (
        answer.related
        and answer.reason == "consent c1 of hospital/pat1 permits hospital/bob treatment on 2026-03-10"
    )
    assert related([replace(CONSENT, actor="hospital")])
    assert related([replace(CONSENT, period=Period("2026-03-10T23:00:00Z"))])  # from late that day
    assert related(
        [replace(CONSENT, status="inactive", revoked="2026-03-10T08:00:00Z")]
    )  # revoked later that day


def test_consents_that_do_not_name_the_practitioner_for_treatment_on_the_day_are_not_enough():
    assert not related([replace(CONSENT, actor="hospital/cara")])
    assert not related([replace(CONSENT, actor="insurer")])
    assert not related([replace(CONSENT, purposes=("HPAYMT", "HRESCH"))])
    assert not related([replace(CONSENT, provision="deny")])
    assert not related([replace(CONSENT, period=Period("2026-03-11T00:00:00Z"))])
    assert not related([replace(CONSENT, period=Period("2026-01-01T00:00:00Z", "2026-03-10T00:00:00Z"))])
    assert not related([replace(CONSENT, status="inactive", revoked="2026-03-09T12:00:00Z")])
    at_once = replace(CONSENT, period=Period("2026-03-10T08:00:00Z"), revoked="2026-03-10T08:00:00Z")
    assert not related([at_once])  # revoked the moment it began: never in force


def test_a_break_glass_open_that_day_is_enough():
    assert related(glass=[GLASS])
    assert not related(glass=[replace(GLASS, practitioner="hospital/cara")])
    assert not related(glass=[GLASS], day=date(2026, 3, 12))


def test_a_granted_treatment_access_that_day_or_in_the_three_years_before_is_enough():
    answer = treatment_relationship(BOB, PAT, DAY, consents=list, break_glass=list, audits=lambda: [ACCESS])
    assert answer.related and answer.reason == "hospital/bob accessed record r-lab for treatment (tx1)"
    assert related(audits=[replace(ACCESS, recorded="2023-03-12T00:00:00Z")])
    assert not related(audits=[replace(ACCESS, recorded="2023-03-01T00:00:00Z")])  # over three years
    assert not related(audits=[replace(ACCESS, recorded="2026-03-11T00:00:00Z")])  # after the day
    assert not related(audits=[replace(ACCESS, granted=False)])
    assert not related(audits=[replace(ACCESS, purpose="HPAYMT")])
    assert not related(audits=[replace(ACCESS, agent="hospital/cara")])


def test_without_any_the_answer_names_who_whom_and_when():
    answer = treatment_relationship(BOB, PAT, DAY, consents=list, break_glass=list, audits=list)
    assert answer.related is False
    assert answer.reason == (
        "hospital/bob had no treatment relationship with hospital/pat1 on 2026-03-10: "
        "no consent, break-glass or audited access names them"
    )
