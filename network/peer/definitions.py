"""Contract definitions in force, read from the `_lifecycle` namespace of the world state.

The ledger, never network.json, says which contracts exist, at which version and sequence, under
which endorsement policy and from which package. `ContractDefinitions` is the Mapping of policies the
Validator and the gateway's endorser choice consult: a policy lookup reads the committed state, so
a block is judged by the definitions committed before it (replays in repair, `ledger verify
--state` and joins from a snapshot judge alike). `LiveContracts` gives the endorser the contracts to
run: the system contract `_lifecycle` and each defined contract loaded from its installed package;
it is rebuilt when a block wrote to `_lifecycle` (refresh) or a package is installed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import grpc

from careledger.chaincode.contract import Contract
from careledger.chaincode.errors import ContractDefinitionError
from careledger.chaincode.runtime import ContractRegistry
from careledger.chaincode.state import Version
from careledger.network.ledger import channelconfig
from careledger.network.ledger.policy import Policy, parse
from careledger.network.node.grpcutil import RequestError
from careledger.network.peer.outcome import TxOutcome

log = logging.getLogger(__name__)
LIFECYCLE = "_lifecycle"  # the system contract and its state namespace
DEFINITION_PREFIX = "definition/"


@dataclass(frozen=True)
class Definition:
    """A committed contract definition: what every org's peers run and endorse by."""

    name: str
    version: str
    sequence: int
    policy: str
    package_id: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Definition:
        data = json.loads(raw)
        return cls(str(data["name"]), str(data["version"]), int(data["sequence"]), str(data["policy"]),
                   str(data["package_id"]))


def definition_key(name: str) -> str:
    return DEFINITION_PREFIX + name


@dataclass(frozen=True)
class LifecycleRule:
    """Who must endorse (and approve before) a lifecycle commit: the channel's lifecycle policy."""

    member_orgs: tuple[str, ...]
    policy: Policy
    description: str  # how refusals name it, e.g. "MAJORITY of board, hospital, insurer"


def lifecycle_policy(orgs: Sequence[str], text: str = channelconfig.MAJORITY) -> LifecycleRule:
    """The rule for these member orgs: MAJORITY (more than half of them) unless `text` says else."""
    members = tuple(orgs)  # in the channel's order: refusals name whom to ask in it
    return LifecycleRule(members, channelconfig.resolve_policy(text, members),
                         channelconfig.describe_policy(text, members))


class StateReader(Protocol):
    """The committed state this module reads (the peer's StateDB, or a test's)."""

    def get_state(self, ns: str, key: str) -> tuple[bytes, Version] | None: ...

    def get_range(self, ns: str, start: str, end: str) -> Iterable[tuple[str, bytes, Version]]: ...


class ContractDefinitions(Mapping[str, Policy]):
    """Endorsement policies by contract name, as committed: `_lifecycle`'s is the channel's
    lifecycle policy; every other one is its definition's."""

    def __init__(self, state: StateReader, fallback_orgs: Sequence[str]) -> None:
        self._state = state
        self._fallback = lifecycle_policy(fallback_orgs)  # a ledger without a channel configuration
        self._parsed: dict[bytes, tuple[Definition, Policy]] = {}
        self._rule: tuple[bytes, LifecycleRule] | None = None
        self._lock = threading.Lock()

    def definition(self, name: str) -> Definition | None:
        found = self._lookup(name)
        return None if found is None else found[0]

    def _lookup(self, name: str) -> tuple[Definition, Policy] | None:
        found = self._state.get_state(LIFECYCLE, definition_key(name))
        if found is None:
            return None
        with self._lock:
            cached = self._parsed.get(found[0])
            if cached is None:
                definition = Definition.from_bytes(found[0])
                cached = self._parsed[found[0]] = (definition, parse(definition.policy))
            return cached

    def definitions(self) -> list[Definition]:
        """Every committed definition, by name."""
        rows = self._state.get_range(LIFECYCLE, DEFINITION_PREFIX, DEFINITION_PREFIX[:-1] + "0")
        return [Definition.from_bytes(raw) for _, raw, _ in rows]

    def lifecycle_rule(self) -> LifecycleRule:
        """The lifecycle policy of the channel configuration in force (its member orgs counted)."""
        found = self._state.get_state(channelconfig.CONFIG_NAMESPACE, channelconfig.CONFIG_KEY)
        if found is None:
            return self._fallback
        with self._lock:
            if self._rule is None or self._rule[0] != found[0]:
                config = channelconfig.ChannelConfig.from_bytes(found[0])
                self._rule = (found[0], LifecycleRule(
                    tuple(config.member_orgs), config.lifecycle,
                    channelconfig.describe_policy(config.lifecycle_text, config.member_orgs)))
            return self._rule[1]

    def __getitem__(self, name: str) -> Policy:
        if name == LIFECYCLE:
            return self.lifecycle_rule().policy
        found = self._lookup(name)
        if found is None:
            raise KeyError(name)
        return found[1]

    def __iter__(self) -> Iterator[str]:
        return iter([LIFECYCLE, *(d.name for d in self.definitions())])

    def __len__(self) -> int:
        return 1 + len(self.definitions())


