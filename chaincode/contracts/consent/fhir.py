"""Consents and audit events as FHIR R4 Consent and AuditEvent resources."""

from __future__ import annotations

from collections.abc import Iterable

from careledger.chaincode.contracts.common import JsonObject
from careledger.chaincode.contracts.consent.records import (
    CATEGORY_SYSTEM,
    CONSENT_ACTION,
    PURPOSES,
    V3_ACT_REASON,
    AuditEvent,
    Consent,
)
from careledger.chaincode.contracts.fhir import bundle, coding, concept, reference

_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"


def consent(c: Consent) -> JsonObject:
    """A consent as a FHIR Consent with one provision; an identity actor is a Practitioner, an org
    an Organization."""
    return {
        "resourceType": "Consent",
        "id": c.id,
        "status": c.status,
        "scope": concept(f"{_TERMINOLOGY}/consentscope", "patient-privacy"),
        "category": [concept("http://loinc.org", "59284-0", "Patient Consent")],
        "patient": reference("Patient", c.patient),
        "dateTime": c.recorded,
        "policyRule": concept(f"{_TERMINOLOGY}/v3-ActCode", "OPTIN" if c.provision == "permit" else "OPTOUT"),
        "provision": {
            "type": c.provision,
            "period": c.period.to_json(),
            "actor": [
                {
                    "role": concept(f"{_TERMINOLOGY}/v3-ParticipationType", "IRCP", "information recipient"),
                    "reference": reference("Practitioner" if "/" in c.actor else "Organization", c.actor),
                }
            ],
            "action": [concept(CONSENT_ACTION, action) for action in c.actions],
            "purpose": [coding(V3_ACT_REASON, p, PURPOSES[p]) for p in c.purposes],
            "code": [concept(CATEGORY_SYSTEM, category) for category in c.categories],
        },
    }


def audit_event(a: AuditEvent) -> JsonObject:
    """An access decision as a FHIR AuditEvent of a patient record read; a refusal has outcome 4."""
    return {
        "resourceType": "AuditEvent",
        "id": a.id,
        "type": coding("http://dicom.nema.org/resources/ontology/DCM", "110110", "Patient Record"),
        "subtype": [coding("http://hl7.org/fhir/restful-interaction", "read", "read")],
        "action": "R",
        "recorded": a.recorded,
        "outcome": "0" if a.granted else "4",
        "outcomeDesc": a.reason,
        "purposeOfEvent": [concept(V3_ACT_REASON, a.purpose)],
        "agent": [{"who": reference(None, a.agent), "requestor": True}],
        "source": {"observer": reference("Device", "careledger/consent")},
        "entity": [
            {"what": reference("DocumentReference", a.record)},
            {"what": reference("Patient", a.patient)},
        ],
    }


def audit_trail(audits: Iterable[AuditEvent]) -> JsonObject:
    """Audit events as a FHIR collection Bundle."""
    return bundle([audit_event(a) for a in audits])
