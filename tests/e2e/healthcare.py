"""Shared pieces of the healthcare end-to-end tests: callers by identity, refusals, licences, blocks.

(PYTEST_DONT_REWRITE: the test modules import it before pytest loads it as their plugin.)

A test module loads these fixtures with `pytest_plugins = ("healthcare",)`, so the session-scoped
ones (the patients' registrations, Dr Smith's licence, Dr Jones's revocation) run once per session
whichever module asks first. Every caller is a real identity of tests/e2e/network.toml: the
contracts learn who calls only from the signed certificate.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from careledger.gateway import Contract, EndorseError, EvaluateError, Gateway, GatewayError, items
from careledger.network.identity.certs import IdentitySpec, issue_identity
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

ALICE, BOB = "hospital:alice", "hospital:bob"  # role=patient
SMITH, JONES = "hospital:drsmith", "hospital:drjones"  # role=practitioner
HOSPITAL_ADMIN = "hospital:admin"
IVAN, INSURER_ADMIN = "insurer:ivan", "insurer:admin"  # ivan: role=claims-adjuster
RITA, BOARD_ADMIN = "board:rita", "board:admin"  # rita: role=registrar
ORGS = ("hospital", "insurer", "board")

LONG_AGO, FAR_AHEAD = "2020-01-01", "2099-01-01"


def ledger_id(who: str) -> str:
    """The identity id the contracts see for `org:user`: org/user."""
    return who.replace(":", "/")


def new_id(prefix: str) -> str:
    """A fresh id, so that tests sharing the session network never meet each other's state."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def issue(net: LocalNetwork, org: str, prefix: str, **attributes: str) -> str:
    """A new identity issued by `org`'s CA while the network runs (a fresh name, so sessions
    never meet); its `org:user`."""
    name = new_id(prefix)
    issue_identity(net.layout.crypto, org, IdentitySpec(name, "client", attributes))
    return f"{org}:{name}"


def today() -> date:
    """Today in UTC: the day the peers' transaction timestamps fall on."""
    return datetime.now(UTC).date()


def days_ago(n: int) -> str:
    """The ISO date n days before today (UTC)."""
    return (today() - timedelta(days=n)).isoformat()


def midnight(day: date) -> str:
    """A day's start as the contracts write instants."""
    return f"{day.isoformat()}T00:00:00Z"


def instant(text: str, **delta: float) -> str:
    """An ISO instant shifted by `delta` (seconds=..., days=...), written with a Z."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(**delta)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Committed:
    """A submitted transaction once committed: the contract's answer, tx id and validation outcome."""

    result: Any
    tx_id: str
    block: int
    code: str


class Ledger:
    """The session network seen by its identities; gateways are opened once per identity."""

    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.channel = net.profile.channel
        self._gateways: dict[str, Gateway] = {}
        self._queries = {org: QueryClient(net.directory, org) for org in ORGS}

    def contract(self, who: str, name: str) -> Contract:
        """Contract `name` as identity `who` (org:user)."""
        if who not in self._gateways:
            self._gateways[who] = self.net.connect(who)
        return self._gateways[who].get_network(self.channel).get_contract(name)

    def submit(
        self, who: str, contract: str, fn: str, *args: str, transient: Mapping[str, bytes] | None = None
    ) -> Any:
        """Submit, wait for a VALID commit on every peer and return the contract's JSON answer."""
        committed = self.commit(who, contract, fn, *args, transient=transient)
        assert committed.code == "VALID", f"{contract}.{fn} was committed {committed.code}"
        return committed.result

    def commit(
        self, who: str, contract: str, fn: str, *args: str, transient: Mapping[str, bytes] | None = None
    ) -> Committed:
        """Submit and wait until every peer has the block; the outcome whatever its validation code."""
        submitted = self.contract(who, contract).submit_async(fn, *args, transient=transient)
        return self.settle(submitted.get_status(), submitted.result)

    def settle(self, status: Any, result: bytes) -> Committed:
        """Wait until every peer holds the status's block, so that the next endorsement by any org
        reads the same state; a commit status answers for the gateway's own peer only."""
        for query in self._queries.values():
            for _ in range(100):
                if query.chain_info().height > status.block_number:
                    break
                threading.Event().wait(0.02)
            else:
                pytest.fail(f"peer {query.peer.id} never reached block {status.block_number}")
        answer = json.loads(result) if result else None
        return Committed(answer, status.tx_id, status.block_number, status.code_name)

    def evaluate(self, who: str, contract: str, fn: str, *args: str) -> Any:
        """Evaluate on the caller's own org's peer and return the JSON answer."""
        return json.loads(self.contract(who, contract).evaluate_transaction(fn, *args))

    def items(self, who: str, contract: str, fn: str, *args: str) -> list[Any]:
        """Every item of a list function, its pages read one after the other through the SDK."""
        return list(items(self.contract(who, contract), fn, *args))

    def audit_events(self, who: str, start: str = "2000-01-01", end: str = "2100-01-01") -> dict[str, dict]:
        """The patient's FHIR AuditEvents in [start, end) by id, every page of the Bundle read by
        following its `next` link (url `?bookmark=B`)."""
        found, bookmark = {}, ""
        while True:
            bundle = self.evaluate(who, "consent", "audit_events_fhir", start, end, "", bookmark)
            assert bundle["resourceType"] == "Bundle"
            found |= {entry["resource"]["id"]: entry["resource"] for entry in bundle.get("entry", [])}
            following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not following:
                return found
            bookmark = following[0].removeprefix("?bookmark=")

    def refusal(
        self, who: str, contract: str, fn: str, *args: str, transient: Mapping[str, bytes] | None = None
    ) -> str:
        """Submit a call every endorser must refuse; the contract's message (nothing reaches a block)."""
        with pytest.raises(EndorseError) as err:
            self.contract(who, contract).submit_transaction(fn, *args, transient=transient)
        messages = {detail.message for detail in err.value.details}
        assert len(messages) == 1, f"endorsers disagree or none answered: {err.value}"
        (message,) = messages
        assert str(err.value).startswith(message), "the contract's message must come first"
        return message

    def query_refusal(self, who: str, contract: str, fn: str, *args: str) -> str:
        """Evaluate a query the contract must refuse; its message."""
        with pytest.raises(EvaluateError) as err:
            self.contract(who, contract).evaluate_transaction(fn, *args)
        assert str(err.value).startswith(err.value.message)
        return err.value.message

    def block_bytes(self, number: int) -> bytes:
        """Block `number` as the hospital peer stores it, serialized."""
        return self._queries["hospital"].block(number).SerializeToString()

    def transaction(
        self, block: int, tx_id: str
    ) -> tuple[common_pb2.Proposal, common_pb2.ProposalResponsePayload]:
        """The proposal (as ordered: transient stripped) and endorsed response of a committed tx."""
        for data in self._queries["hospital"].block(block).data.envelopes:
            tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(data).payload)
            proposal = common_pb2.Proposal.FromString(tx.proposal)
            if proposal.header.tx_id == tx_id:
                return proposal, common_pb2.ProposalResponsePayload.FromString(tx.response_payload)
        raise AssertionError(f"transaction {tx_id} is not in block {block}")

    def close(self) -> None:
        for gateway in self._gateways.values():
            gateway.close()
        for query in self._queries.values():
            query.close()


