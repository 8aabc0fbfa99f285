"""Licences as FHIR R4: Practitioner.qualification and VerificationResult."""

from __future__ import annotations

from careledger.chaincode.contracts.common import JsonObject, Period
from careledger.chaincode.contracts.credentials.records import (
    BOARD_ORG,
    QUALIFICATIONS,
    V2_0360,
    Credential,
    Verdict,
)
from careledger.chaincode.contracts.fhir import concept, reference

_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"


def practitioner(credential: Credential, active: bool) -> JsonObject:
    """The licence as a FHIR Practitioner with one qualification; `active` is whether it is valid now."""
    code = credential.qualification
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": "urn:careledger:id", "value": credential.practitioner}],
        "active": active,
        "qualification": [
            {
                "identifier": [
                    {
                        "system": f"urn:careledger:license:{credential.jurisdiction}",
                        "value": credential.license,
                    }
                ],
                "code": concept(V2_0360, code, QUALIFICATIONS[code])
                | {"text": ", ".join(credential.specialties) or QUALIFICATIONS[code]},
                "period": Period(credential.periods[0].start, credential.periods[-1].end).to_json(),
                "issuer": reference("Organization", BOARD_ORG),
            }
        ],
    }


def verification_result(verdict: Verdict) -> JsonObject:
    """A `verify` answer as a FHIR VerificationResult with the board as primary source."""
    outcome = "successful" if verdict.valid else "failed"
    return {
        "resourceType": "VerificationResult",
        "target": [reference("Practitioner", verdict.practitioner)],
        "targetLocation": ["Practitioner.qualification"],
        "need": concept(f"{_TERMINOLOGY}/need", "periodic"),
        "status": "validated" if verdict.valid else "val-fail",
        "statusDate": verdict.at,
        "validationType": concept(f"{_TERMINOLOGY}/validation-type", "primary"),
        "validationProcess": [concept(f"{_TERMINOLOGY}/validation-process", "primary")],
        "primarySource": [
            {
                "who": reference("Organization", BOARD_ORG),
                "type": [concept(f"{_TERMINOLOGY}/primary-source-type", "lic-board")],
                "validationStatus": concept(f"{_TERMINOLOGY}/validation-status", outcome)
                | {"text": verdict.reason},
                "validationDate": verdict.at,
            }
        ],
    }
