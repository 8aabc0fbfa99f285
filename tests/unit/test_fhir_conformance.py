"""Every FHIR export of the healthcare contracts is valid FHIR R4(B) JSON.

Two checks on each resource the contracts hand out (Coverage, Claim, ClaimResponse, Consent,
AuditEvent bundles, Practitioner with its qualification, VerificationResult):
- the structure, by fhir.resources' R4B models (required elements, datatypes, the id rule, codes);
- the JSON rules those models let through: no null, no empty array, object or string anywhere.

The exports come from the golden story (tests/unit/ledgerstory.py), which writes every kind of
record, plus the cases the story does not reach: a corrected claim, an empty audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from contractharness import Ledger, client
from fhir.resources.R4B import get_fhir_model_class
from ledgerstory import run_story

from careledger.chaincode.contracts.claims import ClaimsContract
from careledger.chaincode.contracts.consent import ConsentContract
from careledger.chaincode.contracts.credentials import CredentialsContract
from careledger.chaincode.contracts.fhir import prune

FHIR_FUNCTIONS = (
    "coverage_fhir",
    "claim_fhir",
    "claim_response_fhir",
    "consent_fhir",
    "audit_events_fhir",
    "qualification_fhir",
    "verification_result_fhir",
)


def _story_exports() -> dict[str, Any]:
    queries = run_story()["queries"]
    return {name: answer for name, answer in queries.items() if name.split()[0] in FHIR_FUNCTIONS}


def _more_exports() -> dict[str, Any]:
    """A corrected claim (its Claim has `related`) and a patient whose audit trail is empty."""
    ledger = Ledger(ClaimsContract(), CredentialsContract(), ConsentContract())
    registrar, adjuster = client("board", "rita", "registrar"), client("insurer", "ivy", "claims-adjuster")
    doctor, patient = client("hospital", "bob", "practitioner"), client("hospital", "pat2", "patient")
    ledger.submit(
        registrar, "credentials", "issue", doctor.id, "L-1", "MD", "US-CA", "", "2026-01-01", "2027-01-01"
    )
    ledger.submit(patient, "consent", "register_patient")
    ledger.submit(
        patient, "consent", "grant_consent", "t1", doctor.id, "access", "TREAT", "lab", "2026-01-01"
    )
    terms = {
        "plan": "basic",
        "start": "2026-01-01",
        "end": "2027-01-01",
        "deductible": 0,
        "copay": 1000,
        "annual_limit": 50000,
        "services": {"99213": {"fee": 15000, "max_quantity": 1, "frequency": {"count": 4, "per": "year"}}},
    }
    ledger.submit(adjuster, "claims", "register_coverage", "cov-9", patient.id, json.dumps(terms))
    line = {"service": "99213", "date": "2026-02-20", "quantity": 1, "unit_price": 15000}
    claim = {"coverage": "cov-9", "diagnosis_hash": "0" * 64, "items": [line]}
    ledger.submit(doctor, "claims", "submit_claim", "cl-9", json.dumps(claim))
    ledger.submit(doctor, "claims", "correct_claim", "cl-9", "cl-9.1", json.dumps(claim))
    return {
        "claim_fhir corrected": ledger.evaluate(patient, "claims", "claim_fhir", "cl-9.1"),
        "claim_response_fhir voided": ledger.evaluate(patient, "claims", "claim_response_fhir", "cl-9"),
        "coverage_fhir copay": ledger.evaluate(patient, "claims", "coverage_fhir", "cov-9"),
        "audit_events_fhir empty": ledger.evaluate(
            patient, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01"
        ),
    }


EXPORTS = _story_exports() | _more_exports()


def _empties(value: Any, path: str = "$") -> Iterator[str]:
    """The paths of values FHIR JSON forbids: null, and empty arrays, objects and strings."""
    if value is None or (isinstance(value, (dict, list, str)) and len(value) == 0):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _empties(item, f"{path}.{name}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _empties(item, f"{path}[{n}]")


def test_every_fhir_function_of_the_contracts_is_exported_here():
    assert {name.split()[0] for name in EXPORTS} == set(FHIR_FUNCTIONS)
    found = {resource["resourceType"] for resource in EXPORTS.values()}
    assert found == {
        "Coverage",
        "Claim",
        "ClaimResponse",
        "Consent",
        "Bundle",
        "Practitioner",
        "VerificationResult",
    }


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_is_valid_fhir_r4b(name):
    resource = EXPORTS[name]
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    for entry in resource.get("entry", []):  # a Bundle's resources, each against its own model
        inner = entry["resource"]
        get_fhir_model_class(inner["resourceType"]).model_validate(inner)


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_has_no_nulls_nor_empty_arrays_objects_or_strings(name):
    assert list(_empties(EXPORTS[name])) == []


def test_ids_follow_the_fhir_id_rule_which_the_library_enforces():
    model = get_fhir_model_class("Claim")
    claim = EXPORTS["claim_fhir corrected"]
    with pytest.raises(ValueError, match="id"):
        model.model_validate(claim | {"id": "cl_9"})


def test_prune_removes_empty_values_at_every_depth_and_keeps_false_and_zero():
    assert prune(
        {
            "a": None,
            "b": [],
            "c": {},
            "d": "",
            "e": [{"x": None}, {}, "", 0],
            "f": {"g": {"h": []}},
            "i": False,
            "j": 0,
            "k": [{"l": "m", "n": None}],
        }
    ) == {"e": [0], "i": False, "j": 0, "k": [{"l": "m"}]}
