"""The consent contract: record pointers, FHIR Consent provisions, audited access and break-glass.

Records live off the ledger, encrypted with a per-record key; the ledger holds the pointer, a salted
content hash and the rules. Every access decision is a transaction that writes an AuditEvent under
(patient, tx id) before the caller learns where the record is, so the trail cannot be skipped; a
refusal is audited too and therefore returned, not raised (raising would roll the audit back).
The rules are in rules.py; this class checks the caller and moves records.
"""

from __future__ import annotations

from dataclasses import asdict

from careledger.chaincode import ClientIdentity, Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.contracts.common import (
    JsonObject,
    changed,
    find,
    is_admin,
    iso,
    key,
    licence,
    list_page,
    load,
    page_records,
    parse_time,
    require_digest,
    require_id,
    require_identity_id,
    require_new_id,
    require_role,
    require_salt,
    scan,
    store,
    transient,
    tx_time,
)
from careledger.chaincode.contracts.consent import fhir, relationship, rules
from careledger.chaincode.contracts.consent.records import (
    BREAK_GLASS_PURPOSE,
    CREATE,
    DELEGATE_RELATIONSHIPS,
    EXECUTE,
    PATIENT,
    PRACTITIONER,
    READ,
    UPDATE,
    AuditEvent,
    BreakGlass,
    Consent,
    Delegation,
    Patient,
    RecordPointer,
    Review,
)
from careledger.chaincode.paging import Page


