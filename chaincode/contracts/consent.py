"""Patient consent: record pointers, FHIR Consent provisions, audited access and break-glass.

Records live off the ledger, encrypted with a per-record key; the ledger holds the pointer, a salted
content hash and the rules. Every access decision is a transaction that writes an AuditEvent under
(patient, tx id) before the caller learns where the record is, so the trail cannot be skipped; a
refusal is audited too and therefore returned, not raised (raising would roll the audit back).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from careledger.chaincode import ClientIdentity, Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.contracts.common import (
    Record,
    bundle,
    changed,
    coding,
    concept,
    find,
    in_period,
    is_admin,
    iso,
    key,
    load,
    parse_time,
    period,
    reference,
    require_digest,
    require_id,
    require_role,
    scan,
    sha256_hex,
    split_codes,
    store,
    transient,
    tx_time,
)

PATIENT = "patient"
PRACTITIONER = "practitioner"

V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSES = {
    "TREAT": "treatment",
    "ETREAT": "Emergency Treatment",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
    "PUBHLTH": "public health",
}
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
ACTIONS = ("collect", "access", "use", "disclose", "correct")
CONFIDENTIALITY = {"U", "L", "M", "N", "R", "V"}  # v3-Confidentiality
CATEGORY_SYSTEM = "urn:careledger:record-category"
_CATEGORY = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ACTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9@._-]*)?$")  # org or org/name

BREAK_GLASS_PURPOSE = "ETREAT"
BREAK_GLASS_DURATION = timedelta(hours=4)
REVIEW_OUTCOMES = ("justified", "unjustified")
MIN_SALT_BYTES = 16


@dataclass(frozen=True)
class Decision:
    """An access decision, the words that explain it and what it rests on (consent, break-glass)."""

    granted: bool
    reason: str
    basis: str | None = None


def _category(text: str) -> str:
    if not _CATEGORY.match(text):
        raise ContractError(f"category {text!r} is not a lowercase code like 'lab' or 'mental-health'")
    return text


def _covers(actor: str, who: str) -> bool:
    """Whether a provision's actor (an identity, or a whole org) covers identity or org `who`."""
    return who == actor or who.startswith(actor + "/")


def _applies(consent: Record, who: str, action: str, purpose: str, category: str, at: datetime) -> bool:
    return (
        consent["status"] == "active"
        and _covers(consent["actor"], who)
        and action in consent["actions"]
        and purpose in consent["purposes"]
        and category in consent["categories"]
        and in_period(at, consent["period"]["start"], consent["period"].get("end"))
    )


def _grant_is_open(grant: Record, at: datetime) -> bool:
    return in_period(at, grant["period"]["start"], grant["period"]["end"])


