"""The committer's validation of a block: one validation code per transaction.

Checks run in a fixed order and the first failure wins, so every peer computes the same codes.
Signature checks are independent of each other and of state, so those of the whole block run
first; the MVCC pass then runs in block order, seeing the writes of earlier valid
transactions of the same block.

The order: channel, tx id rule, creator signature (certificate valid at the block's time),
duplicate tx id, proposal time within the clock skew of the block's time (EXPIRED_TIMESTAMP),
response payload, endorsement policy (endorser certificates valid at the block's time), MVCC and
phantom reads. A `_config` transaction (alone in its block) is instead checked against the channel
configuration in force before its block (channelconfig.validate_update; the genesis one in block 0
against itself) and, valid, writes the new configuration into state; certificates and the clock
skew of every block are judged by the configuration in force at that block, read from state, so
re-validating old blocks gives the same codes. Time is the orderer-signed block time, never this
peer's clock, so re-validating an old block later gives the same codes. (Blocks cut before blocks
carried a time are judged by the wall clock and without the time rule.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from google.protobuf.message import DecodeError

from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE, policy_key
from careledger.chaincode.state import HistoryEntry, Version
from careledger.chaincode.stub import shown
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import channelconfig, protoutil, txtime
from careledger.network.peer import keypolicies
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.policy import Policy
from careledger.network.peer.statedb import UNVERIFIED_TX_ID_CODES, StateDB
from careledger.protos import common_pb2

log = logging.getLogger(__name__)

VC = common_pb2.ValidationCode  # the type; codes are read as common_pb2.VALID etc., not VC.VALID,
# whose lookup by name (EnumTypeWrapper.__getattr__) cost several per transaction


class ValidationError(Exception):
    """A block cannot be validated or replayed as a whole (not a per-transaction failure)."""


@dataclass(frozen=True)
class _Decoded:
    """An envelope parsed down to its proposal; the response payload may still be unusable."""

    envelope: common_pb2.Envelope
    transaction: common_pb2.Transaction
    proposal: common_pb2.Proposal
    payload: common_pb2.ProposalResponsePayload | None
    payload_error: str

    @property
    def tx_id(self) -> str:
        return self.proposal.header.tx_id

    @cached_property
    def time(self) -> datetime | None:
        """The proposal's time, or None; converted once for the clock rule and the outcome."""
        return txtime.proposal_time(self.proposal.header)

    @property
    def timestamp(self) -> datetime:
        return txtime.EPOCH if self.time is None else self.time

    @cached_property
    def writes(self) -> tuple[tuple[str, common_pb2.KVWrite], ...]:
        """What the transaction writes if valid (read by the block pass and by the outcome)."""
        if channelconfig.is_config(self.proposal):  # derived from the update: no response payload
            try:
                tx = channelconfig.read_config_tx(self.transaction, self.proposal)
            except channelconfig.ConfigUpdateError:
                return ()
            return ((channelconfig.CONFIG_NAMESPACE, channelconfig.state_write(tx)),)
        if self.payload is None:
            return ()
        rwset = self.payload.rwset
        writes = tuple((ns.namespace, w) for ns in rwset.ns_rwset for w in ns.writes)
        return writes + keypolicies.state_writes(rwset)

    def event(self) -> common_pb2.ChaincodeEvent | None:
        if self.payload is None or not self.payload.HasField("event"):
            return None
        return self.payload.event

    def outcome(self, code: VC, reason: str = "") -> TxOutcome:
        """This transaction's outcome; writes and event are kept only when it is VALID."""
        valid = code == common_pb2.VALID
        return TxOutcome(
            tx_id=self.tx_id,
            code=code,
            contract=self.proposal.contract,
            writes=self.writes if valid else (),
            event=self.event() if valid else None,
            timestamp=self.timestamp,
            reason=reason,
        )


@dataclass(frozen=True)
class _Failure:
    """An envelope that does not parse far enough to have a tx id."""

    code: VC
    reason: str

    def outcome(self, code: VC | None = None) -> TxOutcome:
        return TxOutcome("", self.code if code is None else code, "", (), None, txtime.EPOCH, self.reason)


