"""Builds real signed proposals, endorsed transactions and blocks for tests.

Everything is signed with real identities (`Signer` from an identity folder), so the committer's
checks run exactly as in a network; tests break one thing on purpose and expect one code.

    net = TestNetwork.create(tmp_path, ["hospital", "insurer"])
    env = endorsed_envelope(net.client("hospital"), [net.peer("hospital")], "consent",
                            rwset("consent", writes={"k": b"v"}))
    block = make_block(0, None, [env.SerializeToString()], net.orderer)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.orderer.blockmaker import make_block
from careledger.protos import common_pb2

__all__ = [
    "CHANNEL",
    "TestNetwork",
    "endorse",
    "endorsed_envelope",
    "make_block",
    "make_proposal",
    "rwset",
    "sign_transaction",
]

CHANNEL = "healthcare"
ORDERER_ORG = "orderers"

Version = tuple[int, int]


@dataclass(frozen=True)
class TestNetwork:
    """Crypto material of a small network: per org a peer, a client and an admin, plus an orderer."""

    __test__ = False  # not a pytest test class despite the name

    crypto_dir: Path
    orgs: tuple[str, ...]

    @classmethod
    def create(cls, crypto_dir: Path, orgs: Sequence[str]) -> TestNetwork:
        """Issue the identities under `crypto_dir` (safe to rerun: existing ones are kept)."""
        for org in orgs:
            generate_org(
                crypto_dir,
                org,
                [
                    IdentitySpec("peer0", "peer"),
                    IdentitySpec("client", "client"),
                    IdentitySpec("admin", "admin"),
                ],
            )
        generate_org(crypto_dir, ORDERER_ORG, [IdentitySpec("orderer0", "orderer")])
        return cls(Path(crypto_dir), tuple(orgs))

    def signer(self, org: str, name: str) -> Signer:
        """The identity `<crypto_dir>/<org>/<name>`."""
        return Signer.from_dir(self.crypto_dir / org / name)

    def peer(self, org: str) -> Signer:
        return self.signer(org, "peer0")

    def client(self, org: str) -> Signer:
        return self.signer(org, "client")

    @property
    def orderer(self) -> Signer:
        return self.signer(ORDERER_ORG, "orderer0")

    def membership(self) -> Membership:
        """The channel members: the application orgs (not the orderer org)."""
        return Membership.from_crypto_dir(self.crypto_dir, self.orgs)

    def orderer_membership(self) -> Membership:
        return Membership.from_crypto_dir(self.crypto_dir, [ORDERER_ORG])


def make_proposal(
    creator: Signer,
    contract: str,
    function: str = "invoke",
    args: Sequence[bytes] = (),
    *,
    channel: str = CHANNEL,
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes | None = None,
    timestamp: datetime | None = None,
) -> common_pb2.Proposal:
    """A proposal with a fresh nonce and the tx id derived from nonce and creator."""
    nonce = os.urandom(24) if nonce is None else nonce
    proposal = common_pb2.Proposal(
        contract=contract, function=function, args=list(args), transient=dict(transient or {})
    )
    header = proposal.header
    header.channel = channel
    header.creator = creator.cert_pem
    header.nonce = nonce
    header.tx_id = protoutil.compute_tx_id(nonce, creator.cert_pem)
    header.timestamp.FromDatetime(timestamp or datetime.now(UTC))
    return proposal


def rwset(
    ns: str,
    *,
    reads: Mapping[str, Version | None] | None = None,
    writes: Mapping[str, bytes | None] | None = None,
    range_reads: Sequence[tuple[str, str, Mapping[str, Version]]] = (),
) -> common_pb2.ReadWriteSet:
    """A one-namespace rwset; a write of None is a delete, a read of None saw no key."""
    ns_rwset = common_pb2.NsReadWriteSet(namespace=ns)
    for key, version in (reads or {}).items():
        ns_rwset.reads.append(_kv_read(key, version))
    for key, value in (writes or {}).items():
        ns_rwset.writes.append(common_pb2.KVWrite(key=key, value=value or b"", is_delete=value is None))
    for start, end, seen in range_reads:
        ns_rwset.range_reads.append(
            common_pb2.RangeRead(
                start_key=start,
                end_key=end,
                reads=[_kv_read(key, version) for key, version in sorted(seen.items())],
            )
        )
    return common_pb2.ReadWriteSet(ns_rwset=[ns_rwset])


def _kv_read(key: str, version: Version | None) -> common_pb2.KVRead:
    read = common_pb2.KVRead(key=key)
    if version is not None:
        read.version.block_num, read.version.tx_num = version
    return read


def endorse(
    proposal: common_pb2.Proposal,
    endorsers: Sequence[Signer],
    rw: common_pb2.ReadWriteSet | None = None,
    *,
    status: int = 200,
    event: common_pb2.ChaincodeEvent | None = None,
) -> common_pb2.Transaction:
    """The transaction the gateway would prepare: every endorser signs the same payload bytes."""
    stripped = protoutil.strip_transient(proposal)
    payload = common_pb2.ProposalResponsePayload(
        proposal_hash=protoutil.proposal_hash(stripped),
        response=common_pb2.Response(status=status),
        rwset=rw or common_pb2.ReadWriteSet(),
    )
    if event is not None:
        payload.event.CopyFrom(event)
    payload_bytes = payload.SerializeToString(deterministic=True)
    return common_pb2.Transaction(
        proposal=stripped,
        response_payload=payload_bytes,
        endorsements=[
            common_pb2.Endorsement(endorser=e.cert_pem, signature=e.sign(payload_bytes)) for e in endorsers
        ],
    )


def sign_transaction(creator: Signer, transaction: common_pb2.Transaction) -> common_pb2.Envelope:
    """The envelope the client submits: the serialized transaction and its signature."""
    payload = transaction.SerializeToString(deterministic=True)
    return common_pb2.Envelope(payload=payload, signature=creator.sign(payload))


def endorsed_envelope(
    creator: Signer,
    endorsers: Sequence[Signer],
    contract: str,
    rw: common_pb2.ReadWriteSet | None = None,
    *,
    channel: str = CHANNEL,
    nonce: bytes | None = None,
) -> common_pb2.Envelope:
    """Proposal -> endorsement -> signed envelope in one call."""
    proposal = make_proposal(creator, contract, channel=channel, nonce=nonce)
    return sign_transaction(creator, endorse(proposal, endorsers, rw))
