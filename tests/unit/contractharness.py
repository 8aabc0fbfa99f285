"""A one-process ledger for contract tests: simulate through the real runtime, commit the writes.

Each `submit` is its own block, so multi-step stories read what earlier steps wrote, with real
versions (block, tx) and history. `block` commits several transactions simulated against the same
state, checking their read versions in order like the committer, so a test can show that the
second of two conflicting transactions is MVCC-invalid.

    ledger = Ledger(CredentialsContract())
    ledger.submit(REGISTRAR, "credentials", "issue", "hospital/bob", ...)
    assert ledger.refusal(BOB, "credentials", "issue", ...) == "hospital/bob may not call issue: ..."
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from careledger.chaincode import ClientIdentity, Contract, HistoryEntry
from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE, policy_key
from careledger.chaincode.runtime import (
    ContractRegistry,
    Invocation,
    SimulationResult,
    Version,
    simulate,
)
from careledger.protos import common_pb2

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def client(org: str, name: str, role: str = "", **attributes: str) -> ClientIdentity:
    """A `client` identity of `org` whose certificate carries attribute role=`role` (if given)."""
    attrs = ({"role": role} if role else {}) | attributes
    return ClientIdentity(org=org, name=name, role="client", attributes=attrs)


def admin(org: str) -> ClientIdentity:
    """The admin identity of `org` (certificate role admin, no healthcare role)."""
    return ClientIdentity(org=org, name="admin", role="admin")


class ContractRefused(AssertionError):
    """A transaction the test expected to succeed was refused."""


@dataclass
class MemoryState:
    """Committed world state over dicts: values with versions, and every key's history."""

    values: dict[tuple[str, str], tuple[bytes, Version]] = field(default_factory=dict)
    history: dict[tuple[str, str], list[HistoryEntry]] = field(default_factory=dict)

    def get_state(self, ns: str, key: str) -> tuple[bytes, Version] | None:
        return self.values.get((ns, key))

    def get_range(
        self, ns: str, start: str, end: str, limit: int = 0
    ) -> Iterable[tuple[str, bytes, Version]]:
        rows = sorted(
            (key, value, version)
            for (n, key), (value, version) in self.values.items()
            if n == ns and (not start or key >= start) and (not end or key < end)
        )
        return rows[:limit] if limit > 0 else rows

    def get_history(self, ns: str, key: str) -> list[HistoryEntry]:
        return list(self.history.get((ns, key), []))

    def is_current(self, rwset: common_pb2.ReadWriteSet) -> bool:
        """MVCC: every key and range the transaction read still has the versions it saw."""
        for ns in rwset.ns_rwset:
            for read in ns.reads:
                if self._version(ns.namespace, read.key) != _read_version(read):
                    return False
            for scan in ns.range_reads:
                seen = [(r.key, _read_version(r)) for r in scan.reads]
                now = [(k, v) for k, _, v in self.get_range(ns.namespace, scan.start_key, scan.end_key)]
                if seen != now:
                    return False
        return True

    def commit(self, ns: str, key: str, value: bytes | None, version: Version, tx_id: str,
               at: datetime) -> None:
        """Write (or, with None, delete) one committed key and add it to the key's history."""
        if value is None:
            self.values.pop((ns, key), None)
        else:
            self.values[(ns, key)] = (value, version)
        self.history.setdefault((ns, key), []).append(
            HistoryEntry(tx_id, value or b"", value is None, at, *version)
        )

    def apply(self, result: SimulationResult, tx_id: str, at: datetime, version: Version) -> None:
        for ns in result.rwset.ns_rwset:
            for write in ns.writes:
                value = None if write.is_delete else write.value
                self.commit(ns.namespace, write.key, value, version, tx_id, at)
            for meta in ns.metadata_writes:  # key-level policies, stored as a peer stores them
                self.commit(KEY_POLICY_NAMESPACE, policy_key(ns.namespace, meta.key),
                            meta.endorsement_policy.encode() or None, version, tx_id, at)

    def _version(self, ns: str, key: str) -> Version | None:
        found = self.values.get((ns, key))
        return None if found is None else found[1]


