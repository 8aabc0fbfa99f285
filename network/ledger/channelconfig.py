"""The channel configuration on the ledger, and the one rule for changing it.

Block 0 (the genesis block) holds a `_config` transaction with the first configuration; every later
configuration is a `_config` transaction alone in its block, carrying a `ConfigUpdate` (the whole
new configuration, for the sequence after the one in force) and the signatures of enough
organisation admins under the admins policy of the configuration in force. Orderers check an
update with `validate_update` before ordering it and again when they store its block; peers check
it with the same function when they validate the block, so every node switches at the same block.

A config transaction is an ordinary Envelope: Transaction.proposal names contract `_config`,
function `update` and args[0] = the serialized ConfigUpdate; Transaction.endorsements are the
admins' signatures over args[0] (endorser = the admin's certificate); response_payload is empty.
Valid, it writes the new ChannelConfig under key `channel` of the reserved namespace `_config`.

Pure: no I/O, no node code, so peers, orderers, tools and the CLI share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from google.protobuf.message import DecodeError

from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Membership
from careledger.network.ledger import policy as policies
from careledger.protos import common_pb2, config_pb2

CONFIG_CONTRACT = "_config"  # the proposal's contract of a config transaction
CONFIG_FUNCTION = "update"
CONFIG_NAMESPACE = "_config"  # reserved state namespace holding the configuration in force
CONFIG_KEY = "channel"
MAJORITY = "MAJORITY"  # more than half of the member orgs of the configuration in force
SERVICES = ("query", "block_events", "deliver")


class ConfigUpdateError(Exception):
    """A configuration (update) is refused; `denied` when what is missing is admin signatures."""

    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied


@dataclass(frozen=True)
class Endpoint:
    """Where a peer or orderer of the channel listens."""

    name: str
    org: str
    host: str
    port: int

    @property
    def id(self) -> str:
        return f"{self.name}.{self.org}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def to_message(self) -> config_pb2.Endpoint:
        return config_pb2.Endpoint(name=self.name, org=self.org, host=self.host, port=self.port)

    @classmethod
    def of(cls, msg: config_pb2.Endpoint) -> Endpoint:
        return cls(msg.name, msg.org, msg.host, msg.port)


@dataclass(frozen=True)
class OrgDefinition:
    """One organisation of the channel: its CA (its identities are members), revocations, peers."""

    name: str
    ca_cert: bytes = field(repr=False)
    revoked_serials: tuple[str, ...] = ()
    peers: tuple[Endpoint, ...] = ()
    orderer_org: bool = False

    def to_message(self) -> config_pb2.OrgConfig:
        return config_pb2.OrgConfig(name=self.name, ca_cert=self.ca_cert,
                                    revoked_serials=list(self.revoked_serials),
                                    peers=[p.to_message() for p in self.peers], orderer_org=self.orderer_org)

    @classmethod
    def of(cls, msg: config_pb2.OrgConfig) -> OrgDefinition:
        return cls(msg.name, bytes(msg.ca_cert), tuple(msg.revoked_serials),
                   tuple(Endpoint.of(p) for p in msg.peers), msg.orderer_org)


def resolve_policy(text: str, member_orgs: Sequence[str]) -> policies.Policy:
    """A channel policy text against the member orgs: MAJORITY (or empty) is OutOf(n/2+1, all)."""
    if not text or text.strip().upper() == MAJORITY:
        if not member_orgs:
            raise ConfigUpdateError("policy MAJORITY needs at least one member organisation")
        return policies.OutOf(len(member_orgs) // 2 + 1,
                              tuple(policies.Org(o) for o in sorted(member_orgs)))
    try:
        parsed = policies.parse(text)
    except policies.PolicyError as exc:
        raise ConfigUpdateError(str(exc)) from exc
    unknown = sorted(parsed.orgs() - set(member_orgs))
    if unknown:
        raise ConfigUpdateError(f"policy {text!r} names {', '.join(unknown)}, not member organisation(s) "
                                f"of the channel ({', '.join(sorted(member_orgs))})")
    return parsed


def describe_policy(text: str, member_orgs: Sequence[str]) -> str:
    """How a refusal names a policy: MAJORITY with the orgs it counts, else its text."""
    if not text or text.strip().upper() == MAJORITY:
        return f"{MAJORITY} of {', '.join(sorted(member_orgs))}"
    return text


@dataclass(frozen=True)
class ChannelConfig:
    """The configuration in force, checked and resolved: memberships built, policies parsed."""

    message: config_pb2.ChannelConfig = field(repr=False, compare=False)
    channel: str
    sequence: int
    orgs: tuple[OrgDefinition, ...]
    orderers: tuple[Endpoint, ...]
    admins_text: str
    lifecycle_text: str
    admins: policies.Policy
    lifecycle: policies.Policy
    access_query: tuple[str, ...]
    access_block_events: tuple[str, ...]
    access_deliver: tuple[str, ...]
    batch_max_tx: int
    batch_max_bytes: int
    batch_timeout_ms: int
    clock_skew_s: float
    membership: Membership = field(repr=False, compare=False)  # every org, the ordering org too
    member_membership: Membership = field(repr=False, compare=False)  # member orgs only
    orderer_membership: Membership = field(repr=False, compare=False)  # the ordering org(s)

    @property
    def member_orgs(self) -> tuple[str, ...]:
        """The organisations that transact, endorse and vote (not the ordering org)."""
        return tuple(o.name for o in self.orgs if not o.orderer_org)

    @property
    def orderer_orgs(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.orgs if o.orderer_org)

    @property
    def clock_skew(self) -> timedelta:
        return timedelta(seconds=self.clock_skew_s)

    def org(self, name: str) -> OrgDefinition | None:
        return next((o for o in self.orgs if o.name == name), None)

    def peers_of(self, org: str) -> tuple[Endpoint, ...]:
        found = self.org(org)
        return found.peers if found else ()

    def ca_pems(self, orgs: Iterable[str] | None = None) -> list[bytes]:
        """CA certificates of `orgs` (default all), in name order: e.g. TLS roots."""
        wanted = set(orgs) if orgs is not None else None
        return [o.ca_cert for o in sorted(self.orgs, key=lambda o: o.name)
                if wanted is None or o.name in wanted]

    def revoked(self, orgs: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
        wanted = set(orgs) if orgs is not None else None
        return {o.name: o.revoked_serials for o in self.orgs if wanted is None or o.name in wanted}

    def describe_admins(self) -> str:
        return describe_policy(self.admins_text, self.member_orgs)

    def to_bytes(self) -> bytes:
        """The stored form (state value, genesis): deterministic protobuf."""
        return self.message.SerializeToString(deterministic=True)

    def update_to(self, new: config_pb2.ChannelConfig) -> config_pb2.ConfigUpdate:
        """An unsigned update replacing this configuration with `new` (its sequence is set here)."""
        message = config_pb2.ChannelConfig()
        message.CopyFrom(new)
        message.channel, message.sequence = self.channel, self.sequence + 1
        return config_pb2.ConfigUpdate(channel=self.channel, sequence=self.sequence + 1, config=message)

    def apply_to(self, memberships: tuple[Membership, Membership, Membership]) -> None:
        """Make running Memberships (all, members, orderer orgs) trust what this config says."""
        everyone, members, orderer = memberships
        everyone.update(_cas(self.orgs), self.revoked())
        members.update(_cas(o for o in self.orgs if not o.orderer_org), self.revoked(self.member_orgs))
        orderer.update(_cas(o for o in self.orgs if o.orderer_org), self.revoked(self.orderer_orgs))

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChannelConfig:
        try:
            message = config_pb2.ChannelConfig.FromString(raw)
        except DecodeError as exc:
            raise ConfigUpdateError(f"channel configuration does not parse: {exc}") from exc
        return cls.of(message)

    @classmethod
    def of(cls, message: config_pb2.ChannelConfig) -> ChannelConfig:
        """Check a configuration for use; ConfigUpdateError names the first problem."""
        orgs = tuple(OrgDefinition.of(o) for o in message.orgs)
        names = [o.name for o in orgs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigUpdateError(f"organisation(s) {', '.join(twice)} appear more than once")
        members = [o.name for o in orgs if not o.orderer_org]
        if not members:
            raise ConfigUpdateError("the configuration has no member organisation; a channel needs at "
                                    "least one (the last one cannot be removed)")
        if not any(o.orderer_org for o in orgs):
            raise ConfigUpdateError("the configuration has no ordering organisation (orderer_org): "
                                    "no block signature could be checked")
        if not message.orderers:
            raise ConfigUpdateError("the configuration lists no orderer endpoint")
        stray = sorted({e.org for e in message.orderers} - {o.name for o in orgs if o.orderer_org})
        if stray:
            raise ConfigUpdateError(f"orderer endpoint(s) of {', '.join(stray)}, which is no ordering "
                                    "organisation of the configuration")
        for o in orgs:
            if any(p.org != o.name for p in o.peers):
                raise ConfigUpdateError(f"organisation {o.name} lists a peer of another organisation")
        batch, access = message.batch, message.access
        if batch.max_tx < 1 or batch.max_bytes < 1:
            raise ConfigUpdateError(f"batch max_tx {batch.max_tx} and max_bytes {batch.max_bytes} must "
                                    "be at least 1")
        if not message.clock_skew_s > 0:
            raise ConfigUpdateError(f"clock_skew_s {message.clock_skew_s} must be a positive number of "
                                    "seconds")
        missing = {"peer", "orderer"} - set(access.deliver)
        if missing:
            raise ConfigUpdateError(f"access.deliver must include {' and '.join(sorted(missing))}: "
                                    "peers and orderers pull blocks over Deliver")
        try:
            memberships = (
                Membership(_cas(orgs), {o.name: o.revoked_serials for o in orgs}),
                Membership(_cas(o for o in orgs if not o.orderer_org)),
                Membership(_cas(o for o in orgs if o.orderer_org)),
            )
        except IdentityError as exc:
            raise ConfigUpdateError(str(exc)) from exc
        config = cls(
            message=message, channel=message.channel, sequence=message.sequence, orgs=orgs,
            orderers=tuple(Endpoint.of(e) for e in message.orderers),
            admins_text=message.policies.admins or MAJORITY,
            lifecycle_text=message.policies.lifecycle or MAJORITY,
            admins=resolve_policy(message.policies.admins, members),
            lifecycle=resolve_policy(message.policies.lifecycle, members),
            access_query=tuple(access.query), access_block_events=tuple(access.block_events),
            access_deliver=tuple(access.deliver), batch_max_tx=batch.max_tx,
            batch_max_bytes=batch.max_bytes, batch_timeout_ms=batch.timeout_ms,
            clock_skew_s=message.clock_skew_s, membership=memberships[0],
            member_membership=memberships[1], orderer_membership=memberships[2],
        )
        config.apply_to(memberships)  # the member and orderer views get their revocations too
        return config


def _cas(orgs: Iterable[OrgDefinition]) -> dict[str, bytes]:
    return {o.name: o.ca_cert for o in orgs}


@dataclass(frozen=True)
class ConfigTx:
    """A config transaction's content: the update's bytes (what admins sign) and the signatures."""

    update_bytes: bytes
    update: config_pb2.ConfigUpdate
    signatures: tuple[tuple[bytes, bytes], ...]  # (admin certificate PEM, signature over update_bytes)


def is_config(proposal: common_pb2.Proposal) -> bool:
    return proposal.contract == CONFIG_CONTRACT


def read_config_tx(transaction: common_pb2.Transaction, proposal: common_pb2.Proposal) -> ConfigTx:
    """The update and signatures of a `_config` transaction; ConfigUpdateError if malformed."""
    if proposal.function != CONFIG_FUNCTION or len(proposal.args) != 1:
        raise ConfigUpdateError(f"a config transaction calls {CONFIG_CONTRACT}.{CONFIG_FUNCTION} with one "
                                f"argument (the ConfigUpdate), not {proposal.function!r} with "
                                f"{len(proposal.args)}")
    raw = bytes(proposal.args[0])
    try:
        update = config_pb2.ConfigUpdate.FromString(raw)
    except DecodeError as exc:
        raise ConfigUpdateError(f"the config update does not parse: {exc}") from exc
    return ConfigTx(raw, update, tuple((bytes(e.endorser), bytes(e.signature))
                                       for e in transaction.endorsements))


def config_tx_of(envelope: bytes) -> ConfigTx | None:
    """The ConfigTx of a serialized envelope if it is a config transaction, else None."""
    try:
        env = common_pb2.Envelope.FromString(envelope)
        tx = common_pb2.Transaction.FromString(env.payload)
        proposal = common_pb2.Proposal.FromString(tx.proposal)
    except DecodeError:
        return None
    if not is_config(proposal):
        return None
    try:
        return read_config_tx(tx, proposal)
    except ConfigUpdateError:
        return None


def block_config_tx(block: common_pb2.Block) -> ConfigTx | None:
    """The config transaction of a config block (it is alone in its block), else None."""
    if len(block.data.envelopes) != 1:
        return None
    return config_tx_of(block.data.envelopes[0])


def _admin_orgs(signer_members: Membership, member_orgs: Sequence[str], data: bytes,
                signatures: Sequence[tuple[bytes, bytes]], at: datetime | None) -> tuple[set[str], list[str]]:
    """Orgs whose admins validly signed `data`, and why the other signatures do not count."""
    orgs: set[str] = set()
    ignored: list[str] = []
    for cert, signature in signatures:
        try:
            who = signer_members.verify(cert, data, signature, at=at)
        except IdentityError as exc:
            ignored.append(str(exc))
            continue
        if who.role != "admin":
            ignored.append(f"{who.id} is a {who.role}, not an admin")
        elif who.org not in member_orgs:
            ignored.append(f"{who.id} is an admin of {who.org}, not of a member organisation")
        else:
            orgs.add(who.org)
    return orgs, ignored


def _check_signatures(judge: ChannelConfig, update: config_pb2.ConfigUpdate, update_bytes: bytes,
                      signatures: Sequence[tuple[bytes, bytes]], at: datetime | None) -> None:
    orgs, ignored = _admin_orgs(judge.membership, judge.member_orgs, update_bytes, signatures, at)
    if judge.admins.satisfied_by(orgs):
        return
    needed = getattr(judge.admins, "n", 1)
    have = f"admin signatures of {', '.join(sorted(orgs))} only" if orgs else "no valid admin signature"
    why = f" (not counted: {'; '.join(ignored)})" if ignored else ""
    raise ConfigUpdateError(
        f"config update {update.sequence} has {have}; the admins policy {judge.describe_admins()} "
        f"needs {needed}{why}; collect more admins' signatures with `careledger channel sign`",
        denied=True)


def validate_update(current: ChannelConfig, update_bytes: bytes,
                    signatures: Sequence[tuple[bytes, bytes]], at: datetime | None = None) -> ChannelConfig:
    """The new configuration if the update may replace `current`, judged at time `at` (a block's
    time; None: now); else ConfigUpdateError naming what is wrong or missing."""
    try:
        update = config_pb2.ConfigUpdate.FromString(update_bytes)
    except DecodeError as exc:
        raise ConfigUpdateError(f"the config update does not parse: {exc}") from exc
    if update.channel != current.channel:
        raise ConfigUpdateError(f"config update {update.sequence} is for channel {update.channel!r}; this "
                                f"channel is {current.channel!r}")
    if update.sequence != current.sequence + 1:
        raise ConfigUpdateError(
            f"config update {update.sequence} does not follow the configuration in force (sequence "
            f"{current.sequence}): an update must carry sequence {current.sequence + 1}; make it again "
            "from the current configuration with `careledger channel update`")
    new = update.config
    if new.channel != update.channel or new.sequence != update.sequence:
        raise ConfigUpdateError(f"config update {update.sequence} carries a configuration for channel "
                                f"{new.channel!r} sequence {new.sequence}; they must match the update")
    config = ChannelConfig.of(new)
    gone = sorted(set(current.orderer_orgs) - set(config.orderer_orgs))
    if gone:
        raise ConfigUpdateError(f"config update {update.sequence} removes ordering organisation "
                                f"{', '.join(gone)}, which signs the channel's blocks")
    _check_signatures(current, update, update_bytes, signatures, at)
    return config


def validate_genesis(update_bytes: bytes, signatures: Sequence[tuple[bytes, bytes]],
                     at: datetime | None = None) -> ChannelConfig:
    """The first configuration (sequence 0), signed by admins under its own admins policy."""
    try:
        update = config_pb2.ConfigUpdate.FromString(update_bytes)
    except DecodeError as exc:
        raise ConfigUpdateError(f"the genesis configuration does not parse: {exc}") from exc
    if update.sequence != 0 or update.config.sequence != 0 or update.config.channel != update.channel:
        raise ConfigUpdateError(f"the genesis configuration must have sequence 0 for its own channel, "
                                f"not {update.sequence} for {update.config.channel!r}")
    config = ChannelConfig.of(update.config)
    _check_signatures(config, update, update_bytes, signatures, at)
    return config


def next_config(current: ChannelConfig | None, tx: ConfigTx, at: datetime | None) -> ChannelConfig:
    """The configuration after a config transaction: the genesis one when none is in force."""
    if current is None:
        return validate_genesis(tx.update_bytes, tx.signatures, at)
    return validate_update(current, tx.update_bytes, tx.signatures, at)


def state_write(tx: ConfigTx) -> common_pb2.KVWrite:
    """What a valid config transaction writes into state: the new configuration."""
    return common_pb2.KVWrite(key=CONFIG_KEY,
                              value=tx.update.config.SerializeToString(deterministic=True))