@dataclass(frozen=True)
class _Signatures:
    """Result of a transaction's signature checks: creator failure (or ""), endorsing orgs."""

    creator_error: str
    orgs: frozenset[str]

    @classmethod
    def of(cls, tx_id: str, creator: Identity | str, endorsers: list[Identity | str]) -> _Signatures:
        """Collect the orgs of valid peer endorsements; invalid ones are ignored, not fatal."""
        orgs = set()
        for i, endorser in enumerate(endorsers):
            if isinstance(endorser, str):
                log.debug("tx %s: endorsement %d ignored: %s", tx_id, i, endorser)
            elif endorser.role != "peer":
                log.debug("tx %s: endorsement %d ignored: %s is not a peer", tx_id, i, endorser.id)
            else:
                orgs.add(endorser.org)
        return cls(creator if isinstance(creator, str) else "", frozenset(orgs))


def _decode(raw: bytes) -> _Decoded | _Failure:
    """Parse envelope -> transaction -> proposal (and the response payload if it parses)."""
    if not raw:
        return _Failure(common_pb2.NIL_ENVELOPE, "envelope is empty")
    envelope, transaction, proposal = (
        common_pb2.Envelope(),
        common_pb2.Transaction(),
        common_pb2.Proposal(),
    )
    try:
        envelope.ParseFromString(raw)
        transaction.ParseFromString(envelope.payload)
        proposal.ParseFromString(transaction.proposal)
    except DecodeError as exc:
        return _Failure(common_pb2.BAD_PAYLOAD, f"envelope does not parse down to a proposal: {exc}")
    payload = common_pb2.ProposalResponsePayload()
    try:
        payload.ParseFromString(transaction.response_payload)
    except DecodeError as exc:
        return _Decoded(envelope, transaction, proposal, None, f"response payload does not parse: {exc}")
    return _Decoded(envelope, transaction, proposal, payload, "")


def replay_outcomes(block: common_pb2.Block) -> list[TxOutcome]:
    """Outcomes from the codes already stored in the block's metadata; no signature is checked.

    Used to rebuild state after a crash: the codes were decided when the block was first committed.
    """
    codes = list(block.metadata.validation_codes)
    envelopes = block.data.envelopes
    if len(codes) != len(envelopes):
        raise ValidationError(
            f"block {block.header.number} has {len(codes)} validation codes for "
            f"{len(envelopes)} transactions; it was stored without being validated"
        )
    return [_decode(raw).outcome(code) for raw, code in zip(envelopes, codes, strict=True)]


class Validator:
    """Validates blocks of one channel against the committed state in `state`."""

    def __init__(
        self,
        channel: str,
        membership: Membership,
        policies: Mapping[str, Policy],
        state: StateDB,
        clock_skew: timedelta = txtime.DEFAULT_CLOCK_SKEW,
    ) -> None:
        self._channel = channel
        self._membership = membership
        self._policies = policies  # live: definitions.ContractDefinitions reads the committed state
        self._state = state
        self._clock_skew = clock_skew
        self._config: tuple[bytes, channelconfig.ChannelConfig] | None = None  # (stored bytes, view)

    def validate(self, block: common_pb2.Block) -> list[TxOutcome]:
        """One outcome per envelope of `block`, in order; state is read, never written."""
        decoded = [_decode(raw) for raw in block.data.envelopes]
        at = txtime.block_time(block.header)
        in_force = self._config_in_force()
        genesis = in_force is None and block.header.number == 0
        config = self._genesis_config(block) if genesis else in_force
        membership = config.member_membership if config else self._membership
        signatures = self._check_signatures(decoded, at, membership)
        block_pass = _BlockPass(self._channel, self._policies, _Committed.read(self._state, decoded),
                                block.header.number,
                                at, config.clock_skew if config else self._clock_skew,
                                config=in_force, genesis=genesis, block_size=len(decoded))
        outcomes = [block_pass.decide(d, s) for d, s in zip(decoded, signatures, strict=True)]
        for outcome in outcomes:
            if not outcome.valid:
                log.info(
                    "tx %s in block %d is invalid: %s: %s",
                    outcome.tx_id or "<unparsed>",
                    block.header.number,
                    VC.Name(outcome.code),
                    outcome.reason,
                )
        return outcomes

    def _config_in_force(self) -> channelconfig.ChannelConfig | None:
        """The configuration in force before the block being validated (state holds it; None on
        a ledger without configurations, or before its genesis block)."""
        found = self._state.get_state(channelconfig.CONFIG_NAMESPACE, channelconfig.CONFIG_KEY)
        if found is None:
            return None
        if self._config is None or self._config[0] != found[0]:
            self._config = (found[0], channelconfig.ChannelConfig.from_bytes(found[0]))
        return self._config[1]

    @staticmethod
    def _genesis_config(block: common_pb2.Block) -> channelconfig.ChannelConfig | None:
        """Block 0's own configuration: its signatures are judged by it."""
        tx = channelconfig.block_config_tx(block)
        try:
            return channelconfig.ChannelConfig.of(tx.update.config) if tx else None
        except channelconfig.ConfigUpdateError:
            return None  # the block pass marks it BAD_CONFIG_UPDATE

    @staticmethod
    def _check_signatures(
        decoded: list[_Decoded | _Failure], at: datetime | None, membership: Membership
    ) -> list[_Signatures | None]:
        """Every creator and endorser signature of the block, with certificates judged at `at`
        (the block's time). On this thread: `cryptography` holds the GIL while it verifies, so
        a pool of threads only added hand-offs (measured: 150 us CPU and 4 context switches per
        transaction more, no time saved)."""
        return [
            _Signatures.of(
                d.tx_id,
                _verify(membership, d.proposal.header.creator, d.envelope.payload, d.envelope.signature, at),
                [_verify(membership, e.endorser, d.transaction.response_payload, e.signature, at)
                 for e in d.transaction.endorsements],
            ) if isinstance(d, _Decoded) else None
            for d in decoded
        ]


