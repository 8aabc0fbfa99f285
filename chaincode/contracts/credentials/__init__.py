"""Practitioner licences: records, licence rules, FHIR and VC rendering, and the contract that wires them."""

from careledger.chaincode.contracts.credentials.contract import CredentialsContract

__all__ = ["CredentialsContract"]
