"""The Context a contract function receives: the stub and the client's identity."""

from __future__ import annotations

from dataclasses import dataclass

from careledger.chaincode.identity import ClientIdentity
from careledger.chaincode.stub import Stub


@dataclass(frozen=True)
class Context:
    """Everything a contract function may use besides its arguments."""

    stub: Stub
    client_identity: ClientIdentity