def _verify(membership: Membership, cert: bytes, data: bytes, signature: bytes,
            at: datetime | None) -> Identity | str:
    """The identity whose `signature` covers `data`, or why it is not acceptable at time `at`."""
    try:
        return membership.verify(cert, data, signature, at=at)
    except IdentityError as exc:
        return str(exc)


class _Committed:
    """The committed state a block is judged against, with what its transactions will look up read
    in one query each (the keys they read, the key-level policies of the keys they write, their tx
    ids) instead of several queries per transaction; nothing writes the state during the pass, so
    the answers are those the single lookups would give. Anything else is read from the state."""

    def __init__(self, state: StateDB, keys: set[tuple[str, str]],
                 rows: dict[tuple[str, str], tuple[bytes, Version]],
                 statuses: dict[str, tuple[VC, int]]) -> None:
        self._state = state
        self._keys = keys
        self._rows = rows
        self._statuses = statuses

    @classmethod
    def read(cls, state: StateDB, decoded: list[_Decoded | _Failure]) -> _Committed:
        keys: set[tuple[str, str]] = set()
        tx_ids = []
        for d in decoded:
            if not isinstance(d, _Decoded):
                continue
            tx_ids.append(d.tx_id)
            for ns in d.payload.rwset.ns_rwset if d.payload is not None else ():
                keys.update((ns.namespace, read.key) for read in ns.reads)
                keys.update((KEY_POLICY_NAMESPACE, policy_key(ns.namespace, key))
                            for key in keypolicies.written_keys(ns))
        return cls(state, keys, state.get_states(keys), state.tx_statuses(tx_ids))

    def get_state(self, ns: str, key: str) -> tuple[bytes, Version] | None:
        if (ns, key) in self._keys:
            return self._rows.get((ns, key))
        return self._state.get_state(ns, key)

    def get_range(self, ns: str, start: str, end: str, limit: int = 0) -> list[tuple[str, bytes, Version]]:
        return self._state.get_range(ns, start, end, limit)

    def get_history(self, ns: str, key: str) -> list[HistoryEntry]:  # a StateView, for keypolicies
        return self._state.get_history(ns, key)

    def tx_status(self, tx_id: str) -> tuple[VC, int] | None:
        return self._statuses.get(tx_id)


