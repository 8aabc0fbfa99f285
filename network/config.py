"""The network's configuration: what `network up` reads (TOML) and what nodes read (the profile).

The TOML file says what the network should be; `network up` resolves it into `network.json` (the
profile: addresses, ports, contract policies) in the network directory. Nodes, the CLI and the SDK's
`connect_local` read only the profile, so a running network has one source of truth.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

DEFAULT_CONFIG = Path(__file__).with_name("default-network.toml")
PROFILE_NAME = "network.json"
DEFAULT_RECORDS_ORG = "hospital"  # hosts the off-ledger record store when [records] names none


class ConfigError(Exception):
    """The network configuration or profile is missing or malformed."""


@dataclass(frozen=True)
class NodeInfo:
    """One peer or orderer: who it is and where it listens."""

    name: str
    org: str
    host: str
    port: int
    ops_port: int = 0  # HTTP /healthz and /metrics; 0 = none

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def id(self) -> str:
        return f"{self.name}.{self.org}"


CONSENSUS_TYPES = ("solo", "etcd")


@dataclass(frozen=True)
class EtcdSettings:
    """Where the orderers keep the chain with `consensus = "etcd"`, and how they share it.

    Without endpoints, `network up` runs a local cluster of `members` etcd processes and fills in
    their addresses in the profile; with endpoints, the orderers use the cluster an admin runs.
    """

    endpoints: tuple[str, ...] = ()
    members: int = 3
    ca_file: str = ""  # TLS towards the admin's cluster: the CA that signed its server certificates
    cert_file: str = ""  # ... and the orderers' client certificate and key, if it asks for one
    key_file: str = ""
    prefix: str = "/careledger"  # keys live under PREFIX/CHANNEL/, so one cluster can serve many channels
    lease_ttl_s: int = 2  # a dead leader's lease expires after this long; then another orderer leads
    retain_blocks: int = 100  # blocks kept in etcd behind the newest, once every orderer stored them

    @classmethod
    def parse(cls, raw: dict[str, object]) -> EtcdSettings:
        endpoints = raw.get("endpoints", ())
        if not isinstance(endpoints, list | tuple):
            raise ValueError("orderer.etcd.endpoints must be a list of host:port strings")
        return cls(**{**raw, "endpoints": tuple(str(e) for e in endpoints)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class OrdererSettings:
    batch_max_tx: int = 500
    batch_max_bytes: int = 4_194_304
    batch_timeout_ms: int = 100
    max_message_bytes: int = 1_048_576
    consensus: str = "solo"
    etcd: EtcdSettings = field(default_factory=EtcdSettings)
    # How far a proposal's time may lie from a node's clock (gateway, endorsers) and from its
    # block's time (committers, which then mark it EXPIRED_TIMESTAMP): one value for the channel.
    clock_skew_s: float = 300.0

    @classmethod
    def parse(cls, raw: dict[str, object]) -> OrdererSettings:
        """From the TOML [orderer] table (less org, count, host) or the profile's orderer object."""
        etcd = raw.get("etcd", {})
        if not isinstance(etcd, dict):
            raise ValueError("orderer.etcd must be a table")
        settings = cls(**{**raw, "etcd": EtcdSettings.parse(etcd)})  # type: ignore[arg-type]
        if settings.consensus not in CONSENSUS_TYPES:
            raise ValueError(f"orderer.consensus is {settings.consensus!r}; choose one of "
                             f"{', '.join(CONSENSUS_TYPES)}")
        if not settings.clock_skew_s > 0:
            raise ValueError(f"orderer.clock_skew_s is {settings.clock_skew_s!r}; it must be a "
                             "positive number of seconds (e.g. 300)")
        return settings


