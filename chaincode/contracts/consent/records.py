"""The consent contract's records as the ledger keeps them, and its vocabulary.

Frozen dataclasses: each `to_json` is the on-ledger JSON shape, key for key; optional parts that
the ledger leaves out until they happen (an erasure, a revocation, a review) are None here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

from careledger.chaincode.contracts.common import JsonObject, Period

PATIENT = "patient"
PRACTITIONER = "practitioner"
CLAIMS_ADJUSTER = "claims-adjuster"

# The certificate roles (attribute `role`) a consent can cover. An organisation-wide permit covers
# only its clinical roles, each identity also needing a licence valid at the access; billing staff
# are covered only when a permit names them one by one; patients and org admins never.
CLINICAL_ROLES = (PRACTITIONER,)
GRANTEE_ROLES = (*CLINICAL_ROLES, CLAIMS_ADJUSTER)
ROLE_SYSTEM = "urn:careledger:role"

# Who may act for a patient (v3-RoleCode): guardian, parent, healthcare power of attorney,
# power of attorney.
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
DELEGATE_RELATIONSHIPS = {
    "GUARD": "guardian",
    "PRN": "parent",
    "HPOWATT": "healthcare power of attorney",
    "POWATT": "power of attorney",
}

# AuditEvent.action (FHIR audit-event-action): read, update (an edit), execute (break-glass),
# create (a consent recorded by a delegate).
READ, UPDATE, EXECUTE, CREATE = "R", "U", "E", "C"

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

BREAK_GLASS_PURPOSE = "ETREAT"
BREAK_GLASS_DURATION = timedelta(hours=4)
REVIEW_OUTCOMES = ("justified", "unjustified")


@dataclass(frozen=True)
class Patient:
    """A registered patient identity, under ("patient", id)."""

    id: str
    status: str
    registered: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The patient as stored."""
        return cls(data["id"], data["status"], data["registered"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"id": self.id, "status": self.status, "registered": self.registered}


@dataclass(frozen=True)
class Erasure:
    """When, by whom and on what legal basis a record was erased."""

    at: str
    by: str
    legal_basis: str
    tx_id: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The erasure as stored inside its record."""
        return cls(data["at"], data["by"], data["legal_basis"], data["tx_id"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"at": self.at, "by": self.by, "legal_basis": self.legal_basis, "tx_id": self.tx_id}


@dataclass(frozen=True)
class RecordPointer:
    """Where an encrypted off-ledger health record is and its salted content hash, under
    ("record", patient, id); an erased one keeps no location and an unlinkable hash."""

    id: str
    patient: str
    category: str
    sensitivity: str
    location: str | None
    content_hash: str
    status: str
    registered: str
    erased: Erasure | None = None
    corrected: str | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The pointer as stored."""
        erased = data.get("erased")
        return cls(
            id=data["id"],
            patient=data["patient"],
            category=data["category"],
            sensitivity=data["sensitivity"],
            location=data["location"],
            content_hash=data["content_hash"],
            status=data["status"],
            registered=data["registered"],
            erased=None if erased is None else Erasure.from_json(erased),
            corrected=data.get("corrected"),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `erased` only once erased, `corrected` (the last edit's time) only once
        edited."""
        data: JsonObject = {
            "id": self.id,
            "patient": self.patient,
            "category": self.category,
            "sensitivity": self.sensitivity,
            "location": self.location,
            "content_hash": self.content_hash,
            "status": self.status,
            "registered": self.registered,
        }
        if self.corrected is not None:
            data["corrected"] = self.corrected
        return data if self.erased is None else data | {"erased": self.erased.to_json()}


@dataclass(frozen=True)
class Consent:
    """A patient's permit or deny provision for an actor, under ("consent", patient, id)."""

    id: str
    patient: str
    status: str
    provision: str
    actor: str
    actions: tuple[str, ...]
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    period: Period
    recorded: str
    revoked: str | None = None
    roles: tuple[str, ...] | None = None
    by: str | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The consent as stored; one written before issue 10 has no `roles` (None)."""
        roles = data.get("roles")
        return cls(
            id=data["id"],
            patient=data["patient"],
            status=data["status"],
            provision=data["provision"],
            actor=data["actor"],
            actions=tuple(data["actions"]),
            purposes=tuple(data["purposes"]),
            categories=tuple(data["categories"]),
            period=Period.from_json(data["period"]),
            recorded=data["recorded"],
            revoked=data.get("revoked"),
            roles=None if roles is None else tuple(roles),
            by=data.get("by"),
        )

    @property
    def org_wide(self) -> bool:
        """Whether the actor is a whole organisation rather than one identity."""
        return "/" not in self.actor

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `revoked` only once revoked, `roles` for permits since issue 10, `by`
        only when a delegate recorded it for the patient."""
        data: JsonObject = {
            "id": self.id,
            "patient": self.patient,
            "status": self.status,
            "provision": self.provision,
            "actor": self.actor,
            "actions": list(self.actions),
            "purposes": list(self.purposes),
            "categories": list(self.categories),
            "period": self.period.to_json(),
            "recorded": self.recorded,
        }
        if self.revoked is not None:
            data["revoked"] = self.revoked
        if self.roles is not None:
            data["roles"] = list(self.roles)
        if self.by is not None:
            data["by"] = self.by
        return data


@dataclass(frozen=True)
class AuditEvent:
    """One access decision on a patient's record, granted or not, under ("audit", patient, tx id).

    Since issue 10 each one says its `action` (R read, U edit, E break-glass, C a consent made by
    a delegate), what it acted on when not a record (`entity`: consent, disclosures, or patient
    for break-glass over all records) and, for a delegate's act, the delegate's relationship to
    the patient (`on_behalf`). Events written before have none of the three: reads of a record.
    """

    id: str
    patient: str
    record: str
    category: str | None
    agent: str
    purpose: str
    recorded: str
    granted: bool
    reason: str
    basis: str | None
    action: str | None = None
    entity: str | None = None
    on_behalf: str | None = None

    @property
    def act(self) -> str:
        """The FHIR AuditEvent.action: R for events of before issue 10."""
        return self.action or READ

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The audit event as stored."""
        return cls(
            id=data["id"],
            patient=data["patient"],
            record=data["record"],
            category=data["category"],
            agent=data["agent"],
            purpose=data["purpose"],
            recorded=data["recorded"],
            granted=data["granted"],
            reason=data["reason"],
            basis=data["basis"],
            action=data.get("action"),
            entity=data.get("entity"),
            on_behalf=data.get("on_behalf"),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `action`, `entity` and `on_behalf` only when set."""
        data: JsonObject = {
            "id": self.id,
            "patient": self.patient,
            "record": self.record,
            "category": self.category,
            "agent": self.agent,
            "purpose": self.purpose,
            "recorded": self.recorded,
            "granted": self.granted,
            "reason": self.reason,
            "basis": self.basis,
        }
        for name in ("action", "entity", "on_behalf"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data


@dataclass(frozen=True)
class BreakGlass:
    """A practitioner's emergency access to all of a patient's records for a period, under
    ("break-glass", patient, tx id); the reason itself stays off the ledger."""

    id: str
    patient: str
    practitioner: str
    purpose: str
    period: Period
    reason_hash: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The grant as stored."""
        return cls(
            id=data["id"],
            patient=data["patient"],
            practitioner=data["practitioner"],
            purpose=data["purpose"],
            period=Period.from_json(data["period"]),
            reason_hash=data["reason_hash"],
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "id": self.id,
            "patient": self.patient,
            "practitioner": self.practitioner,
            "purpose": self.purpose,
            "period": self.period.to_json(),
            "reason_hash": self.reason_hash,
        }


@dataclass(frozen=True)
class Review:
    """A break-glass use waiting for, or given, its review by the practitioner's org admin,
    under ("review", org, grant id): the grant's fields plus the review's."""

    grant: BreakGlass
    review: str = "pending"
    reviewed: str | None = None
    reviewer: str | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The review item as stored."""
        return cls(BreakGlass.from_json(data), data["review"], data.get("reviewed"), data.get("reviewer"))

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `reviewed` and `reviewer` only once reviewed."""
        data = self.grant.to_json() | {"review": self.review}
        if self.reviewed is None:
            return data
        return data | {"reviewed": self.reviewed, "reviewer": self.reviewer}


@dataclass(frozen=True)
class Delegation:
    """Someone who may manage a patient's consents and read their disclosures for them (a guardian
    of a minor, a healthcare power of attorney), under ("delegate", patient, delegate)."""

    patient: str
    delegate: str
    relationship: str
    status: str
    period: Period
    recorded: str
    by: str
    legal_basis: str | None = None
    revoked: str | None = None

    def in_force(self, moment: datetime) -> bool:
        """Whether the delegate may act for the patient at `moment`."""
        return self.status == "active" and self.period.contains(moment)

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The delegation as stored."""
        return cls(
            patient=data["patient"],
            delegate=data["delegate"],
            relationship=data["relationship"],
            status=data["status"],
            period=Period.from_json(data["period"]),
            recorded=data["recorded"],
            by=data["by"],
            legal_basis=data.get("legal_basis"),
            revoked=data.get("revoked"),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `legal_basis` when an admin named the delegate, `revoked` once revoked."""
        data: JsonObject = {
            "patient": self.patient,
            "delegate": self.delegate,
            "relationship": self.relationship,
            "status": self.status,
            "period": self.period.to_json(),
            "recorded": self.recorded,
            "by": self.by,
        }
        if self.legal_basis is not None:
            data["legal_basis"] = self.legal_basis
        if self.revoked is not None:
            data["revoked"] = self.revoked
        return data