class _BlockPass:
    """The sequential pass over one block: duplicates, policies and MVCC with in-block writes."""

    def __init__(self, channel: str, policies: Mapping[str, Policy], state: _Committed, block_num: int,
                 block_time: datetime | None = None,
                 clock_skew: timedelta = txtime.DEFAULT_CLOCK_SKEW, *,
                 config: channelconfig.ChannelConfig | None = None, genesis: bool = False,
                 block_size: int = 0) -> None:
        self._channel = channel
        self._config = config
        self._genesis = genesis
        self._block_size = block_size
        self._policies = policies
        self._state = state
        self._block_num = block_num
        self._block_time = block_time
        self._clock_skew = clock_skew
        self._tx_num = -1
        self._seen_tx_ids: set[str] = set()
        self._written: dict[tuple[str, str], Version | None] = {}  # None marks a delete
        self._key_policies: dict[tuple[str, str], str | None] = {}  # set by earlier valid txs
        self._contract_policies: dict[str, Policy | None] = {}  # looked up in this block

    def decide(self, d: _Decoded | _Failure, sigs: _Signatures | None) -> TxOutcome:
        """The outcome of the next transaction; a VALID one's writes become visible to later ones."""
        self._tx_num += 1
        if isinstance(d, _Failure):
            return d.outcome()
        if sigs is None:  # _check_signatures checks every _Decoded; only a _Failure has None
            raise ValidationError(f"tx {d.tx_id}: its signatures were not checked")
        code, reason = self._check(d, sigs)
        if code not in UNVERIFIED_TX_ID_CODES:
            self._seen_tx_ids.add(d.tx_id)
        if code == common_pb2.VALID:
            for ns, w in d.writes:
                self._written[(ns, w.key)] = None if w.is_delete else (self._block_num, self._tx_num)
            for rw in d.payload.rwset.ns_rwset if d.payload is not None else ():
                for m in rw.metadata_writes:
                    self._key_policies[(rw.namespace, m.key)] = m.endorsement_policy or None
        return d.outcome(code, reason)

    def _check(self, d: _Decoded, sigs: _Signatures) -> tuple[VC, str]:
        header = d.proposal.header
        if header.channel != self._channel:
            return common_pb2.BAD_CHANNEL, f"channel {header.channel!r} is not {self._channel!r}"
        expected_id = protoutil.compute_tx_id(header.nonce, header.creator)
        if header.tx_id != expected_id:
            return common_pb2.BAD_PROPOSAL_TXID, f"tx id is not SHA-256(nonce || creator) = {expected_id}"
        if sigs.creator_error:
            return common_pb2.BAD_CREATOR_SIGNATURE, sigs.creator_error
        if d.tx_id in self._seen_tx_ids:
            return common_pb2.DUPLICATE_TXID, "tx id already used earlier in this block"
        status = self._state.tx_status(d.tx_id)
        if status is not None and status[0] not in UNVERIFIED_TX_ID_CODES:
            return common_pb2.DUPLICATE_TXID, f"tx id already committed in block {status[1]}"
        if self._block_time is not None:
            late = txtime.outside_window(
                d.time, self._block_time, self._clock_skew,
                f"block {self._block_num}'s time")
            if late:
                return common_pb2.EXPIRED_TIMESTAMP, late
        if channelconfig.is_config(d.proposal):
            return self._check_config(d)
        if d.payload is None:
            return common_pb2.BAD_RESPONSE_PAYLOAD, d.payload_error
        if d.payload.proposal_hash != protoutil.proposal_hash(d.transaction.proposal):
            return common_pb2.BAD_RESPONSE_PAYLOAD, "response payload was endorsed for another proposal"
        if d.payload.response.status != 200:
            return common_pb2.BAD_RESPONSE_PAYLOAD, f"response status {d.payload.response.status} != 200"
        code, reason = self._check_endorsements(d.proposal.contract, d.payload.rwset, sigs.orgs)
        if code != common_pb2.VALID:
            return code, reason
        return self._check_reads(d.payload.rwset)

    def _check_endorsements(self, contract: str, rwset: common_pb2.ReadWriteSet,
                            orgs: frozenset[str]) -> tuple[VC, str]:
        """The called contract and every contract written need their policies; a key with a
        key-level policy (committed, or set by an earlier valid transaction of the block) needs
        that policy too. Unlike Fabric, a key policy adds to the contract's and never replaces it:
        a patient's home hospital must agree to a consent change, and it still cannot make one
        alone."""
        written = [ns.namespace for ns in rwset.ns_rwset if ns.writes or ns.metadata_writes]
        problem = keypolicies.unparseable(rwset)
        if problem is not None:
            return common_pb2.INVALID_OTHER_REASON, problem
        for ns_name in dict.fromkeys([contract, *written]):
            policy = self._contract_policy(ns_name)
            if policy is None:
                return common_pb2.UNKNOWN_CONTRACT, f"no endorsement policy for contract {ns_name!r}"
            if not policy.satisfied_by(orgs):
                return common_pb2.ENDORSEMENT_POLICY_FAILURE, (
                    f"valid endorsements from {sorted(orgs)} do not satisfy policy {policy} of {ns_name!r}"
                )
        for ns in rwset.ns_rwset:
            for key in keypolicies.written_keys(ns):
                text = self._key_policy(ns.namespace, key)
                if text is None:
                    continue
                key_policy = keypolicies.parse(text)
                if not key_policy.satisfied_by(orgs):
                    return common_pb2.ENDORSEMENT_POLICY_FAILURE, (
                        f"valid endorsements from {sorted(orgs)} do not satisfy the key-level policy "
                        f"{key_policy} of key {ns.namespace}/{shown(key)}")
        return common_pb2.VALID, ""

    def _contract_policy(self, contract: str) -> Policy | None:
        """The contract's policy as committed before the block: nothing writes the state during the
        pass, so it is looked up (a state read) once per contract and block, not per transaction."""
        if contract not in self._contract_policies:
            self._contract_policies[contract] = self._policies.get(contract)
        return self._contract_policies[contract]

    def _key_policy(self, namespace: str, key: str) -> str | None:
        if (namespace, key) in self._key_policies:
            return self._key_policies[(namespace, key)]
        return keypolicies.committed(self._state, namespace, key)

    def _check_config(self, d: _Decoded) -> tuple[VC, str]:
        """A configuration update: alone in its block and valid after the configuration in force
        (the genesis one, in block 0, valid by its own admins policy)."""
        if self._block_size != 1:
            return common_pb2.BAD_CONFIG_UPDATE, "a config transaction must be alone in its block"
        if not self._genesis and self._config is None:
            return common_pb2.BAD_CONFIG_UPDATE, "no channel configuration is in force to update"
        try:
            tx = channelconfig.read_config_tx(d.transaction, d.proposal)
            channelconfig.next_config(self._config, tx, self._block_time)
        except channelconfig.ConfigUpdateError as exc:
            code = common_pb2.ENDORSEMENT_POLICY_FAILURE if exc.denied else common_pb2.BAD_CONFIG_UPDATE
            return code, str(exc)
        return common_pb2.VALID, ""

    def _version(self, ns: str, key: str) -> Version | None:
        if (ns, key) in self._written:
            return self._written[(ns, key)]
        found = self._state.get_state(ns, key)
        return None if found is None else found[1]

    def _range(self, ns: str, start: str, end: str) -> list[tuple[str, Version]]:
        rows = {key: version for key, _, version in self._state.get_range(ns, start, end)}
        for (w_ns, key), version in self._written.items():
            if w_ns != ns or key < start or (end and key >= end):
                continue
            if version is None:
                rows.pop(key, None)
            else:
                rows[key] = version
        return sorted(rows.items())

    def _check_reads(self, rwset: common_pb2.ReadWriteSet) -> tuple[VC, str]:
        for ns in rwset.ns_rwset:
            for read in ns.reads:
                now = self._version(ns.namespace, read.key)
                if _read_version(read) != now:
                    return common_pb2.MVCC_READ_CONFLICT, (
                        f"key {ns.namespace}/{read.key} was read at version "
                        f"{_read_version(read)} but is now at {now}"
                    )
            for rr in ns.range_reads:
                recorded = [(r.key, _read_version(r)) for r in rr.reads]
                if recorded != self._range(ns.namespace, rr.start_key, rr.end_key):
                    return common_pb2.PHANTOM_READ_CONFLICT, (
                        f"range [{rr.start_key!r}, {rr.end_key!r}) of {ns.namespace} changed since simulation"
                    )
        return common_pb2.VALID, ""


def _read_version(read: common_pb2.KVRead) -> Version | None:
    if not read.HasField("version"):
        return None
    return (read.version.block_num, read.version.tx_num)
