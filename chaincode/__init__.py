"""CareLedger contract API: what a contract author needs, and the healthcare contracts.

A contract author needs only Contract, the submit/evaluate decorators, Context and ContractError;
the peer's side lives in careledger.chaincode.runtime.
"""

from careledger.chaincode.context import Context
from careledger.chaincode.contract import Contract, evaluate, submit
from careledger.chaincode.errors import ContractError
from careledger.chaincode.identity import ClientIdentity
from careledger.chaincode.state import HistoryEntry
from careledger.chaincode.stub import Stub

__all__ = [
    "ClientIdentity",
    "Context",
    "Contract",
    "ContractError",
    "HistoryEntry",
    "Stub",
    "evaluate",
    "submit",
]