class ConsentContract(Contract):
    """Patients register records and consents; everyone else reads records only through here."""

    name = "consent"

    # --- patients and records --------------------------------------------------------------

    @submit
    def register_patient(self, ctx: Context) -> JsonObject:
        """Make the calling patient identity the subject of its own records and consents."""
        who = require_role(ctx, PATIENT)
        state_key = key(ctx, "patient", who.id)
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"patient {who.id} is already registered")
        return changed(ctx, state_key, Patient(who.id, "active", iso(tx_time(ctx))), "PatientRegistered")

    @submit
    def register_record(self, ctx: Context, record_id: str, category: str, sensitivity: str) -> JsonObject:
        """Register a pointer to an encrypted off-ledger record; transient `location` and
        `content_hash` (the client's salted SHA-256) keep them out of the arguments."""
        who = _patient(ctx)
        state_key = key(ctx, "record", who.id, require_new_id(record_id, "record_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"record {record_id} of {who.id} is already registered")
        record = RecordPointer(
            id=record_id,
            patient=who.id,
            sensitivity=rules.sensitivity(sensitivity),
            category=rules.category(category),
            location=transient(ctx, "location").decode("utf-8"),
            content_hash=require_digest(transient(ctx, "content_hash").decode("utf-8"), "content_hash"),
            status="current",
            registered=iso(tx_time(ctx)),
        )
        return changed(ctx, state_key, record, "RecordRegistered")

    @evaluate
    def patient_records(self, ctx: Context, page_size: str = "", bookmark: str = "") -> JsonObject:
        """The calling patient's record pointers, erased ones included as tombstones, a page at a
        time: {items, bookmark (of the next page, "" after the last), fetched}."""
        found = list_page(ctx, "record", _patient(ctx).id, page_size=page_size, bookmark=bookmark)
        return found.answer([r.to_json() for r in page_records(found, RecordPointer)])

    @submit
    def erase_record(self, ctx: Context, patient: str, record_id: str, legal_basis: str = "") -> JsonObject:
        """Erase a record (GDPR Art. 17): the patient, or an admin of the patient's org naming a
        legal basis. The pointer goes, the content hash becomes sha256(salt, hash) with a transient
        `salt` the ledger never stores, so the tombstone cannot be linked to the document."""
        who = ctx.client_identity
        rules.check_eraser(who, patient, legal_basis)
        salt = require_salt(transient(ctx, "salt"))
        state_key = key(ctx, "record", patient, record_id)
        record = load(ctx, state_key, RecordPointer, f"record {record_id} of {patient} does not exist")
        erased = rules.erase(record, salt, who.id, legal_basis, tx_time(ctx), ctx.stub.tx_id)
        return changed(ctx, state_key, erased, "RecordErased")

    # --- consents --------------------------------------------------------------------------

    @submit
    def grant_consent(
        self,
        ctx: Context,
        consent_id: str,
        actor: str,
        actions: str,
        purposes: str,
        categories: str,
        start: str = "",
        end: str = "",
        roles: str = "",
    ) -> JsonObject:
        """Permit `actor` (org/name, or a whole org) the actions for the purposes on the record
        categories; lists are comma-separated, an empty start is now, an empty end is permanent.
        `roles` are the certificate roles the permit covers (FHIR provision.actor.role; empty:
        practitioner): an org-wide permit covers only clinical roles, and each identity it covers
        needs a licence valid at the access; a claims adjuster must be named one by one."""
        who = _patient(ctx)
        return _provision(
            ctx, who.id, "permit", consent_id, actor, actions, purposes, categories, start, end, roles
        )

    @submit
    def deny_consent(
        self,
        ctx: Context,
        consent_id: str,
        actor: str,
        actions: str,
        purposes: str,
        categories: str,
        start: str = "",
        end: str = "",
    ) -> JsonObject:
        """Deny what grant_consent would permit; a deny provision overrides every permit and covers
        every identity its actor names, whatever their role."""
        who = _patient(ctx)
        return _provision(ctx, who.id, "deny", consent_id, actor, actions, purposes, categories, start, end)

    @submit
    def revoke_consent(self, ctx: Context, consent_id: str) -> JsonObject:
        """Make the patient's consent inactive from now on; its history stays."""
        return _revoke(ctx, _patient(ctx).id, consent_id)

    @evaluate
    def patient_consents(self, ctx: Context, page_size: str = "", bookmark: str = "") -> JsonObject:
        """The calling patient's consents, inactive ones included, a page at a time."""
        found = list_page(ctx, "consent", _patient(ctx).id, page_size=page_size, bookmark=bookmark)
        return found.answer([c.to_json() for c in page_records(found, Consent)])

    @evaluate
    def consent_fhir(self, ctx: Context, consent_id: str) -> JsonObject:
        """One of the calling patient's consents as a FHIR R4 Consent."""
        who = _patient(ctx)
        missing = f"consent {consent_id} of {who.id} does not exist"
        return fhir.consent(load(ctx, key(ctx, "consent", who.id, consent_id), Consent, missing))

    @evaluate
    def access_summary(self, ctx: Context) -> JsonObject:
        """Who may access which categories of the calling patient now, for what, until when."""
        who = _patient(ctx)
        now = tx_time(ctx)
        consents = scan(ctx, "consent", who.id, kind=Consent)
        grants = scan(ctx, "break-glass", who.id, kind=BreakGlass)
        return {
            "at": iso(now),
            "access": [asdict(standing) for standing in rules.standing_access(consents, now)],
            "denied": [c.to_json() for c in rules.denials_in_force(consents, now)],
            "break_glass": [g.to_json() for g in grants if g.period.contains(now)],
        }

    # --- access and its audit trail --------------------------------------------------------

    @submit
    def access_record(self, ctx: Context, patient: str, record_id: str, purpose: str) -> JsonObject:
        """Decide whether the caller may read the record now for `purpose`, audit the decision,
        and only if granted return the pointer and content hash needed to fetch it."""
        record, decision = _decide(ctx, patient, record_id, purpose, "access")
        audit = _audit(ctx, patient, record_id, record, purpose, decision, READ)
        changed(
            ctx,
            _new_audit_key(ctx, audit),
            audit,
            "RecordAccessed" if decision.granted else "RecordAccessRefused",
        )
        answer = {"granted": decision.granted, "reason": decision.reason, "audit_event": audit.id}
        if decision.granted and record is not None:
            answer |= {
                "record_id": record_id,
                "location": record.location,
                "content_hash": record.content_hash,
            }
        return answer

    @submit
    def correct_record(self, ctx: Context, patient: str, record_id: str, purpose: str) -> JsonObject:
        """Edit a record: with a grant for the `correct` action (or as the patient), the ledger's
        content hash becomes the transient `content_hash` (the salted SHA-256 of the new document,
        salted as the record store's Get gave it) and an AuditEvent with action U records the edit,
        all in this transaction; the record store then takes the new document under its tx id.
        A refusal is audited and committed too, and changes nothing else."""
        content_hash = require_digest(transient(ctx, "content_hash").decode("utf-8"), "content_hash")
        record, decision = _decide(ctx, patient, record_id, purpose, "correct")
        audit = _audit(ctx, patient, record_id, record, purpose, decision, UPDATE)
        audit_key = _new_audit_key(ctx, audit)
        answer = {"granted": decision.granted, "reason": decision.reason, "audit_event": audit.id}
        if decision.granted and record is not None:
            corrected = rules.correct(record, content_hash, tx_time(ctx))
            store(ctx, key(ctx, "record", patient, record_id), corrected)
            answer |= {"record_id": record_id, "content_hash": corrected.content_hash}
        changed(ctx, audit_key, audit, "RecordCorrected" if decision.granted else "RecordCorrectionRefused")
        return answer

    @evaluate
    def check_access(
        self, ctx: Context, patient: str, record_id: str, purpose: str, action: str = "access"
    ) -> JsonObject:
        """Would access_record (or correct_record, with action `correct`) grant the caller this
        record now? Read-only and not audited: the record store asks it before each read and edit,
        so a consent revoked or a licence lost since the audited transaction stops it; granted, it
        gives the ledger's content hash now, which the store checks the document against."""
        if action not in ("access", "correct"):
            raise ContractError(f"action {action!r} is not one of access, correct")
        record, decision = _decide(ctx, patient, record_id, purpose, action)
        answer: JsonObject = {"granted": decision.granted, "reason": decision.reason}
        if decision.granted and record is not None:
            answer["content_hash"] = record.content_hash
        return answer

    @evaluate
    def treatment_relationship(self, ctx: Context, patient: str, day: str) -> JsonObject:
        """Did the calling practitioner have a treatment relationship with `patient` on `day`
        (YYYY-MM-DD): a treatment consent naming them, their break-glass, or their audited access?
        The claims contract asks it before paying for the day's services (see relationship.py)."""
        who = require_role(ctx, PRACTITIONER)
        served = parse_time(day, "day").date()
        answer = relationship.treatment_relationship(
            who.id,
            patient,
            served,
            consents=lambda: scan(ctx, "consent", patient, kind=Consent),
            break_glass=lambda: scan(ctx, "break-glass", patient, kind=BreakGlass),
            audits=lambda: scan(ctx, "audit", patient, kind=AuditEvent),
        )
        return {"related": answer.related, "reason": answer.reason}

    @evaluate
    def disclosures(
        self, ctx: Context, start: str, end: str, page_size: str = "", bookmark: str = ""
    ) -> JsonObject:
        """The calling patient's accounting of disclosures in [start, end) (HIPAA 164.528):
        date, recipient, what and purpose of every granted access by someone else. A page covers
        page_size audit events in key (tx id) order and answers the disclosures among them, by
        date: fewer items than page_size, maybe none, while the bookmark goes on."""
        patient = require_role(ctx, PATIENT).id
        found = list_page(ctx, "audit", patient, page_size=page_size, bookmark=bookmark)
        return found.answer(_disclosures(_audits_in(found, start, end)))

    @evaluate
    def audit_events_fhir(
        self, ctx: Context, start: str, end: str, page_size: str = "", bookmark: str = ""
    ) -> JsonObject:
        """The calling patient's audit trail in [start, end) as a Bundle of FHIR R4 AuditEvents,
        paged as disclosures is: while more audit events follow, the Bundle's link `next` has the
        url `?bookmark=B`, the bookmark to ask for the next page with."""
        patient = require_role(ctx, PATIENT).id
        found = list_page(ctx, "audit", patient, page_size=page_size, bookmark=bookmark)
        return fhir.audit_trail(_audits_in(found, start, end), found.bookmark)

    # --- delegates: guardians and powers of attorney -------------------------------------

    @submit
    def name_delegate(
        self,
        ctx: Context,
        patient: str,
        delegate: str,
        relationship: str,
        legal_basis: str = "",
        start: str = "",
        end: str = "",
    ) -> JsonObject:
        """Let `delegate` (org/name) manage the patient's consents and read their disclosures, as
        `relationship` (v3-RoleCode GUARD, PRN, HPOWATT, POWATT): named by the patient, or by an
        admin of the patient's org recording the legal basis (a minor, incapacity, a court order)."""
        who = ctx.client_identity
        rules.check_appointer(who, patient, legal_basis)
        load(ctx, key(ctx, "patient", patient), Patient, f"patient {patient} is not registered")
        state_key = key(ctx, "delegate", patient, require_identity_id(delegate, "delegate"))
        current = find(ctx, state_key, Delegation)
        if current is not None and current.status == "active":
            raise ContractError(f"{delegate} is already a delegate of {patient}")
        named = rules.delegation(
            patient, delegate, relationship, legal_basis, start, end, now=tx_time(ctx), by=who.id
        )
        return changed(ctx, state_key, named, "DelegateNamed")

    @submit
    def revoke_delegate(self, ctx: Context, patient: str, delegate: str, legal_basis: str = "") -> JsonObject:
        """End a delegation from now on: the patient, or an admin of its org naming the legal basis."""
        rules.check_appointer(ctx.client_identity, patient, legal_basis)
        state_key = key(ctx, "delegate", patient, require_identity_id(delegate, "delegate"))
        found = load(ctx, state_key, Delegation, f"{delegate} is not a delegate of {patient}")
        return changed(ctx, state_key, rules.revoke_delegation(found, tx_time(ctx)), "DelegateRevoked")

    @evaluate
    def patient_delegates(self, ctx: Context, page_size: str = "", bookmark: str = "") -> JsonObject:
        """The calling patient's delegates, revoked ones included, a page at a time."""
        found = list_page(ctx, "delegate", _patient(ctx).id, page_size=page_size, bookmark=bookmark)
        return found.answer([d.to_json() for d in page_records(found, Delegation)])

    @submit
    def grant_consent_for(
        self,
        ctx: Context,
        patient: str,
        consent_id: str,
        actor: str,
        actions: str,
        purposes: str,
        categories: str,
        start: str = "",
        end: str = "",
        roles: str = "",
    ) -> JsonObject:
        """grant_consent by the patient's delegate, for the patient; the consent records who made
        it and the patient's audit trail an AuditEvent (action C) on behalf of the patient."""
        acting = _delegate(ctx, patient)
        made = _provision(
            ctx,
            patient,
            "permit",
            consent_id,
            actor,
            actions,
            purposes,
            categories,
            start,
            end,
            roles,
            acting,
        )
        _audit_delegate(ctx, acting, consent_id, CREATE, "consent", f"granted consent {consent_id}")
        return made

    @submit
    def deny_consent_for(
        self,
        ctx: Context,
        patient: str,
        consent_id: str,
        actor: str,
        actions: str,
        purposes: str,
        categories: str,
        start: str = "",
        end: str = "",
    ) -> JsonObject:
        """deny_consent by the patient's delegate, audited on behalf of the patient."""
        acting = _delegate(ctx, patient)
        made = _provision(
            ctx, patient, "deny", consent_id, actor, actions, purposes, categories, start, end, "", acting
        )
        _audit_delegate(ctx, acting, consent_id, CREATE, "consent", f"denied by consent {consent_id}")
        return made

    @submit
    def revoke_consent_for(self, ctx: Context, patient: str, consent_id: str) -> JsonObject:
        """revoke_consent by the patient's delegate, audited on behalf of the patient."""
        acting = _delegate(ctx, patient)
        revoked = _revoke(ctx, patient, consent_id)
        _audit_delegate(ctx, acting, consent_id, UPDATE, "consent", f"revoked consent {consent_id}")
        return revoked

    @submit
    def disclosures_for(
        self, ctx: Context, patient: str, start: str, end: str, page_size: str = "", bookmark: str = ""
    ) -> JsonObject:
        """The patient's accounting of disclosures in [start, end), for their delegate, paged as
        disclosures is: a transaction, so that the patient's trail records each page's read
        (action R) on their behalf."""
        acting = _delegate(ctx, patient)
        found = list_page(ctx, "audit", patient, page_size=page_size, bookmark=bookmark)
        answer = found.answer(_disclosures(_audits_in(found, start, end)))
        audit = _audit_delegate(
            ctx, acting, "*", READ, "disclosures", f"read the disclosures {start} to {end}"
        )
        ctx.stub.set_event("DelegateReadDisclosures", audit.to_json())
        return answer

    # --- break-glass -----------------------------------------------------------------------

    @submit
    def break_glass(self, ctx: Context, patient: str) -> JsonObject:
        """Emergency access to all of a patient's records for 4 hours, for a practitioner whose
        licence verifies now; the reason travels as transient `reason` (kept off-ledger by the
        practitioner's org, hashed here) and a review item waits for that org's admin. Opened or
        refused (no valid licence), it is audited in the patient's trail and announced with an
        event naming the patient (BreakGlassOpened, BreakGlassRefused); a refusal is committed,
        answering {granted: false, reason, audit_event}."""
        who = require_role(ctx, PRACTITIONER)
        load(ctx, key(ctx, "patient", patient), Patient, f"patient {patient} is not registered")
        reason = transient(ctx, "reason")
        now = tx_time(ctx)
        held = licence(ctx, who.id, iso(now))
        refusal = rules.break_glass_refusal(held)
        if refusal is not None:
            decision = rules.Decision(False, refusal)
            audit = _audit(ctx, patient, "*", None, BREAK_GLASS_PURPOSE, decision, EXECUTE, entity="patient")
            changed(ctx, _new_audit_key(ctx, audit), audit, "BreakGlassRefused")
            return {"granted": False, "reason": refusal, "audit_event": audit.id}
        grant = rules.open_break_glass(patient, who.id, held, reason, now, ctx.stub.tx_id)
        opened = rules.Decision(
            True, f"break-glass {grant.id} opened until {grant.period.end}", f"break-glass/{grant.id}"
        )
        audit = _audit(ctx, patient, "*", None, BREAK_GLASS_PURPOSE, opened, EXECUTE, entity="patient")
        store(ctx, _new_audit_key(ctx, audit), audit)
        store(ctx, key(ctx, "review", who.org, grant.id), Review(grant))
        return changed(ctx, key(ctx, "break-glass", patient, grant.id), grant, "BreakGlassOpened")

    @evaluate
    def pending_reviews(self, ctx: Context, page_size: str = "", bookmark: str = "") -> JsonObject:
        """Break-glass uses by the calling admin's org that still wait for review: a page of the
        org's reviews answers the pending ones among them (fewer than page_size, maybe none)."""
        found = list_page(ctx, "review", _admin(ctx).org, page_size=page_size, bookmark=bookmark)
        pending = [item.to_json() for item in page_records(found, Review) if item.review == "pending"]
        return found.answer(pending)

    @submit
    def close_review(self, ctx: Context, break_glass_id: str, outcome: str) -> JsonObject:
        """Record the org admin's review of one break-glass use: justified or unjustified."""
        who = _admin(ctx)
        rules.check_outcome(outcome)
        state_key = key(ctx, "review", who.org, break_glass_id)
        item = load(ctx, state_key, Review, f"no break-glass use {break_glass_id} by {who.org} awaits review")
        return changed(
            ctx, state_key, rules.close_review(item, outcome, who.id, tx_time(ctx)), "BreakGlassReviewed"
        )


def _provision(
    ctx: Context,
    patient: str,
    kind: str,
    consent_id: str,
    actor: str,
    actions: str,
    purposes: str,
    categories: str,
    start: str,
    end: str,
    roles: str = "",
    delegate: Delegation | None = None,
) -> JsonObject:
    state_key = key(ctx, "consent", patient, require_new_id(consent_id, "consent_id"))
    if ctx.stub.get_state(state_key) is not None:
        raise ContractError(f"consent {consent_id} of {patient} already exists")
    # Key-level endorsement: every later change of this consent (revoke) needs the patient's home
    # hospital, the org of the patient's certificate at registration (its id is org/name).
    ctx.stub.set_state_validation_parameter(state_key, home_org_policy(patient))
    consent = rules.provision(
        kind,
        consent_id,
        patient,
        actor,
        actions,
        purposes,
        categories,
        start,
        end,
        tx_time(ctx),
        roles,
        by=None if delegate is None else delegate.delegate,
    )
    return changed(ctx, state_key, consent, "ConsentGranted" if kind == "permit" else "ConsentDenied")


def home_org_policy(patient: str) -> str:
    """The endorsement policy naming the patient's home organisation alone (quoted, so that any
    org name parses)."""
    org = patient.partition("/")[0]
    return "'" + org.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _revoke(ctx: Context, patient: str, consent_id: str) -> JsonObject:
    state_key = key(ctx, "consent", patient, consent_id)
    consent = load(ctx, state_key, Consent, f"consent {consent_id} of {patient} does not exist")
    return changed(ctx, state_key, rules.revoke(consent, tx_time(ctx)), "ConsentRevoked")


def _decide(
    ctx: Context, patient: str, record_id: str, purpose: str, action: str
) -> tuple[RecordPointer | None, rules.Decision]:
    """The record asked for and the decision on the caller's `action` on it now (the
    transaction's time): consent, break-glass, and the caller's licence when its role is clinical."""
    load(ctx, key(ctx, "patient", patient), Patient, f"patient {patient} is not registered")
    record = find(ctx, key(ctx, "record", patient, require_id(record_id, "record_id")), RecordPointer)
    who = ctx.client_identity
    now = tx_time(ctx)
    decision = rules.decide(
        who,
        patient,
        record_id,
        record,
        purpose,
        now,
        break_glass=lambda: scan(ctx, "break-glass", patient, kind=BreakGlass),
        consents=lambda: scan(ctx, "consent", patient, kind=Consent),
        licence=lambda: licence(ctx, who.id, iso(now)),
        action=action,
    )
    return record, decision


def _audit(
    ctx: Context,
    patient: str,
    record_id: str,
    record: RecordPointer | None,
    purpose: str,
    decision: rules.Decision,
    action: str,
    *,
    entity: str | None = None,
) -> AuditEvent:
    """The AuditEvent of the caller's act in this transaction."""
    return AuditEvent(
        id=ctx.stub.tx_id,
        patient=patient,
        record=record_id,
        category=None if record is None else record.category,
        agent=ctx.client_identity.id,
        purpose=purpose,
        recorded=iso(tx_time(ctx)),
        granted=decision.granted,
        reason=decision.reason,
        basis=decision.basis,
        action=action,
        entity=entity,
    )


def _new_audit_key(ctx: Context, audit: AuditEvent) -> str:
    """The state key of a new audit event; audit events are never overwritten."""
    audit_key = key(ctx, "audit", audit.patient, audit.id)
    if ctx.stub.get_state(audit_key) is not None:
        raise ContractError(f"audit event {audit.id} already exists; audit events are never overwritten")
    return audit_key


def _delegate(ctx: Context, patient: str) -> Delegation:
    """The caller's delegation for `patient`, in force now, or a refusal."""
    who = ctx.client_identity
    load(ctx, key(ctx, "patient", patient), Patient, f"patient {patient} is not registered")
    found = find(ctx, key(ctx, "delegate", patient, who.id), Delegation)
    return rules.require_delegate(found, who.id, patient, tx_time(ctx))


def _audit_delegate(
    ctx: Context, acting: Delegation, entity_id: str, action: str, entity: str, what: str
) -> AuditEvent:
    """Record a delegate's act in the patient's trail, as on behalf of the patient."""
    relationship = DELEGATE_RELATIONSHIPS[acting.relationship]
    decision = rules.Decision(
        True,
        f"{acting.delegate} ({relationship}) {what} on behalf of {acting.patient}",
        f"delegate/{acting.delegate}",
    )
    audit = AuditEvent(
        id=ctx.stub.tx_id,
        patient=acting.patient,
        record=entity_id,
        category=None,
        agent=acting.delegate,
        purpose="PATADMIN",
        recorded=iso(tx_time(ctx)),
        granted=True,
        reason=decision.reason,
        basis=decision.basis,
        action=action,
        entity=entity,
        on_behalf=acting.relationship,
    )
    store(ctx, _new_audit_key(ctx, audit), audit)
    return audit


def _disclosures(audits: list[AuditEvent]) -> list[JsonObject]:
    return [
        {
            "date": a.recorded,
            "recipient": a.agent,
            "record": a.record,
            "category": a.category,
            "purpose": a.purpose,
            "basis": a.basis,
            "action": rules.disclosure_kind(a),
        }
        for a in rules.disclosures(audits)
    ]


def _audits_in(page: Page, start: str, end: str) -> list[AuditEvent]:
    return rules.audits_between(page_records(page, AuditEvent), start, end)


def _patient(ctx: Context) -> ClientIdentity:
    """The caller, if it is a registered patient."""
    who = require_role(ctx, PATIENT)
    load(ctx, key(ctx, "patient", who.id), Patient, f"patient {who.id} is not registered")
    return who


def _admin(ctx: Context) -> ClientIdentity:
    """The caller, if it is its org's admin."""
    who = ctx.client_identity
    if not is_admin(who):
        raise ContractError(f"{who.id} may not call {ctx.stub.function}: it needs an org admin identity")
    return who
