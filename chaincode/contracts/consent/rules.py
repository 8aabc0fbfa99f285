"""The consent rules: who may read a patient's record, and how records, consents and
break-glass grants may change.

Pure functions over records: no stub, no context; time comes in as the transaction's time.
The access decision is a first-match ladder: missing or erased record, unknown purpose, the
patient themselves, an open break-glass grant (emergency purpose only), a deny provision, a
permit provision covering the caller's role, else refused. A deny overrides every permit. A grant
to a clinical role holds only with a licence valid at the transaction's time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from careledger.chaincode import ClientIdentity, ContractError
from careledger.chaincode.contracts.common import (
    ROLE_ATTRIBUTE,
    Licence,
    Period,
    is_admin,
    iso,
    parse_time,
    require_identity_id,
    sha256_hex,
    split_codes,
)
from careledger.chaincode.contracts.consent.records import (
    ACTIONS,
    BREAK_GLASS_DURATION,
    BREAK_GLASS_PURPOSE,
    CLINICAL_ROLES,
    CONFIDENTIALITY,
    DELEGATE_RELATIONSHIPS,
    GRANTEE_ROLES,
    PATIENT,
    PRACTITIONER,
    PURPOSES,
    READ,
    REVIEW_OUTCOMES,
    UPDATE,
    AuditEvent,
    BreakGlass,
    Consent,
    Delegation,
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
    roles: list[str] | None


# --- the access decision ---------------------------------------------------------------------


def covers(actor: str, who: str) -> bool:
    """Whether a provision's actor (an identity, or a whole org) names identity or org `who`."""
    return who == actor or who.startswith(actor + "/")


def role_of(who: ClientIdentity) -> str:
    """The caller's healthcare role (certificate attribute `role`), "" when it has none."""
    return who.get_attribute(ROLE_ATTRIBUTE) or ""


def covered_roles(consent: Consent) -> tuple[str, ...] | None:
    """The roles a permit covers; None: any role of the one identity it names (a permit naming
    one identity, written before issue 10). An org-wide permit of before covers clinical roles."""
    if consent.roles is not None:
        return consent.roles
    return CLINICAL_ROLES if consent.org_wide else None


def permit_covers(consent: Consent, who: ClientIdentity) -> bool:
    """Whether a permit covers the caller: named by its actor, never a patient nor an org admin,
    and of a role the permit names (an org-wide one: only clinical roles)."""
    if not covers(consent.actor, who.id) or is_admin(who):
        return False
    role = role_of(who)
    if role == PATIENT:
        return False
    roles = covered_roles(consent)
    if consent.org_wide:
        return role in CLINICAL_ROLES and roles is not None and role in roles
    return roles is None or role in roles


def applies(consent: Consent, who: str, action: str, purpose: str, category: str, at: datetime) -> bool:
    """Whether an active provision names `who` (identity or org) doing `action` for `purpose` on
    `category` at `at`; for a permit, whether its actor does (permit_covers judges the caller)."""
    return (
        consent.status == "active"
        and covers(consent.actor, who)
        and action in consent.actions
        and purpose in consent.purposes
        and category in consent.categories
        and consent.period.contains(at)
    )


