"""Consents and audit events as FHIR R4 Consent and AuditEvent resources."""

from __future__ import annotations

from collections.abc import Iterable

from careledger.chaincode.contracts.common import JsonObject
from careledger.chaincode.contracts.consent.records import (
    CATEGORY_SYSTEM,
    CONSENT_ACTION,
    CREATE,
    DELEGATE_RELATIONSHIPS,
    EXECUTE,
    PURPOSES,
    READ,
    ROLE_SYSTEM,
    UPDATE,
    V3_ACT_REASON,
    V3_ROLE_CODE,
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
            "actor": _actors(c),
            "action": [concept(CONSENT_ACTION, action) for action in c.actions],
            "purpose": [coding(V3_ACT_REASON, p, PURPOSES[p]) for p in c.purposes],
            "code": [concept(CATEGORY_SYSTEM, category) for category in c.categories],
        },
    }


def _actors(c: Consent) -> list[JsonObject]:
    """provision.actor: the recipient, once per role a permit covers (ROLE_SYSTEM); a deny, and a
    permit of before issue 10, name it as information recipient (IRCP)."""
    who = reference("Practitioner" if "/" in c.actor else "Organization", c.actor)
    if c.roles is None:
        recipient = concept(f"{_TERMINOLOGY}/v3-ParticipationType", "IRCP", "information recipient")
        return [{"role": recipient, "reference": who}]
    return [{"role": concept(ROLE_SYSTEM, role), "reference": who} for role in c.roles]


_INTERACTION = {READ: "read", UPDATE: "update", CREATE: "create", EXECUTE: "operation"}
_ENTITY = {None: "DocumentReference", "consent": "Consent", "disclosures": "AuditEvent"}


def audit_event(a: AuditEvent) -> JsonObject:
    """An audited act as a FHIR AuditEvent: a record read (R) or edit (U), break-glass (E) or a
    delegate's act on a consent or the disclosures; a refusal has outcome 4. A delegate's event
    names the patient as a second agent, the one the delegate acted for."""
    interaction = _INTERACTION.get(a.act, "read")
    agents: list[JsonObject] = [{"who": reference(None, a.agent), "requestor": True}]
    if a.on_behalf is not None:
        agents[0]["role"] = [concept(V3_ROLE_CODE, a.on_behalf, DELEGATE_RELATIONSHIPS.get(a.on_behalf))]
        agents.append(
            {
                "who": reference("Patient", a.patient),
                "requestor": False,
                "type": concept(f"{_TERMINOLOGY}/v3-ParticipationType", "RESP", "responsible party"),
            }
        )
    entities: list[JsonObject] = []
    if a.entity in _ENTITY and a.record != "*":
        entities.append({"what": reference(_ENTITY[a.entity], a.record)})
    entities.append({"what": reference("Patient", a.patient)})
    return {
        "resourceType": "AuditEvent",
        "id": a.id,
        "type": coding("http://dicom.nema.org/resources/ontology/DCM", "110110", "Patient Record"),
        "subtype": [coding("http://hl7.org/fhir/restful-interaction", interaction, interaction)],
        "action": a.act,
        "recorded": a.recorded,
        "outcome": "0" if a.granted else "4",
        "outcomeDesc": a.reason,
        "purposeOfEvent": [concept(V3_ACT_REASON, a.purpose)],
        "agent": agents,
        "source": {"observer": reference("Device", "careledger/consent")},
        "entity": entities,
    }


def audit_trail(audits: Iterable[AuditEvent], next_bookmark: str = "") -> JsonObject:
    """Audit events as a FHIR collection Bundle, linking the next page when there is one."""
    return bundle([audit_event(a) for a in audits], next_bookmark)
