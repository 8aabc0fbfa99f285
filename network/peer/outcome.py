"""The result of validating one transaction: what the state database applies and listeners hear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from careledger.protos import common_pb2

VC = common_pb2.ValidationCode


@dataclass(frozen=True)
class TxOutcome:
    """What one transaction of a block did: its code, and for a VALID one its writes and event."""

    tx_id: str
    code: VC
    contract: str
    writes: tuple[tuple[str, common_pb2.KVWrite], ...]
    event: common_pb2.ChaincodeEvent | None
    timestamp: datetime
    reason: str = ""

    @property
    def valid(self) -> bool:
        """True if the transaction's writes were applied."""
        return self.code == common_pb2.VALID  # a constant: VC.VALID is an enum lookup by name
