"""Licences as W3C Verifiable Credentials 2.0 content, with Bitstring Status List entries."""

from __future__ import annotations

from careledger.chaincode.contracts.common import JsonObject
from careledger.chaincode.contracts.credentials.records import (
    BOARD_ORG,
    STATUS_LIST,
    STATUS_PURPOSES,
    Credential,
)


def credential_document(credential: Credential) -> JsonObject:
    """The unsigned VC of the licence; the board signs it off-chain, and a verifier checks the status
    lists published from the contract's status_list."""
    index = str(credential.status_list_index)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "PractitionerLicenseCredential"],
        "issuer": f"urn:careledger:org:{BOARD_ORG}",
        "validFrom": credential.periods[0].start,
        "validUntil": credential.periods[-1].end,
        "credentialSubject": {
            "id": f"urn:careledger:practitioner:{credential.practitioner}",
            "license": credential.license,
            "qualification": credential.qualification,
            "jurisdiction": credential.jurisdiction,
            "specialties": list(credential.specialties),
        },
        "credentialStatus": [
            {
                "id": f"{STATUS_LIST}/{purpose}#{index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": index,
                "statusListCredential": f"{STATUS_LIST}/{purpose}",
            }
            for purpose in STATUS_PURPOSES
        ],
    }


def status_list(purpose: str, indices: list[int]) -> JsonObject:
    """The indices set in the status list of `purpose`, as the contract publishes them."""
    return {
        "statusListCredential": f"{STATUS_LIST}/{purpose}",
        "statusPurpose": purpose,
        "indices": indices,
    }