@dataclass(frozen=True)
class PeerSettings:
    """[peer]: how every peer runs contracts."""

    # A contract call (endorse or evaluate) running longer is cut off and answered with an error
    # naming it, so a looping contract cannot tie up the peer's threads (chaincode/sandbox.py).
    contract_time_limit_ms: int = 3000

    @classmethod
    def parse(cls, raw: object) -> PeerSettings:
        """From the TOML [peer] table or the profile's peer object."""
        if not isinstance(raw, dict):
            raise ValueError("[peer] must be a table")
        settings = cls(**raw)
        if not (isinstance(settings.contract_time_limit_ms, int)
                and settings.contract_time_limit_ms > 0):
            raise ValueError(f"peer.contract_time_limit_ms is {settings.contract_time_limit_ms!r}; "
                             "it must be a positive number of milliseconds (e.g. 3000)")
        return settings


@dataclass(frozen=True)
class EtcdMember:
    """One member of the etcd cluster that `network up` runs for the orderers."""

    name: str
    host: str
    client_port: int
    peer_port: int

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"


# Who reads full blocks (every transaction's arguments) through each read service, by role: the
# certificate's role (peer, orderer, admin, client) or, for other names, its `role` attribute.
READ_SERVICES = ("query", "block_events", "deliver")
FULL_BLOCK_READERS = ("peer", "orderer", "admin", "auditor")


@dataclass(frozen=True)
class AccessRules:
    """[access]: the roles that read full blocks through Query, BlockEvents and Deliver. Every
    other member gets filtered block events (number, tx ids, codes) and its own transactions."""

    query: tuple[str, ...] = FULL_BLOCK_READERS
    block_events: tuple[str, ...] = FULL_BLOCK_READERS
    deliver: tuple[str, ...] = FULL_BLOCK_READERS

    @classmethod
    def parse(cls, raw: object) -> AccessRules:
        """Rules from the TOML table or the profile; unknown services and non-lists are errors."""
        if not isinstance(raw, dict):
            raise ValueError("[access] must be a table of service = [roles]")
        unknown = sorted(set(raw) - set(READ_SERVICES))
        if unknown:
            raise ValueError(f"[access] names unknown service(s) {', '.join(unknown)}; "
                             f"services: {', '.join(READ_SERVICES)}")
        rules: dict[str, tuple[str, ...]] = {}
        for service, roles in raw.items():
            if not isinstance(roles, list | tuple) or not all(isinstance(r, str) and r for r in roles):
                raise ValueError(f"access.{service} must be a list of role names, not {roles!r}")
            rules[service] = tuple(roles)
        access = cls(**rules)
        missing = {"peer", "orderer"} - set(access.deliver)
        if missing:
            raise ValueError(f"access.deliver must include {' and '.join(sorted(missing))}: peers "
                             "and orderers pull blocks over Deliver")
        return access


@dataclass(frozen=True)
class ContractInfo:
    name: str
    cls: str
    policy: str


@dataclass(frozen=True)
class UserSpec:
    """A client identity to issue, with the attributes its certificate carries (e.g. role=patient)."""

    name: str
    attributes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: str | dict[str, object]) -> UserSpec:
        if isinstance(raw, str):
            return cls(raw)
        attrs = raw.get("attributes", {})
        if not isinstance(attrs, dict):
            raise ValueError(f"attributes of user {raw.get('name')!r} must be a table")
        return cls(str(raw["name"]), tuple(sorted((str(k), str(v)) for k, v in attrs.items())))


@dataclass(frozen=True)
class OrgSpec:
    name: str
    peers: int = 1
    users: tuple[UserSpec, ...] = ()
    host: str = "127.0.0.1"  # where the org's nodes listen; goes into their TLS certificates


# --- The TOML file's schema -------------------------------------------------------------------------
# Checked with pydantic (v2) before anything below reads the file: strict types (no "lots" for an
# integer, no 1 for a string), unknown keys refused, and each error located by key path, which the
# hand-written checks below never did. The models mirror the TOML one to one; the dataclasses above
# stay what the rest of the code uses.

class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _EtcdTable(_Table):
    endpoints: list[Annotated[str, Field(min_length=1)]] = []
    members: int = 3
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    prefix: str = "/careledger"
    lease_ttl_s: int = 2
    retain_blocks: int = 100