def decide(
    who: ClientIdentity,
    patient: str,
    record_id: str,
    record: RecordPointer | None,
    purpose: str,
    at: datetime,
    *,
    break_glass: Callable[[], Iterable[BreakGlass]],
    consents: Callable[[], Iterable[Consent]],
    licence: Callable[[], Licence],
    action: str = "access",
) -> Decision:
    """May the caller `action` ("access" or "correct") the patient's record for `purpose` at `at`?

    A first-match ladder: missing or erased record, unknown purpose, the patient themselves, an
    open break-glass grant (emergency access only), a deny naming the caller, a permit covering
    the caller (permit_covers), else refused. A grant found for a clinical role holds only with a
    licence valid at `at`. The patient's grants, consents and the licence are fetched only when
    the ladder reaches them, so that a decision that does not rest on them does not read them (nor
    conflict with their changes in the same block).
    """
    if record is None:
        return Decision(False, f"record {record_id} of {patient} does not exist")
    if record.status != "current":
        return Decision(False, f"record {record_id} of {patient} was erased")
    if purpose not in PURPOSES:
        return Decision(False, f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    if who.id == patient:
        verb = "reads" if action == "access" else "corrects"
        return Decision(True, f"the patient {verb} their own record", "subject")
    if purpose == BREAK_GLASS_PURPOSE and action == "access":
        for grant in break_glass():
            if grant.practitioner == who.id and grant.period.contains(at):
                return _licensed(who, licence, f"break-glass {grant.id} is open", f"break-glass/{grant.id}")
    category = record.category
    relevant = [c for c in consents() if applies(c, who.id, action, purpose, category, at)]
    for c in relevant:
        if c.provision == "deny":
            return Decision(
                False, f"consent {c.id} denies {category} {action} for {purpose}", f"consent/{c.id}"
            )
    for c in relevant:
        if c.provision == "permit" and permit_covers(c, who):
            return _licensed(
                who, licence, f"consent {c.id} permits {category} {action} for {purpose}", f"consent/{c.id}"
            )
    return Decision(False, f"no consent permits {who.id} {category} {action} for {purpose}")


def _licensed(who: ClientIdentity, licence: Callable[[], Licence], reason: str, basis: str) -> Decision:
    """The grant, if the caller needs no licence or holds one valid now; else refused naming it."""
    if role_of(who) not in CLINICAL_ROLES:
        return Decision(True, reason, basis)
    held = licence()
    if held.valid:
        return Decision(True, reason, basis)
    return Decision(False, f"{reason}, but {who.id} is not licensed now: {held.reason}", basis)


def standing_access(consents: Iterable[Consent], at: datetime) -> list[Standing]:
    """Every (actor, action, purpose, category) a permit grants at `at` and no deny takes away."""
    consents = list(consents)
    denies = [c for c in consents if c.provision == "deny"]
    return [
        Standing(c.actor, action, purpose, category, c.id, c.period.end, _listed(covered_roles(c)))
        for c in consents
        if c.provision == "permit"
        for action in c.actions
        for purpose in c.purposes
        for category in c.categories
        if applies(c, c.actor, action, purpose, category, at)
        and not any(applies(d, c.actor, action, purpose, category, at) for d in denies)
    ]


def _listed(roles: tuple[str, ...] | None) -> list[str] | None:
    return None if roles is None else list(roles)


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
    roles: str = "",
    by: str | None = None,
) -> Consent:
    """A new active permit or deny provision; lists are comma-separated, an empty start is now,
    an empty end is permanent. A permit names the roles it covers (empty: practitioner): an
    org-wide one only clinical roles, one naming an identity also a claims adjuster. A deny names
    no roles: it covers everyone its actor names. `by` is the delegate recording it, if not the
    patient."""
    if not _ACTOR.match(actor):
        raise ContractError(f"actor {actor!r} must be an identity (org/name) or an org")
    covered = grant_roles(actor, roles) if kind == "permit" else None
    if kind != "permit" and roles.strip():
        raise ContractError("a deny provision covers every identity its actor names; it takes no roles")
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
        roles=covered,
        by=by,
    )


def grant_roles(actor: str, roles: str) -> tuple[str, ...]:
    """The roles a permit for `actor` covers: `roles` (comma-separated; empty: practitioner),
    only clinical ones when the actor is a whole organisation."""
    org_wide = "/" not in actor
    allowed = CLINICAL_ROLES if org_wide else GRANTEE_ROLES
    named = tuple(split_codes(roles, "roles")) if roles.strip() else (PRACTITIONER,)
    refused = [role for role in named if role not in allowed]
    if refused:
        who = f"an organisation-wide consent to {actor}" if org_wide else f"a consent to {actor}"
        raise ContractError(
            f"{who} may not cover role {', '.join(refused)}: it covers only {', '.join(allowed)}"
            + ("; name billing staff one by one" if org_wide else "")
            + "; patients and org admins are never covered"
        )
    return named


def revoke(consent: Consent, now: datetime) -> Consent:
    """The consent made inactive from `now` on."""
    if consent.status != "active":
        raise ContractError(f"consent {consent.id} is already {consent.status}")
    return replace(consent, status="inactive", revoked=iso(now))