def _read_version(read: common_pb2.KVRead) -> Version | None:
    return (read.version.block_num, read.version.tx_num) if read.HasField("version") else None


@dataclass(frozen=True)
class Call:
    """One proposal for `Ledger.block`: who calls which function with what."""

    creator: ClientIdentity
    contract: str
    function: str
    args: tuple[str, ...] = ()
    transient: Mapping[str, bytes] = field(default_factory=dict)


class Ledger:
    """Contracts over a MemoryState; `now` is the time of the next proposal (tests move it)."""

    def __init__(self, *contracts: Contract) -> None:
        self.registry = ContractRegistry(contracts)
        self.state = MemoryState()
        self.now = START
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.codes: list[str] = []
        self._block = 0
        self._proposals = 0

    def simulate(self, call: Call) -> SimulationResult:
        """Endorse one proposal against committed state, without committing it."""
        return self._simulate(call)[1]

    def _simulate(self, call: Call) -> tuple[str, SimulationResult]:
        self._proposals += 1
        tx_id = f"tx{self._proposals:04d}"
        invocation = Invocation(
            tx_id=tx_id,
            channel="healthcare",
            contract=call.contract,
            function=call.function,
            args=[arg.encode() for arg in call.args],
            transient=dict(call.transient),
            timestamp=self.now,
            creator=call.creator,
        )
        return tx_id, simulate(self.registry, self.state, invocation)

    def submit(
        self,
        creator: ClientIdentity,
        contract: str,
        function: str,
        *args: str,
        transient: Mapping[str, bytes] | None = None,
    ) -> Any:
        """Run and commit a transaction in a block of its own; its JSON payload."""
        (result,) = self.block([Call(creator, contract, function, args, transient or {})])
        return _payload(result)

    def evaluate(
        self,
        creator: ClientIdentity,
        contract: str,
        function: str,
        *args: str,
        transient: Mapping[str, bytes] | None = None,
    ) -> Any:
        """Run a query; its JSON payload."""
        return _payload(self.simulate(Call(creator, contract, function, args, transient or {})))

    def refusal(
        self,
        creator: ClientIdentity,
        contract: str,
        function: str,
        *args: str,
        transient: Mapping[str, bytes] | None = None,
    ) -> str:
        """Run a call the contract must refuse; the refusal's message (nothing is committed)."""
        result = self.simulate(Call(creator, contract, function, args, transient or {}))
        assert result.response.status == 500, f"expected a refusal, got {result.response.payload!r}"
        assert not result.rwset.ns_rwset and result.event is None
        return result.response.message

    def block(self, calls: list[Call]) -> list[SimulationResult]:
        """Simulate every call on the same state, then commit the valid ones in order.

        `self.codes` then holds each transaction's validation code: VALID, REFUSED (the contract
        refused it at endorsement) or MVCC_READ_CONFLICT (an earlier transaction changed its reads).
        """
        simulated = [self._simulate(call) for call in calls]
        self._block += 1
        self.codes = []
        for tx_num, (tx_id, result) in enumerate(simulated):
            if result.response.status != 200:
                self.codes.append("REFUSED")
            elif not self.state.is_current(result.rwset):
                self.codes.append("MVCC_READ_CONFLICT")
            else:
                self.state.apply(result, tx_id, self.now, (self._block, tx_num))
                if result.event is not None:
                    self.events.append((result.event.event_name, json.loads(result.event.payload)))
                self.codes.append("VALID")
        return [result for _, result in simulated]

    def event(self) -> tuple[str, dict[str, Any]]:
        """The last committed event's name and payload."""
        return self.events[-1]

    def later(self, **delta: float) -> datetime:
        """Move the clock forward (`days=`, `hours=`...) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


def _payload(result: SimulationResult) -> Any:
    if result.response.status != 200:
        raise ContractRefused(f"{result.response.status}: {result.response.message}")
    return json.loads(result.response.payload) if result.response.payload else None
