"""What the healthcare contracts share: caller checks, ledger time, typed JSON records and hashes.

Callers are told apart only by their signed certificate: the healthcare role is the certificate
ATTRIBUTE `role` (patient, practitioner, claims-adjuster, registrar); the certificate's own role
(admin, client, peer, orderer) matters only where a contract lets an org admin act.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

from careledger.chaincode import ClientIdentity, Context, ContractError
from careledger.chaincode.codec import canonical_json
from careledger.chaincode.paging import Page, page_size_arg

JsonObject = dict[str, Any]
"""A JSON object as json.loads gives it: what records are written as and contracts return."""


class LedgerRecord(Protocol):
    """A typed record kept as one canonical JSON object under one state key."""

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The record from the JSON object the contract wrote."""
        ...

    def to_json(self) -> JsonObject:
        """The JSON object written to the ledger: its shape is the on-ledger format."""
        ...


R = TypeVar("R", bound=LedgerRecord)

ROLE_ATTRIBUTE = "role"
ADMIN_ROLE = "admin"
MIN_SALT_BYTES = 16

# Ids chosen by clients (records, consents, claims): opaque tokens, never names or numbers of people.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IDENTITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9@._-]*$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")  # FHIR R4 `id`: [A-Za-z0-9\-\.]{1,64}


def require_role(ctx: Context, role: str, *, org: str | None = None) -> ClientIdentity:
    """The caller, if its certificate carries attribute role=`role` (and it belongs to `org`)."""
    who = ctx.client_identity
    if who.get_attribute(ROLE_ATTRIBUTE) != role or (org is not None and who.org != org):
        need = f"attribute role={role}" + ("" if org is None else f" in org {org!r}")
        raise ContractError(f"{who.id} may not call {ctx.stub.function}: it needs {need}")
    return who


def is_admin(who: ClientIdentity) -> bool:
    """Whether the certificate is its org's admin (the certificate role, not the attribute)."""
    return who.role == ADMIN_ROLE


def tx_time(ctx: Context) -> datetime:
    """The transaction's time: the one clock every endorser agrees on."""
    return ctx.stub.get_tx_timestamp()


