"""The consent rules: who may read a patient's record, and how records, consents and
break-glass grants may change.

Pure functions over records: no stub, no context; time comes in as the transaction's time.
The access decision is a first-match ladder: missing or erased record, unknown purpose, the
patient themselves, an open break-glass grant (emergency purpose only), a deny provision, a
permit provision, else refused. A deny overrides every permit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from careledger.chaincode import ClientIdentity, ContractError
from careledger.chaincode.contracts.common import (
    Licence,
    Period,
    is_admin,
    iso,
    parse_time,
    sha256_hex,
    split_codes,
)
from careledger.chaincode.contracts.consent.records import (
    ACTIONS,
    BREAK_GLASS_DURATION,
    BREAK_GLASS_PURPOSE,
    CONFIDENTIALITY,
    PURPOSES,
    REVIEW_OUTCOMES,
    AuditEvent,
    BreakGlass,
    Consent,
    Erasure,
    RecordPointer,
    Review,
)

_CATEGORY = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ACTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9@._-]*)?$")  # org or org/name


@dataclass(frozen=True)
class Decision:
    """An access decision, the words that explain it and what it rests on (consent, break-glass)."""

    granted: bool
    reason: str
    basis: str | None = None


@dataclass(frozen=True)
class Standing:
    """One kind of access an actor holds now under a permit that no deny overrides."""

    actor: str
    action: str
    purpose: str
    category: str
    consent: str
    until: str | None


# --- the access decision ---------------------------------------------------------------------


def covers(actor: str, who: str) -> bool:
    """Whether a provision's actor (an identity, or a whole org) covers identity or org `who`."""
    return who == actor or who.startswith(actor + "/")


def applies(consent: Consent, who: str, action: str, purpose: str, category: str, at: datetime) -> bool:
    """Whether an active provision speaks about `who` doing `action` for `purpose` on `category` at `at`."""
    return (
        consent.status == "active"
        and covers(consent.actor, who)
        and action in consent.actions
        and purpose in consent.purposes
        and category in consent.categories
        and consent.period.contains(at)
    )


