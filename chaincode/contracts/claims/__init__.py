"""Insurance claims: records, adjudication rules, FHIR rendering, and the contract that wires them."""

from careledger.chaincode.contracts.claims.contract import ClaimsContract

__all__ = ["ClaimsContract"]
