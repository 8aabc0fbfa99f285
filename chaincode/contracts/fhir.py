"""FHIR R4 datatypes the healthcare contracts render their records with.

FHIR JSON has no empty values: an element is either present with content or absent (no null, no
empty array, object or string). `prune` removes them, and every export goes through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def bundle(resources: Sequence[JsonObject], next_bookmark: str = "") -> JsonObject:
    """A FHIR collection Bundle of resources, for exports of many records (no `entry` if none); an
    export read a page at a time links the next page as relation `next`, its url `?bookmark=B`
    (the bookmark argument to call the export with again), and has no link after its last page."""
    links = [{"relation": "next", "url": f"?bookmark={next_bookmark}"}] if next_bookmark else []
    return prune(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "link": links,
            "entry": [{"resource": resource} for resource in resources],
        }
    )


def prune(resource: JsonObject) -> JsonObject:
    """The resource without the empty values FHIR JSON forbids: nulls, empty arrays, objects and
    strings are left out, at every depth (an element emptied by pruning goes too)."""
    pruned = _pruned(resource)
    return pruned if isinstance(pruned, dict) else {}


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        found = {name: _pruned(item) for name, item in value.items()}
        return {name: item for name, item in found.items() if not _empty(item)}
    if isinstance(value, list):
        return [item for item in (_pruned(item) for item in value) if not _empty(item)]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (dict, list, str)) and len(value) == 0)