def decide(
    who: str,
    patient: str,
    record_id: str,
    record: RecordPointer | None,
    purpose: str,
    at: datetime,
    *,
    break_glass: Callable[[], Iterable[BreakGlass]],
    consents: Callable[[], Iterable[Consent]],
) -> Decision:
    """May identity `who` read the patient's record for `purpose` at `at`?

    The patient's break-glass grants and consents are fetched only when the ladder reaches them,
    so that a decision that does not rest on them does not read them (nor conflict with their
    changes in the same block).
    """
    if record is None:
        return Decision(False, f"record {record_id} of {patient} does not exist")
    if record.status != "current":
        return Decision(False, f"record {record_id} of {patient} was erased")
    if purpose not in PURPOSES:
        return Decision(False, f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    if who == patient:
        return Decision(True, "the patient reads their own record", "subject")
    if purpose == BREAK_GLASS_PURPOSE:
        for grant in break_glass():
            if grant.practitioner == who and grant.period.contains(at):
                return Decision(True, f"break-glass {grant.id} is open", f"break-glass/{grant.id}")
    category = record.category
    relevant = [c for c in consents() if applies(c, who, "access", purpose, category, at)]
    for provision, granted in (("deny", False), ("permit", True)):
        for c in relevant:
            if c.provision == provision:
                verb = "permits" if granted else "denies"
                return Decision(
                    granted, f"consent {c.id} {verb} {category} access for {purpose}", f"consent/{c.id}"
                )
    return Decision(False, f"no consent permits {who} {category} access for {purpose}")


def standing_access(consents: Iterable[Consent], at: datetime) -> list[Standing]:
    """Every (actor, action, purpose, category) a permit grants at `at` and no deny takes away."""
    consents = list(consents)
    denies = [c for c in consents if c.provision == "deny"]
    return [
        Standing(c.actor, action, purpose, category, c.id, c.period.end)
        for c in consents
        if c.provision == "permit"
        for action in c.actions
        for purpose in c.purposes
        for category in c.categories
        if applies(c, c.actor, action, purpose, category, at)
        and not any(applies(d, c.actor, action, purpose, category, at) for d in denies)
    ]


def denials_in_force(consents: Iterable[Consent], at: datetime) -> list[Consent]:
    """The deny provisions active at `at`."""
    return [c for c in consents if c.provision == "deny" and c.status == "active" and c.period.contains(at)]


# --- records -----------------------------------------------------------------------------------


def category(text: str) -> str:
    """`text` if it is a record category code like 'lab' or 'mental-health'."""
    if not _CATEGORY.match(text):
        raise ContractError(f"category {text!r} is not a lowercase code like 'lab' or 'mental-health'")
    return text


def sensitivity(code: str) -> str:
    """`code` if it is a v3-Confidentiality code."""
    if code not in CONFIDENTIALITY:
        raise ContractError(
            f"sensitivity {code!r} is not a v3-Confidentiality code ({', '.join(sorted(CONFIDENTIALITY))})"
        )
    return code


def check_eraser(who: ClientIdentity, patient: str, legal_basis: str) -> None:
    """Refuse an erasure unless by the patient, or by an admin of the patient's org naming a legal basis."""
    if who.id != patient and not (is_admin(who) and covers(who.org, patient)):
        raise ContractError(
            f"{who.id} may not erase records of {patient}: only the patient or an admin of its org"
        )
    if who.id != patient and not legal_basis.strip():
        raise ContractError("an admin must record the legal basis of an erasure")


def erase(
    record: RecordPointer, salt: bytes, by: str, legal_basis: str, now: datetime, tx_id: str
) -> RecordPointer:
    """The record's tombstone (GDPR Art. 17): no location, and the content hash rehashed with a
    salt the ledger never stores, so it cannot be linked to the document."""
    if record.status == "entered-in-error":
        raise ContractError(f"record {record.id} of {record.patient} is already erased")
    return replace(
        record,
        status="entered-in-error",
        location=None,
        content_hash=sha256_hex(salt, record.content_hash),
        erased=Erasure(iso(now), by, legal_basis or "request of the data subject", tx_id),
    )


# --- consents ----------------------------------------------------------------------------------


def provision(
    kind: str,
    consent_id: str,
    patient: str,
    actor: str,
    actions: str,
    purposes: str,
    categories: str,
    start: str,
    end: str,
    now: datetime,
) -> Consent:
    """A new active permit or deny provision; lists are comma-separated, an empty start is now,
    an empty end is permanent."""
    if not _ACTOR.match(actor):
        raise ContractError(f"actor {actor!r} must be an identity (org/name) or an org")
    begins = parse_time(start, "start") if start else now
    if end and parse_time(end, "end") <= begins:
        raise ContractError(f"end {end} is not after start {iso(begins)}")
    return Consent(
        id=consent_id,
        patient=patient,
        status="active",
        provision=kind,
        actor=actor,
        actions=tuple(split_codes(actions, "actions", ACTIONS)),
        purposes=tuple(split_codes(purposes, "purposes", PURPOSES)),
        categories=tuple(category(c) for c in split_codes(categories, "categories")),
        period=Period(iso(begins), iso(parse_time(end, "end")) if end else None),
        recorded=iso(now),
    )


def revoke(consent: Consent, now: datetime) -> Consent:
    """The consent made inactive from `now` on."""
    if consent.status != "active":
        raise ContractError(f"consent {consent.id} is already {consent.status}")
    return replace(consent, status="inactive", revoked=iso(now))


# --- break-glass and audit -------------------------------------------------------------------


def open_break_glass(
    patient: str, practitioner: str, licence: Licence, reason: bytes, now: datetime, tx_id: str
) -> BreakGlass:
    """A 4-hour emergency grant for a practitioner whose licence is valid now; only the reason's
    hash (salted with the tx id) reaches the ledger."""
    if not licence.valid:
        raise ContractError(f"break-glass refused: {licence.reason}")
    return BreakGlass(
        id=tx_id,
        patient=patient,
        practitioner=practitioner,
        purpose=BREAK_GLASS_PURPOSE,
        period=Period(iso(now), iso(now + BREAK_GLASS_DURATION)),
        reason_hash=sha256_hex(tx_id, reason),
    )


def close_review(review: Review, outcome: str, reviewer: str, now: datetime) -> Review:
    """The break-glass review closed as justified or unjustified."""
    if review.review != "pending":
        raise ContractError(f"break-glass use {review.grant.id} was already reviewed: {review.review}")
    return replace(review, review=outcome, reviewed=iso(now), reviewer=reviewer)


def check_outcome(outcome: str) -> str:
    """`outcome` if it is a review outcome."""
    if outcome not in REVIEW_OUTCOMES:
        raise ContractError(f"review outcome {outcome!r} is not one of {', '.join(REVIEW_OUTCOMES)}")
    return outcome


def audits_between(audits: Iterable[AuditEvent], start: str, end: str) -> list[AuditEvent]:
    """The audit events recorded in [start, end), oldest first."""
    since, until = parse_time(start, "start"), parse_time(end, "end")
    found = [a for a in audits if since <= parse_time(a.recorded, "recorded") < until]
    return sorted(found, key=lambda a: (a.recorded, a.id))


def disclosures(audits: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The granted accesses by anyone but the patient: what HIPAA 164.528 asks to account for."""
    return [a for a in audits if a.granted and a.agent != a.patient]
