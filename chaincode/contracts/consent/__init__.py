"""Patient consent: records, access rules, FHIR rendering, and the contract that wires them."""

from careledger.chaincode.contracts.consent.contract import ConsentContract

__all__ = ["ConsentContract"]