# --- break-glass and audit -------------------------------------------------------------------


def break_glass_refusal(licence: Licence) -> str | None:
    """Why a practitioner may not break the glass now (their licence), or None if they may."""
    return None if licence.valid else f"break-glass refused: {licence.reason}"


def open_break_glass(
    patient: str, practitioner: str, licence: Licence, reason: bytes, now: datetime, tx_id: str
) -> BreakGlass:
    """A 4-hour emergency grant for a practitioner whose licence is valid now; only the reason's
    hash (salted with the tx id) reaches the ledger."""
    refusal = break_glass_refusal(licence)
    if refusal is not None:
        raise ContractError(refusal)
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
    """The granted reads and edits of records by anyone but the patient: what HIPAA 164.528 asks
    to account for (a delegate's acts for the patient are in the audit trail, not here)."""
    return [
        a
        for a in audits
        if a.granted and a.agent != a.patient and a.entity is None and a.act in (READ, UPDATE)
    ]


def disclosure_kind(audit: AuditEvent) -> str:
    """How the accounting of disclosures names an event: a read or an edit."""
    return "edit" if audit.act == UPDATE else "read"


# --- edits -------------------------------------------------------------------------------------


def correct(record: RecordPointer, content_hash: str, now: datetime) -> RecordPointer:
    """The record after an edit: the ledger's content hash follows the stored document."""
    if content_hash == record.content_hash:
        raise ContractError(
            f"record {record.id} of {record.patient} already has content hash {content_hash}; an edit "
            "changes the document"
        )
    return replace(record, content_hash=content_hash, corrected=iso(now))


# --- delegates ---------------------------------------------------------------------------------


def check_appointer(who: ClientIdentity, patient: str, legal_basis: str) -> None:
    """Refuse naming or revoking a delegate unless by the patient, or by an admin of the patient's
    org naming the legal basis (a minor's guardian, a court-appointed one for incapacity)."""
    if who.id != patient and not (is_admin(who) and covers(who.org, patient)):
        raise ContractError(
            f"{who.id} may not name or revoke delegates of {patient}: only the patient or an admin of its org"
        )
    if who.id != patient and not legal_basis.strip():
        raise ContractError(
            "an admin must record the legal basis of a delegation (e.g. minor, incapacity, court order)"
        )


def delegation(
    patient: str,
    delegate: str,
    relationship: str,
    legal_basis: str,
    start: str,
    end: str,
    *,
    now: datetime,
    by: str,
) -> Delegation:
    """A new delegation of the patient's consents and disclosures to another identity."""
    require_identity_id(delegate, "delegate")
    if delegate == patient:
        raise ContractError(f"{patient} may not be their own delegate")
    if relationship not in DELEGATE_RELATIONSHIPS:
        raise ContractError(
            f"relationship {relationship!r} is not one of {', '.join(DELEGATE_RELATIONSHIPS)} (v3-RoleCode)"
        )
    begins = parse_time(start, "start") if start else now
    if end and parse_time(end, "end") <= begins:
        raise ContractError(f"end {end} is not after start {iso(begins)}")
    return Delegation(
        patient=patient,
        delegate=delegate,
        relationship=relationship,
        status="active",
        period=Period(iso(begins), iso(parse_time(end, "end")) if end else None),
        recorded=iso(now),
        by=by,
        legal_basis=legal_basis.strip() or None,
    )


def require_delegate(found: Delegation | None, who: str, patient: str, at: datetime) -> Delegation:
    """The delegation that lets `who` act for `patient` at `at`, or a refusal naming why not."""
    if found is None:
        raise ContractError(
            f"{who} is not a delegate of {patient}: the patient or an admin of its org names delegates"
        )
    if not found.in_force(at):
        state = "revoked" if found.status != "active" else "not in force at this time"
        raise ContractError(f"{who}'s delegation for {patient} is {state}")
    return found


def revoke_delegation(found: Delegation, now: datetime) -> Delegation:
    """The delegation ended from `now` on."""
    if found.status != "active":
        raise ContractError(
            f"the delegation of {found.patient} to {found.delegate} is already {found.status}"
        )
    return replace(found, status="inactive", revoked=iso(now))