class PackageSource(Protocol):
    """The installed packages (installed.InstalledPackages)."""

    @property
    def generation(self) -> int: ...

    def contract(self, package_id: str) -> Contract | None: ...


class LiveContracts:
    """The contracts this peer runs now: `_lifecycle` and every defined contract whose package is
    installed here. A defined contract without its package is refused with FAILED_PRECONDITION."""

    def __init__(self, peer_id: str, definitions: ContractDefinitions, packages: PackageSource,
                 system: Sequence[Contract]) -> None:
        self._peer = peer_id
        self._definitions = definitions
        self._packages = packages
        self._system = system
        self._lock = threading.Lock()
        self._generation = 0
        self._cached: tuple[tuple[int, int], ContractRegistry, dict[str, Definition],
                            dict[str, str]] | None = None

    def refresh(self) -> None:
        """A block wrote to `_lifecycle`: the next call reads the definitions again."""
        with self._lock:
            self._generation += 1

    def _current(self) -> tuple[ContractRegistry, dict[str, Definition], dict[str, str]]:
        with self._lock:
            key = (self._generation, self._packages.generation)
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1], self._cached[2], self._cached[3]
        registry = ContractRegistry()
        for system in self._system:
            registry.register(system, system=True)
        defined = {d.name: d for d in self._definitions.definitions()}
        broken: dict[str, str] = {}
        for definition in defined.values():
            try:
                contract = self._packages.contract(definition.package_id)
                if contract is not None:
                    registry.register(contract)
            except ContractDefinitionError as exc:  # the package's code does not load: say so
                log.error("peer %s cannot load %s: %s", self._peer, definition.package_id, exc)
                broken[definition.name] = str(exc)
        with self._lock:
            self._cached = (key, registry, defined, broken)
        return registry, defined, broken

    def registry_for(self, contract: str) -> ContractRegistry:
        """The registry to simulate a call of `contract` in; refuses a defined contract whose
        package this peer lacks (an unknown one is the runtime's 404, naming the deployed ones)."""
        registry, defined, broken = self._current()
        definition = defined.get(contract)
        if contract in broken:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"peer {self._peer} cannot run contract {contract}: {broken[contract]}")
        if definition is not None and registry.get(contract) is None:
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"contract {contract} version {definition.version} (sequence {definition.sequence}) "
                f"is defined with package {definition.package_id}, which peer {self._peer} has not "
                f"installed; an admin of its org runs `careledger contract install PACKAGE "
                f"--peer {self._peer}`")
        return registry

    def names(self) -> list[str]:
        return self._current()[0].names()


def wrote_lifecycle(outcomes: Sequence[TxOutcome]) -> bool:
    """Whether a block's valid transactions wrote to `_lifecycle` (definitions may have changed)."""
    return any(ns == LIFECYCLE for o in outcomes if o.valid for ns, _ in o.writes)
