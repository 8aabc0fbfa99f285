"""The identity of the client that signed a proposal, as a contract sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from careledger.chaincode.errors import ContractError


@dataclass(frozen=True)
class ClientIdentity:
    """Who signed the proposal: org, name, role and certificate attributes, for access control."""

    org: str
    name: str
    role: str
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    cert_pem: bytes = b""

    def __post_init__(self) -> None:
        # a read-only copy, so that no contract can alter the identity another contract sees
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def id(self) -> str:
        """The identity's ledger-wide name, `org/name`, as recorded in assets and audit entries."""
        return f"{self.org}/{self.name}"

    def get_attribute(self, name: str) -> str | None:
        """The value of a certificate attribute, or None when the certificate does not carry it."""
        return self.attributes.get(name)

    def assert_attribute_value(self, name: str, value: str) -> None:
        """Raise ContractError unless the certificate carries attribute `name` with `value`."""
        actual = self.attributes.get(name)
        if actual == value:
            return
        found = "has no such attribute" if actual is None else f"has {actual!r}"
        raise ContractError(
            f"identity {self.id!r} attribute {name!r} {found}, expected {value!r}; "
            "enroll an identity whose certificate carries it"
        )