class _OrdererTable(_Table):
    org: Annotated[str, Field(min_length=1)] = "orderer"
    count: int = 1
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    batch_max_tx: Annotated[int, Field(gt=0)] = 500
    batch_max_bytes: Annotated[int, Field(gt=0)] = 4_194_304
    batch_timeout_ms: Annotated[int, Field(ge=0)] = 100
    max_message_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    consensus: Literal["solo", "etcd"] = "solo"
    etcd: _EtcdTable = _EtcdTable()
    clock_skew_s: Annotated[float, Field(gt=0)] = 300.0


class _PeerTable(_Table):
    contract_time_limit_ms: Annotated[int, Field(gt=0)] = 3000


class _AccessTable(_Table):
    query: list[Annotated[str, Field(min_length=1)]] = list(FULL_BLOCK_READERS)
    block_events: list[Annotated[str, Field(min_length=1)]] = list(FULL_BLOCK_READERS)
    deliver: list[Annotated[str, Field(min_length=1)]] = list(FULL_BLOCK_READERS)


class _RecordsTable(_Table):
    host_org: Annotated[str, Field(min_length=1)] = DEFAULT_RECORDS_ORG


class _UserTable(_Table):
    name: Annotated[str, Field(min_length=1)]
    attributes: dict[str, str] = {}


class _OrgTable(_Table):
    name: Annotated[str, Field(min_length=1)]
    peers: Annotated[int, Field(ge=1)] = 1
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    users: list[_UserTable] = []

    @field_validator("users", mode="before")
    @classmethod
    def _bare_names(cls, users: object) -> object:
        """`users = ["alice"]` is short for `users = [{ name = "alice" }]`."""
        if isinstance(users, list):
            return [{"name": u} if isinstance(u, str) else u for u in users]
        return users


class _ContractTable(_Table):
    class_: Annotated[str, Field(alias="class", pattern=r"^[\w.]+:\w+$")]
    policy: Annotated[str, Field(min_length=1)]


class _NetworkFile(_Table):
    channel: Annotated[str, Field(min_length=1)] = "healthcare"
    orderer: _OrdererTable = _OrdererTable()
    orgs: Annotated[list[_OrgTable], Field(min_length=1)]
    contracts: dict[str, _ContractTable] = {}
    access: _AccessTable = _AccessTable()
    records: _RecordsTable = _RecordsTable()
    peer: _PeerTable = _PeerTable()

    @model_validator(mode="after")
    def _org_names_unique(self) -> _NetworkFile:
        names = [o.name for o in self.orgs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"org name(s) {', '.join(twice)} appear in more than one [[orgs]] table")
        if self.orderer.org in names:
            raise ValueError(f"orderer.org {self.orderer.org!r} is also a peer org; the ordering "
                             "organisation needs a name of its own")
        return self


_EXPECTED = {
    "int_type": "expected an integer", "string_type": "expected a string",
    "float_type": "expected a number", "bool_type": "expected true or false",
    "list_type": "expected an array", "dict_type": "expected a table", "model_type": "expected a table",
}


def _field_models(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the table at `loc` (field names, list indexes and dict keys), if it is one."""
    current: object = model
    for part in loc:
        while get_origin(current) is Annotated:
            current = get_args(current)[0]
        if isinstance(current, type) and issubclass(current, BaseModel):
            field_info = next((f for n, f in current.model_fields.items()
                               if part in (n, f.alias)), None)
            if field_info is None:
                return None
            current = field_info.annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    while get_origin(current) is Annotated:
        current = get_args(current)[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_error(path: Path, error: ErrorDetails) -> str:
    """One pydantic error as `FILE: KEY: what was expected, got what`."""
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        key, table = str(loc[-1]), loc[:-1]
        where = f"in [{_key_path(table)}]" if table else "at the top level"
        model = _field_models(_NetworkFile, table)
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        hint = get_close_matches(key, known, n=1)
        suggestion = (f'; did you mean "{hint[0]}"?' if hint
                      else f"; keys there: {', '.join(known)}" if known else "")
        return f'{path}: unknown key "{key}" {where}{suggestion}'
    key = _key_path(loc) or "(top level)"
    if kind == "missing":
        why = "; a network needs at least one [[orgs]] table with a name" if loc == ("orgs",) else ""
        return f"{path}: {key}: required key is missing{why}"
    if kind in _EXPECTED:
        return f"{path}: {key}: {_EXPECTED[kind]}, got {_shown(error['input'])}"
    message = error["msg"]
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if kind == "literal_error":
        message = "expected " + message.removeprefix("input should be ")
    return f"{path}: {key}: {message}, got {_shown(error['input'])}" if loc else f"{path}: {message}"


def validate_file(path: Path, raw: dict[str, object]) -> None:
    """Check the TOML file's content against its schema; ConfigError names every problem."""
    try:
        _NetworkFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_schema_error(path, e) for e in exc.errors(include_url=False)]
        raise ConfigError("\n".join(problems)) from None