class ConsentContract(Contract):
    """Patients register records and consents; everyone else reads records only through here."""

    name = "consent"

    # --- patients and records --------------------------------------------------------------

    @submit
    def register_patient(self, ctx: Context) -> Record:
        """Make the calling patient identity the subject of its own records and consents."""
        who = require_role(ctx, PATIENT)
        state_key = key(ctx, "patient", who.id)
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"patient {who.id} is already registered")
        patient = {"id": who.id, "status": "active", "registered": iso(tx_time(ctx))}
        return changed(ctx, state_key, patient, "PatientRegistered")

    @submit
    def register_record(self, ctx: Context, record_id: str, category: str, sensitivity: str) -> Record:
        """Register a pointer to an encrypted off-ledger record; transient `location` and
        `content_hash` (the client's salted SHA-256) keep them out of the arguments."""
        who = self._patient(ctx)
        state_key = key(ctx, "record", who.id, require_id(record_id, "record_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"record {record_id} of {who.id} is already registered")
        if sensitivity not in CONFIDENTIALITY:
            raise ContractError(
                f"sensitivity {sensitivity!r} is not a v3-Confidentiality code "
                f"({', '.join(sorted(CONFIDENTIALITY))})"
            )
        record = {
            "id": record_id,
            "patient": who.id,
            "category": _category(category),
            "sensitivity": sensitivity,
            "location": transient(ctx, "location").decode("utf-8"),
            "content_hash": require_digest(transient(ctx, "content_hash").decode("utf-8"), "content_hash"),
            "status": "current",
            "registered": iso(tx_time(ctx)),
        }
        return changed(ctx, state_key, record, "RecordRegistered")

    @evaluate
    def patient_records(self, ctx: Context) -> list[Record]:
        """The calling patient's record pointers, erased ones included as tombstones."""
        return scan(ctx, "record", self._patient(ctx).id)

    @submit
    def erase_record(self, ctx: Context, patient: str, record_id: str, legal_basis: str = "") -> Record:
        """Erase a record (GDPR Art. 17): the patient, or an admin of the patient's org naming a
        legal basis. The pointer goes, the content hash becomes sha256(salt, hash) with a transient
        `salt` the ledger never stores, so the tombstone cannot be linked to the document."""
        who = ctx.client_identity
        if who.id != patient and not (is_admin(who) and _covers(who.org, patient)):
            raise ContractError(
                f"{who.id} may not erase records of {patient}: only the patient or an admin of its org"
            )
        if who.id != patient and not legal_basis.strip():
            raise ContractError("an admin must record the legal basis of an erasure")
        salt = transient(ctx, "salt")
        if len(salt) < MIN_SALT_BYTES:
            raise ContractError(f"transient salt must be at least {MIN_SALT_BYTES} random bytes")
        state_key = key(ctx, "record", patient, record_id)
        record = load(ctx, state_key, f"record {record_id} of {patient} does not exist")
        if record["status"] == "entered-in-error":
            raise ContractError(f"record {record_id} of {patient} is already erased")
        record |= {
            "status": "entered-in-error",
            "location": None,
            "content_hash": sha256_hex(salt, record["content_hash"]),
            "erased": {
                "at": iso(tx_time(ctx)),
                "by": who.id,
                "legal_basis": legal_basis or "request of the data subject",
                "tx_id": ctx.stub.tx_id,
            },
        }
        return changed(ctx, state_key, record, "RecordErased")

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
    ) -> Record:
        """Permit `actor` (org/name, or a whole org) the actions for the purposes on the record
        categories; lists are comma-separated, an empty start is now, an empty end is permanent."""
        return self._provision(ctx, "permit", consent_id, actor, actions, purposes, categories, start, end)

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
    ) -> Record:
        """Deny what grant_consent would permit; a deny provision overrides every permit."""
        return self._provision(ctx, "deny", consent_id, actor, actions, purposes, categories, start, end)

    @submit
    def revoke_consent(self, ctx: Context, consent_id: str) -> Record:
        """Make the patient's consent inactive from now on; its history stays."""
        who = self._patient(ctx)
        state_key = key(ctx, "consent", who.id, consent_id)
        consent = load(ctx, state_key, f"consent {consent_id} of {who.id} does not exist")
        if consent["status"] != "active":
            raise ContractError(f"consent {consent_id} is already {consent['status']}")
        consent |= {"status": "inactive", "revoked": iso(tx_time(ctx))}
        return changed(ctx, state_key, consent, "ConsentRevoked")

    @evaluate
    def patient_consents(self, ctx: Context) -> list[Record]:
        """Every consent of the calling patient, inactive ones included."""
        return scan(ctx, "consent", self._patient(ctx).id)

    @evaluate
    def consent_fhir(self, ctx: Context, consent_id: str) -> Record:
        """One of the calling patient's consents as a FHIR R4 Consent."""
        who = self._patient(ctx)
        c = load(
            ctx, key(ctx, "consent", who.id, consent_id), f"consent {consent_id} of {who.id} does not exist"
        )
        return {
            "resourceType": "Consent",
            "id": c["id"],
            "status": c["status"],
            "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
            "category": [concept("http://loinc.org", "59284-0", "Patient Consent")],
            "patient": reference("Patient", c["patient"]),
            "dateTime": c["recorded"],
            "policyRule": concept(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "OPTIN" if c["provision"] == "permit" else "OPTOUT",
            ),
            "provision": {
                "type": c["provision"],
                "period": c["period"],
                "actor": [
                    {
                        "role": concept(
                            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "IRCP",
                            "information recipient",
                        ),
                        "reference": reference(
                            "Practitioner" if "/" in c["actor"] else "Organization", c["actor"]
                        ),
                    }
                ],
                "action": [concept(CONSENT_ACTION, action) for action in c["actions"]],
                "purpose": [coding(V3_ACT_REASON, p, PURPOSES[p]) for p in c["purposes"]],
                "code": [concept(CATEGORY_SYSTEM, category) for category in c["categories"]],
            },
        }

    @evaluate
    def access_summary(self, ctx: Context) -> Record:
        """Who may access which categories of the calling patient now, for what, until when."""
        who = self._patient(ctx)
        now = tx_time(ctx)
        consents = scan(ctx, "consent", who.id)
        denies = [c for c in consents if c["provision"] == "deny"]
        access = [
            {
                "actor": c["actor"],
                "action": action,
                "purpose": purpose,
                "category": category,
                "consent": c["id"],
                "until": c["period"].get("end"),
            }
            for c in consents
            if c["provision"] == "permit"
            for action in c["actions"]
            for purpose in c["purposes"]
            for category in c["categories"]
            if _applies(c, c["actor"], action, purpose, category, now)
            and not any(_applies(d, c["actor"], action, purpose, category, now) for d in denies)
        ]
        return {
            "at": iso(now),
            "access": access,
            "denied": [
                d
                for d in denies
                if d["status"] == "active" and in_period(now, d["period"]["start"], d["period"].get("end"))
            ],
            "break_glass": [g for g in scan(ctx, "break-glass", who.id) if _grant_is_open(g, now)],
        }

    # --- access and its audit trail --------------------------------------------------------

    @submit
    def access_record(self, ctx: Context, patient: str, record_id: str, purpose: str) -> Record:
        """Decide whether the caller may read the record now for `purpose`, audit the decision,
        and only if granted return the pointer and content hash needed to fetch it."""
        load(ctx, key(ctx, "patient", patient), f"patient {patient} is not registered")
        who = ctx.client_identity
        record = find(ctx, key(ctx, "record", patient, require_id(record_id, "record_id")))
        decision = self._decide(ctx, who, patient, record_id, record, purpose)
        audit = {
            "id": ctx.stub.tx_id,
            "patient": patient,
            "record": record_id,
            "category": None if record is None else record["category"],
            "agent": who.id,
            "purpose": purpose,
            "recorded": iso(tx_time(ctx)),
            "granted": decision.granted,
            "reason": decision.reason,
            "basis": decision.basis,
        }
        audit_key = key(ctx, "audit", patient, ctx.stub.tx_id)
        if ctx.stub.get_state(audit_key) is not None:
            raise ContractError(
                f"audit event {ctx.stub.tx_id} already exists; audit events are never overwritten"
            )
        store(ctx, audit_key, audit)
        ctx.stub.set_event("RecordAccessed" if decision.granted else "RecordAccessRefused", audit)
        answer = {"granted": decision.granted, "reason": decision.reason, "audit_event": audit["id"]}
        if decision.granted and record is not None:
            answer |= {
                "record_id": record_id,
                "location": record["location"],
                "content_hash": record["content_hash"],
            }
        return answer

    @evaluate
    def check_access(self, ctx: Context, patient: str, record_id: str, purpose: str) -> Record:
        """Would access_record grant the caller this record now? Read-only and not audited: the
        record store asks it before each read, so a consent revoked since the audited access
        stops the read."""
        load(ctx, key(ctx, "patient", patient), f"patient {patient} is not registered")
        record = find(ctx, key(ctx, "record", patient, require_id(record_id, "record_id")))
        decision = self._decide(ctx, ctx.client_identity, patient, record_id, record, purpose)
        return {"granted": decision.granted, "reason": decision.reason}

    @evaluate
    def disclosures(self, ctx: Context, start: str, end: str) -> list[Record]:
        """The calling patient's accounting of disclosures in [start, end) (HIPAA 164.528):
        date, recipient, what and purpose of every granted access by someone else."""
        return [
            {
                "date": a["recorded"],
                "recipient": a["agent"],
                "record": a["record"],
                "category": a["category"],
                "purpose": a["purpose"],
                "basis": a["basis"],
            }
            for a in self._audits(ctx, start, end)
            if a["granted"] and a["agent"] != a["patient"]
        ]

    @evaluate
    def audit_events_fhir(self, ctx: Context, start: str, end: str) -> Record:
        """The calling patient's audit trail in [start, end) as a Bundle of FHIR R4 AuditEvents."""
        return bundle(
            [
                {
                    "resourceType": "AuditEvent",
                    "id": a["id"],
                    "type": coding(
                        "http://dicom.nema.org/resources/ontology/DCM", "110110", "Patient Record"
                    ),
                    "subtype": [coding("http://hl7.org/fhir/restful-interaction", "read", "read")],
                    "action": "R",
                    "recorded": a["recorded"],
                    "outcome": "0" if a["granted"] else "4",
                    "outcomeDesc": a["reason"],
                    "purposeOfEvent": [concept(V3_ACT_REASON, a["purpose"])],
                    "agent": [{"who": reference(None, a["agent"]), "requestor": True}],
                    "source": {"observer": reference("Device", "careledger/consent")},
                    "entity": [
                        {"what": reference("DocumentReference", a["record"])},
                        {"what": reference("Patient", a["patient"])},
                    ],
                }
                for a in self._audits(ctx, start, end)
            ]
        )

    # --- break-glass -----------------------------------------------------------------------

    @submit
    def break_glass(self, ctx: Context, patient: str) -> Record:
        """Emergency access to all of a patient's records for 4 hours, for a practitioner whose
        licence verifies now; the reason travels as transient `reason` (kept off-ledger by the
        practitioner's org, hashed here) and a review item waits for that org's admin."""
        who = require_role(ctx, PRACTITIONER)
        load(ctx, key(ctx, "patient", patient), f"patient {patient} is not registered")
        reason = transient(ctx, "reason")
        now = tx_time(ctx)
        verdict = json.loads(ctx.stub.invoke_contract("credentials", "verify", [who.id, iso(now)]))
        if not verdict["valid"]:
            raise ContractError(f"break-glass refused: {verdict['reason']}")
        grant = {
            "id": ctx.stub.tx_id,
            "patient": patient,
            "practitioner": who.id,
            "purpose": BREAK_GLASS_PURPOSE,
            "period": period(iso(now), iso(now + BREAK_GLASS_DURATION)),
            "reason_hash": sha256_hex(ctx.stub.tx_id, reason),
        }
        store(ctx, key(ctx, "review", who.org, grant["id"]), grant | {"review": "pending"})
        return changed(ctx, key(ctx, "break-glass", patient, grant["id"]), grant, "BreakGlassOpened")

    @evaluate
    def pending_reviews(self, ctx: Context) -> list[Record]:
        """Break-glass uses by the calling admin's org that still wait for review."""
        who = self._admin(ctx)
        return [item for item in scan(ctx, "review", who.org) if item["review"] == "pending"]

    @submit
    def close_review(self, ctx: Context, break_glass_id: str, outcome: str) -> Record:
        """Record the org admin's review of one break-glass use: justified or unjustified."""
        who = self._admin(ctx)
        if outcome not in REVIEW_OUTCOMES:
            raise ContractError(f"review outcome {outcome!r} is not one of {', '.join(REVIEW_OUTCOMES)}")
        state_key = key(ctx, "review", who.org, break_glass_id)
        item = load(ctx, state_key, f"no break-glass use {break_glass_id} by {who.org} awaits review")
        if item["review"] != "pending":
            raise ContractError(f"break-glass use {break_glass_id} was already reviewed: {item['review']}")
        item |= {"review": outcome, "reviewed": iso(tx_time(ctx)), "reviewer": who.id}
        return changed(ctx, state_key, item, "BreakGlassReviewed")

    # --- helpers ---------------------------------------------------------------------------

    def _provision(
        self,
        ctx: Context,
        kind: str,
        consent_id: str,
        actor: str,
        actions: str,
        purposes: str,
        categories: str,
        start: str,
        end: str,
    ) -> Record:
        who = self._patient(ctx)
        state_key = key(ctx, "consent", who.id, require_id(consent_id, "consent_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"consent {consent_id} of {who.id} already exists")
        if not _ACTOR.match(actor):
            raise ContractError(f"actor {actor!r} must be an identity (org/name) or an org")
        begins = parse_time(start, "start") if start else tx_time(ctx)
        if end and parse_time(end, "end") <= begins:
            raise ContractError(f"end {end} is not after start {iso(begins)}")
        consent = {
            "id": consent_id,
            "patient": who.id,
            "status": "active",
            "provision": kind,
            "actor": actor,
            "actions": split_codes(actions, "actions", ACTIONS),
            "purposes": split_codes(purposes, "purposes", PURPOSES),
            "categories": [_category(c) for c in split_codes(categories, "categories")],
            "period": period(iso(begins), iso(parse_time(end, "end")) if end else None),
            "recorded": iso(tx_time(ctx)),
        }
        return changed(ctx, state_key, consent, "ConsentGranted" if kind == "permit" else "ConsentDenied")

    @staticmethod
    def _decide(
        ctx: Context, who: ClientIdentity, patient: str, record_id: str, record: Record | None, purpose: str
    ) -> Decision:
        now = tx_time(ctx)
        if record is None:
            return Decision(False, f"record {record_id} of {patient} does not exist")
        if record["status"] != "current":
            return Decision(False, f"record {record_id} of {patient} was erased")
        if purpose not in PURPOSES:
            return Decision(False, f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
        if who.id == patient:
            return Decision(True, "the patient reads their own record", "subject")
        if purpose == BREAK_GLASS_PURPOSE:
            for grant in scan(ctx, "break-glass", patient):
                if grant["practitioner"] == who.id and _grant_is_open(grant, now):
                    return Decision(True, f"break-glass {grant['id']} is open", f"break-glass/{grant['id']}")
        wanted = ("access", purpose, record["category"], now)
        consents = [c for c in scan(ctx, "consent", patient) if _applies(c, who.id, *wanted)]
        for provision, granted in (("deny", False), ("permit", True)):
            for c in consents:
                if c["provision"] == provision:
                    verb = "permits" if granted else "denies"
                    reason = f"consent {c['id']} {verb} {record['category']} access for {purpose}"
                    return Decision(granted, reason, f"consent/{c['id']}")
        return Decision(False, f"no consent permits {who.id} {record['category']} access for {purpose}")

    @staticmethod
    def _audits(ctx: Context, start: str, end: str) -> list[Record]:
        who = require_role(ctx, PATIENT)
        since, until = parse_time(start, "start"), parse_time(end, "end")
        found = [
            a for a in scan(ctx, "audit", who.id) if since <= parse_time(a["recorded"], "recorded") < until
        ]
        return sorted(found, key=lambda a: (a["recorded"], a["id"]))

    @staticmethod
    def _patient(ctx: Context) -> ClientIdentity:
        who = require_role(ctx, PATIENT)
        load(ctx, key(ctx, "patient", who.id), f"patient {who.id} is not registered")
        return who

    @staticmethod
    def _admin(ctx: Context) -> ClientIdentity:
        who = ctx.client_identity
        if not is_admin(who):
            raise ContractError(f"{who.id} may not call {ctx.stub.function}: it needs an org admin identity")
        return who
