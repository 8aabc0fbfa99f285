"""Whether a practitioner had a treatment relationship with a patient on a date of service.

A pure rule over the consent contract's records (no stub, no context), asked by the claims
contract before it pays a practitioner for a patient's care. A first-match ladder, each step read
only when the one before found nothing, so the claim's read set stays narrow:

1. a permit consent for treatment (TREAT or ETREAT) naming the practitioner or their org (and,
   since issue 10, the practitioner role), in force
   at some moment of the day (a consent revoked later still counts for the days before);
2. a break-glass grant of the practitioner open at some moment of the day;
3. a granted access by the practitioner to the patient's records for treatment, recorded on the day
   or in the three years before it (the CPT rule for an established patient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from careledger.chaincode.contracts.common import Period, parse_time
from careledger.chaincode.contracts.consent.records import PRACTITIONER, AuditEvent, BreakGlass, Consent

TREATMENT_PURPOSES = ("TREAT", "ETREAT")
ESTABLISHED_PATIENT = timedelta(days=3 * 365 + 1)


@dataclass(frozen=True)
class Relationship:
    """The answer: whether there was a relationship, and the words that say what it rests on."""

    related: bool
    reason: str


def treatment_relationship(
    practitioner: str,
    patient: str,
    day: date,
    *,
    consents: Callable[[], Iterable[Consent]],
    break_glass: Callable[[], Iterable[BreakGlass]],
    audits: Callable[[], Iterable[AuditEvent]],
) -> Relationship:
    """Did `practitioner` have a treatment relationship with `patient` on `day`?"""
    begins = datetime(day.year, day.month, day.day, tzinfo=UTC)
    ends = begins + timedelta(days=1)
    for c in consents():
        if (
            c.provision == "permit"
            and _names(c.actor, practitioner)
            and (c.roles is None or PRACTITIONER in c.roles)
            and set(c.purposes) & set(TREATMENT_PURPOSES)
            and _overlaps(c.period, begins, ends, revoked=c.revoked)
        ):
            return Relationship(True, f"consent {c.id} of {patient} permits {c.actor} treatment on {day}")
    for grant in break_glass():
        if grant.practitioner == practitioner and _overlaps(grant.period, begins, ends):
            return Relationship(True, f"break-glass {grant.id} was open for {practitioner} on {day}")
    since = begins - ESTABLISHED_PATIENT
    for a in audits():
        if (
            a.granted
            and a.agent == practitioner
            and a.purpose in TREATMENT_PURPOSES
            and since <= parse_time(a.recorded, "recorded") < ends
        ):
            return Relationship(True, f"{practitioner} accessed record {a.record} for treatment ({a.id})")
    return Relationship(
        False,
        f"{practitioner} had no treatment relationship with {patient} on {day}: "
        "no consent, break-glass or audited access names them",
    )


def _names(actor: str, practitioner: str) -> bool:
    """Whether a consent's actor (an identity, or a whole org) covers the practitioner."""
    return practitioner == actor or practitioner.startswith(actor + "/")


def _overlaps(period: Period, begins: datetime, ends: datetime, *, revoked: str | None = None) -> bool:
    """Whether the period, cut short by a revocation, and [begins, ends) share a moment."""
    starts = parse_time(period.start, "start")
    stops = [parse_time(at, "end") for at in (period.end, revoked) if at is not None]
    return starts < ends and all(stop > max(starts, begins) for stop in stops)
