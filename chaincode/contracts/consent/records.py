"""The consent contract's records as the ledger keeps them, and its vocabulary.

Frozen dataclasses: each `to_json` is the on-ledger JSON shape, key for key; optional parts that
the ledger leaves out until they happen (an erasure, a revocation, a review) are None here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from careledger.chaincode.contracts.common import JsonObject, Period

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
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `erased` only once erased."""
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

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The consent as stored."""
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
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `revoked` only once revoked."""
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
        return data if self.revoked is None else data | {"revoked": self.revoked}


@dataclass(frozen=True)
class AuditEvent:
    """One access decision on a patient's record, granted or not, under ("audit", patient, tx id)."""

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
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
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
