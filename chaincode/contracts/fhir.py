"""FHIR R4 datatypes the healthcare contracts render their records with."""

from __future__ import annotations

from collections.abc import Sequence

from careledger.chaincode.contracts.common import JsonObject


def coding(system: str, code: str, display: str | None = None) -> JsonObject:
    """A FHIR Coding."""
    found = {"system": system, "code": code}
    return found if display is None else found | {"display": display}


def concept(system: str, code: str, display: str | None = None) -> JsonObject:
    """A FHIR CodeableConcept with one coding."""
    return {"coding": [coding(system, code, display)]}


def reference(resource_type: str | None, identifier: str) -> JsonObject:
    """A FHIR Reference by ledger identifier (identity ids and record ids are pseudonymous)."""
    found: JsonObject = {"identifier": {"system": "urn:careledger:id", "value": identifier}}
    return found if resource_type is None else {"type": resource_type} | found


def bundle(resources: Sequence[JsonObject]) -> JsonObject:
    """A FHIR collection Bundle of resources, for exports of many records."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }
