"""CareLedger gateway SDK: connect, get a network and a contract, submit and evaluate."""

from careledger.gateway import signers
from careledger.gateway.blockevents import BlockEvents, FilteredBlockEvents
from careledger.gateway.chaincodeevents import ChaincodeEvent, ChaincodeEvents
from careledger.gateway.checkpointer import (
    Checkpoint,
    Checkpointer,
    FileCheckpointer,
    InMemoryCheckpointer,
)
from careledger.gateway.client import Reconnect, Timeouts
from careledger.gateway.commit import Commit, Status, SubmittedTransaction
from careledger.gateway.contract import Contract
from careledger.gateway.errors import (
    BlockEventsError,
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    InvalidKeyError,
    InvalidRequestError,
    LocalNetworkError,
    MalformedMessageError,
    OfflineSigningError,
    SubmitError,
)
from careledger.gateway.gateway import Gateway, connect
from careledger.gateway.identity import Identity, Signer
from careledger.gateway.local import connect_local, default_directory
from careledger.gateway.network import Network
from careledger.gateway.pages import ListPage, items, pages
from careledger.gateway.proposal import Proposal
from careledger.gateway.transaction import Transaction

__all__ = [
    "BlockEvents",
    "BlockEventsError",
    "ChaincodeEvent",
    "ChaincodeEvents",
    "ChaincodeEventsError",
    "Checkpoint",
    "Checkpointer",
    "Commit",
    "CommitError",
    "CommitStatusError",
    "Contract",
    "EndorseError",
    "ErrorDetail",
    "EvaluateError",
    "FileCheckpointer",
    "FilteredBlockEvents",
    "Gateway",
    "GatewayError",
    "Identity",
    "InMemoryCheckpointer",
    "InvalidKeyError",
    "InvalidRequestError",
    "ListPage",
    "LocalNetworkError",
    "MalformedMessageError",
    "Network",
    "OfflineSigningError",
    "Proposal",
    "Reconnect",
    "Signer",
    "Status",
    "SubmitError",
    "SubmittedTransaction",
    "Timeouts",
    "Transaction",
    "connect",
    "connect_local",
    "default_directory",
    "items",
    "pages",
    "signers",
]