def new_category() -> str:
    """A record category of its own: consents name categories, so a test's consents reach only
    the records it registered itself."""
    return f"cat-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Pointer:
    """A record registered on the ledger: its id, and the location and salted hash sent as transient."""

    record_id: str
    category: str
    location: str
    content_hash: str
    registered: Committed


def register_record(
    care: Ledger, who: str, category: str, *, record_id: str = "", location: str = "", content_hash: str = ""
) -> Pointer:
    """Register a record of patient `who` (a fresh id unless given); location and hash travel as
    transient data."""
    record_id = record_id or new_id("rec")
    location = location or f"vault://{new_id('blob')}"
    content_hash = content_hash or hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    transient = {"location": location.encode(), "content_hash": content_hash.encode()}
    committed = care.commit(who, "consent", "register_record", record_id, category, "N", transient=transient)
    assert committed.code == "VALID", committed
    return Pointer(record_id, category, location, content_hash, committed)


def ensure_patient(ledger: Ledger, who: str) -> dict | None:
    """Register `who` as a patient; its registration, or None if it was registered already."""
    try:
        return ledger.submit(who, "consent", "register_patient")
    except GatewayError as err:
        if f"patient {ledger_id(who)} is already registered" not in str(err):
            raise
        return None


@dataclass(frozen=True)
class JonesRevoked:
    """Dr Jones's licence story, told once per session: refused break-glass while unlicensed (a
    committed, audited denial; `unlicensed_break_glass` is its reason), then a licence RN-2002
    revoked with effect from today's midnight (UTC)."""

    unlicensed_break_glass: str
    issued: dict
    revoked: dict
    day: date


@pytest.fixture(scope="session")
def care(net: LocalNetwork) -> Iterator[Ledger]:
    found = Ledger(net)
    yield found
    found.close()


@pytest.fixture(scope="session")
def registered_patients(care: Ledger) -> dict[str, dict | None]:
    """Alice and Bob registered as patients; each one's registration (None if it predates us)."""
    return {who: ensure_patient(care, who) for who in (ALICE, BOB)}


@pytest.fixture(scope="session")
def smith_licensed(care: Ledger) -> dict:
    """Dr Smith holds licence MD-1001, valid 2020-2099 (issued now unless already on the ledger)."""
    try:
        care.submit(
            RITA, "credentials", "issue", ledger_id(SMITH), "MD-1001", "MD", "US-CA", "", LONG_AGO, FAR_AHEAD
        )
    except GatewayError as err:
        if "already holds a licence" not in str(err):
            raise
    verdict = care.evaluate(RITA, "credentials", "verify", ledger_id(SMITH), "")
    assert verdict["valid"], verdict
    return care.evaluate(RITA, "credentials", "get_credential", ledger_id(SMITH))


@pytest.fixture(scope="session")
def jones_revoked(care: Ledger, registered_patients: dict) -> JonesRevoked:
    jones = ledger_id(JONES)
    # a refused break-glass is committed as the patient's audited denial (issue 10): its reason
    attempt = care.commit(JONES, "consent", "break_glass", ledger_id(BOB), transient={"reason": b"collapse"})
    assert (attempt.code, attempt.result["granted"]) == ("VALID", False), attempt
    refused = attempt.result["reason"]
    issued = care.submit(
        RITA, "credentials", "issue", jones, "RN-2002", "RN", "US-CA", "", LONG_AGO, FAR_AHEAD
    )
    day = today()
    revoked = care.submit(RITA, "credentials", "revoke", jones, "licence surrendered", day.isoformat())
    return JonesRevoked(refused, issued, revoked, day)
