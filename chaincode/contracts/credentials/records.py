"""The credentials contract's records as the ledger keeps them, and its vocabulary.

Frozen dataclasses: each `to_json` is the on-ledger JSON shape, key for key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from careledger.chaincode.contracts.common import JsonObject, Period

BOARD_ORG = "board"
REGISTRAR = "registrar"

V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360"
QUALIFICATIONS = {
    "MD": "Doctor of Medicine",
    "DO": "Doctor of Osteopathy",
    "DDS": "Doctor of Dental Surgery",
    "PharmD": "Doctor of Pharmacy",
    "PA": "Physician Assistant",
    "NP": "Nurse Practitioner",
    "CNM": "Certified Nurse Midwife",
    "RN": "Registered Nurse",
    "LPN": "Licensed Practical Nurse",
}
# Status changes and the status each leaves; issue and renew leave it as it was.
STATUS_AFTER = {"suspended": "suspended", "reinstated": "active", "revoked": "revoked"}
STATUS_LIST = "urn:careledger:credentials:status"
STATUS_PURPOSES = {"revocation": "revoked", "suspension": "suspended"}


@dataclass(frozen=True)
class Change:
    """One entry of a licence's history: issued, renewed, or a status change and when it took effect."""

    action: str
    effective: str
    recorded: str
    reason: str
    by: str
    tx_id: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The change as stored inside its credential."""
        return cls(
            data["action"], data["effective"], data["recorded"], data["reason"], data["by"], data["tx_id"]
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "action": self.action,
            "effective": self.effective,
            "recorded": self.recorded,
            "reason": self.reason,
            "by": self.by,
            "tx_id": self.tx_id,
        }

    @property
    def is_status_change(self) -> bool:
        """Whether it suspends, reinstates or revokes (issue and renew leave the status alone)."""
        return self.action in STATUS_AFTER


@dataclass(frozen=True)
class Credential:
    """A practitioner's licence with every validity period and every change, under
    ("credential", practitioner)."""

    practitioner: str
    license: str
    qualification: str
    jurisdiction: str
    specialties: tuple[str, ...]
    status: str
    periods: tuple[Period, ...]
    status_list_index: int
    changes: tuple[Change, ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The credential as stored."""
        return cls(
            practitioner=data["practitioner"],
            license=data["license"],
            qualification=data["qualification"],
            jurisdiction=data["jurisdiction"],
            specialties=tuple(data["specialties"]),
            status=data["status"],
            periods=tuple(Period.from_json(p) for p in data["periods"]),
            status_list_index=data["status_list_index"],
            changes=tuple(Change.from_json(c) for c in data["changes"]),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "practitioner": self.practitioner,
            "license": self.license,
            "qualification": self.qualification,
            "jurisdiction": self.jurisdiction,
            "specialties": list(self.specialties),
            "status": self.status,
            "periods": [p.to_json() for p in self.periods],
            "status_list_index": self.status_list_index,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class StatusCounter:
    """The next free index in the status lists, under ("status-list",)."""

    next: int

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The counter as stored."""
        return cls(data["next"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"next": self.next}


@dataclass(frozen=True)
class Verdict:
    """The answer of `verify`: whether a practitioner was licensed at a time, and if not, why not.

    Other contracts read `valid` and `reason` of it (common.licence).
    """

    practitioner: str
    at: str
    status: str
    reason: str

    @property
    def valid(self) -> bool:
        """Whether the licence was valid then."""
        return self.status == "valid"

    def to_json(self) -> JsonObject:
        """The JSON `verify` returns."""
        return {
            "practitioner": self.practitioner,
            "at": self.at,
            "valid": self.valid,
            "status": self.status,
            "reason": self.reason,
        }