def iso(moment: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z, as FHIR instants are written."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 date or date-time as a UTC instant; a date means 00:00Z of that day."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ContractError(f"{what} {text!r} is not an ISO 8601 date or date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_period(moment: datetime, start: str, end: str | None) -> bool:
    """Whether `moment` lies in [start, end); an end of None leaves the period open."""
    return parse_time(start, "start") <= moment and (end is None or moment < parse_time(end, "end"))


@dataclass(frozen=True)
class Period:
    """A FHIR Period of ISO 8601 instants, [start, end); an end of None leaves it open."""

    start: str
    end: str | None = None

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` lies in the period."""
        return in_period(moment, self.start, self.end)

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The period from its FHIR JSON."""
        return cls(data["start"], data.get("end"))

    def to_json(self) -> JsonObject:
        """FHIR JSON; an open end is left out."""
        return {"start": self.start} if self.end is None else {"start": self.start, "end": self.end}


def require_id(text: str, what: str) -> str:
    """`text` if it is an opaque id: 1-64 letters, digits, '.', '_' or '-'."""
    if not _ID.match(text):
        raise ContractError(f"{what} {text!r} is not a valid id: use 1-64 letters, digits, '.', '_' or '-'")
    return text


def require_fhir_id(text: str, what: str) -> str:
    """`text` if it can be a FHIR resource id: 1-64 letters, digits, '-' or '.' (no '_')."""
    if not _FHIR_ID.match(text):
        raise ContractError(f"{what} {text!r} is not a valid FHIR id: use 1-64 letters, digits, '-' or '.'")
    return text


def require_new_id(text: str, what: str) -> str:
    """`text` if it may name a new record: an opaque id (require_id) that is a FHIR id as well, so
    that the record exports under its own id."""
    return require_fhir_id(require_id(text, what), what)


def require_identity_id(text: str, what: str) -> str:
    """`text` if it names an identity as `org/name`."""
    if not _IDENTITY_ID.match(text):
        raise ContractError(f"{what} {text!r} is not an identity id of the form org/name")
    return text


def require_digest(text: str, what: str) -> str:
    """`text` if it is a lowercase hex SHA-256 digest."""
    if not _DIGEST.match(text):
        raise ContractError(f"{what} must be a lowercase hex SHA-256 digest (64 characters)")
    return text


def require_salt(salt: bytes) -> bytes:
    """`salt` if it is long enough to make a salted hash of guessable data unlinkable."""
    if len(salt) < MIN_SALT_BYTES:
        raise ContractError(f"transient salt must be at least {MIN_SALT_BYTES} random bytes")
    return salt


def sha256_hex(*parts: bytes | str) -> str:
    """SHA-256 over the parts, each length-prefixed so that no two part lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def split_codes(text: str, what: str, allowed: Iterable[str] | None = None) -> list[str]:
    """A comma-separated argument as a list of distinct codes, checked against `allowed`."""
    codes = list(dict.fromkeys(code.strip() for code in text.split(",") if code.strip()))
    if not codes:
        raise ContractError(f"{what} must name at least one code")
    if allowed is not None:
        known = set(allowed)
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ContractError(f"{what} {', '.join(unknown)} not known; use {', '.join(sorted(known))}")
    return codes


def parse_json(text: str, what: str) -> Any:
    """A JSON argument, or a ContractError saying which one is malformed."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{what} is not valid JSON: {exc.msg} at {exc.pos}") from None


def transient(ctx: Context, name: str) -> bytes:
    """A transient input the client must send (sensitive data never goes in the arguments)."""
    value = ctx.stub.get_transient().get(name)
    if not value:
        raise ContractError(f"{ctx.stub.function} needs transient field {name!r}")
    return value


def key(ctx: Context, object_type: str, *attrs: str) -> str:
    """The composite key of an object; attributes are ids or hashes, never personal data."""
    return ctx.stub.create_composite_key(object_type, attrs)


def load(ctx: Context, state_key: str, kind: type[R], missing: str) -> R:
    """The `kind` record under `state_key`, or a ContractError saying `missing`."""
    found = find(ctx, state_key, kind)
    if found is None:
        raise ContractError(missing)
    return found


def find(ctx: Context, state_key: str, kind: type[R]) -> R | None:
    """The `kind` record under `state_key`, or None."""
    data = ctx.stub.get_state(state_key)
    return None if data is None else kind.from_json(json.loads(data))


def store(ctx: Context, state_key: str, record: LedgerRecord) -> None:
    """Write a record as canonical JSON, so every endorser writes the same bytes."""
    ctx.stub.put_state(state_key, canonical_json(record.to_json()))


def changed(ctx: Context, state_key: str, record: LedgerRecord, event: str) -> JsonObject:
    """Store a changed record, announce it with `event` and hand its JSON back to the caller."""
    data = record.to_json()
    ctx.stub.put_state(state_key, canonical_json(data))
    ctx.stub.set_event(event, data)
    return data


def scan(ctx: Context, object_type: str, *attrs: str, kind: type[R]) -> list[R]:
    """Every `kind` record under composite keys starting with `object_type` and `attrs`, in key order."""
    rows = ctx.stub.get_state_by_partial_composite_key(object_type, attrs)
    return [kind.from_json(json.loads(value)) for _, value in rows]


def list_page(ctx: Context, object_type: str, *attrs: str, page_size: str, bookmark: str) -> Page:
    """One page of the composite keys starting with `object_type` and `attrs`, for a list function's
    page_size (empty: the default) and bookmark (empty: the first page) arguments. A list function
    that filters the page answers fewer items than page_size, maybe none, with a bookmark to go on."""
    return ctx.stub.get_state_by_partial_composite_key_with_pagination(
        object_type, attrs, page_size_arg(page_size), bookmark
    )


def page_records(page: Page, kind: type[R]) -> list[R]:
    """The `kind` records of a page, in key order."""
    return [kind.from_json(json.loads(value)) for _, value in page.entries]


@dataclass(frozen=True)
class Licence:
    """What the credentials contract says of a practitioner's licence at one time."""

    valid: bool
    reason: str


def licence(ctx: Context, practitioner: str, at: str) -> Licence:
    """Ask the credentials contract, in this transaction, whether `practitioner` was licensed `at`."""
    verdict = json.loads(ctx.stub.invoke_contract("credentials", "verify", [practitioner, at]))
    return Licence(verdict["valid"], verdict["reason"])


@dataclass(frozen=True)
class Relationship:
    """What the consent contract says of the caller's treatment relationship with a patient on a day."""

    related: bool
    reason: str


def treatment_relationship(ctx: Context, patient: str, day: str) -> Relationship:
    """Ask the consent contract, in this transaction, whether the calling practitioner had a
    treatment relationship with `patient` on `day` (a consent, break-glass or audited access)."""
    verdict = json.loads(ctx.stub.invoke_contract("consent", "treatment_relationship", [patient, day]))
    return Relationship(verdict["related"], verdict["reason"])