@dataclass(frozen=True)
class NetworkConfig:
    """What `network up` is asked to build (the TOML file)."""

    channel: str
    orderer_org: str
    orderer_count: int
    orderer: OrdererSettings
    orgs: tuple[OrgSpec, ...]
    contracts: tuple[ContractInfo, ...]
    orderer_host: str = "127.0.0.1"
    records_org: str = DEFAULT_RECORDS_ORG  # [records] host_org: whose peers host the record store
    access: AccessRules = AccessRules()
    peer: PeerSettings = PeerSettings()

    def with_peers_per_org(self, peers: int) -> NetworkConfig:
        """The same network with `peers` peers in every organisation."""
        return replace(self, orgs=tuple(replace(o, peers=peers) for o in self.orgs))

    def with_ordering(self, orderers: int | None, consensus: str | None) -> NetworkConfig:
        """The same network with another number of orderers and/or consensus type (None: keep)."""
        changed = replace(self, orderer_count=orderers or self.orderer_count,
                          orderer=replace(self.orderer, consensus=consensus or self.orderer.consensus))
        changed.check_ordering()
        return changed

    def check_ordering(self) -> None:
        """Refuse orderer counts the consensus type cannot keep on one chain."""
        if self.orderer.consensus not in CONSENSUS_TYPES:
            raise ConfigError(f"unknown consensus {self.orderer.consensus!r}; choose one of "
                              f"{', '.join(CONSENSUS_TYPES)}")
        if self.orderer_count < 1:
            raise ConfigError("a network needs at least one orderer")
        if self.orderer.consensus == "solo" and self.orderer_count != 1:
            raise ConfigError(f"solo consensus runs exactly one orderer ({self.orderer_count} asked): "
                              "each would cut its own chain; use consensus \"etcd\" for several")
        if self.orderer.consensus == "etcd" and not self.orderer.etcd.endpoints \
                and self.orderer.etcd.members < 1:
            raise ConfigError("orderer.etcd needs endpoints of a cluster, or members >= 1 to run one")
        if self.orderer.etcd.retain_blocks < 1 or self.orderer.etcd.lease_ttl_s < 1:
            raise ConfigError("orderer.etcd.retain_blocks and lease_ttl_s must be at least 1")

    @classmethod
    def load(cls, path: Path | None = None) -> NetworkConfig:
        path = path or DEFAULT_CONFIG
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read network config {path}: {exc}") from exc
        validate_file(path, raw)
        try:
            o = dict(raw.get("orderer", {}))
            orderer_org = o.pop("org", "orderer")
            count = int(o.pop("count", 1))
            orderer_host = str(o.pop("host", "127.0.0.1"))
            orgs = tuple(
                OrgSpec(x["name"], int(x.get("peers", 1)),
                        tuple(UserSpec.parse(u) for u in x.get("users", ())),
                        str(x.get("host", "127.0.0.1")))
                for x in raw["orgs"]
            )
            contracts = tuple(
                ContractInfo(name=n, cls=c["class"], policy=c["policy"])
                for n, c in raw.get("contracts", {}).items()
            )
            records = raw.get("records", {})
            if not isinstance(records, dict):
                raise ValueError("[records] must be a table")
            records_org = str(records.get("host_org", DEFAULT_RECORDS_ORG))
            config = cls(raw.get("channel", "healthcare"), orderer_org, count, OrdererSettings.parse(o),
                         orgs, contracts, orderer_host, records_org, AccessRules.parse(raw.get("access", {})),
                         PeerSettings.parse(raw.get("peer", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"network config {path} is malformed: {exc!r}") from exc
        config.check_ordering()
        if "host_org" in records and records_org not in {o.name for o in orgs}:
            raise ConfigError(f"records.host_org {records_org!r} in {path} is none of the network's orgs "
                              f"({', '.join(o.name for o in orgs)})")
        return config


@dataclass(frozen=True)
class Profile:
    """A resolved, running network: every node's address and every contract's policy."""

    channel: str
    orderer_org: str
    orgs: tuple[str, ...]
    orderer: OrdererSettings
    orderers: tuple[NodeInfo, ...]
    peers: tuple[NodeInfo, ...]
    contracts: tuple[ContractInfo, ...] = field(default=())
    etcd_members: tuple[EtcdMember, ...] = ()  # the local etcd cluster `network up` runs, if any
    records_org: str = DEFAULT_RECORDS_ORG  # whose peers host the off-ledger record store
    access: AccessRules = AccessRules()
    peer: PeerSettings = PeerSettings()

    def peers_of(self, org: str) -> list[NodeInfo]:
        return [p for p in self.peers if p.org == org]

    def node(self, node_id: str) -> NodeInfo:
        """Find a node by `name.org` (e.g. `peer0.hospital`) or by plain name if unique."""
        nodes = [*self.peers, *self.orderers]
        matches = [n for n in nodes if node_id == n.id] or [n for n in nodes if node_id == n.name]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(n.id for n in nodes)
        raise ConfigError(f"no node {node_id!r} in this network; nodes: {known}")

    def save(self, directory: Path) -> Path:
        path = directory / PROFILE_NAME
        data = asdict(self)
        for kind in ("peers", "orderers"):  # readers such as the SDK's connect_local want the address
            for node, raw in zip(getattr(self, kind), data[kind], strict=True):
                raw["address"] = node.address
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> Profile:
        path = directory / PROFILE_NAME
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"no network profile at {path}; start a network with `careledger network up --dir "
                f"{directory}`") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read network profile {path}: {exc}") from exc
        return cls(
            channel=d["channel"],
            orderer_org=d["orderer_org"],
            orgs=tuple(d["orgs"]),
            orderer=OrdererSettings.parse(d["orderer"]),
            orderers=tuple(_node(n) for n in d["orderers"]),
            peers=tuple(_node(n) for n in d["peers"]),
            contracts=tuple(ContractInfo(**c) for c in d["contracts"]),
            etcd_members=tuple(EtcdMember(**m) for m in d.get("etcd_members", ())),
            records_org=str(d.get("records_org", DEFAULT_RECORDS_ORG)),
            access=AccessRules.parse(d.get("access", {})),
            peer=PeerSettings.parse(d.get("peer", {})),
        )


def _node(raw: dict[str, object]) -> NodeInfo:
    return NodeInfo(str(raw["name"]), str(raw["org"]), str(raw["host"]),
                    int(raw["port"]), int(raw.get("ops_port", 0)))  # type: ignore[call-overload]


class Layout:
    """Where things live inside a network directory."""

    def __init__(self, directory: Path) -> None:
        self.root = directory
        self.crypto = directory / "crypto"
        self.logs = directory / "logs"
        self.data = directory / "data"
        self.pids = directory / "pids.json"
        self.genesis = directory / "genesis.block"  # block 0: the channel's first configuration

    def identity_dir(self, org: str, name: str) -> Path:
        return self.crypto / org / name

    def ca_cert(self, org: str) -> Path:
        return self.crypto / org / "ca" / "cert.pem"

    def node_data(self, node: NodeInfo) -> Path:
        return self.data / node.org / node.name

    def node_log(self, node: NodeInfo) -> Path:
        return self.logs / f"{node.id}.log"

    def etcd_data(self, member: EtcdMember) -> Path:
        return self.data / "etcd" / member.name

    def etcd_log(self, member: EtcdMember) -> Path:
        return self.logs / f"{member.name}.log"
