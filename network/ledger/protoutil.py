"""Hashes and identifiers that every node must compute the same way.

Like Fabric's protoutil: the endorser, the gateway, the orderer, the committer and `ledger verify`
all call these, so a transaction's identity and a block's hash have one definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from google.protobuf.message import DecodeError

from careledger.protos import common_pb2

# What a block adds to its envelopes: header, metadata (the orderer's certificate and signature,
# last config) and a few bytes of framing per envelope. A block must fit in one message of the
# network's max_message_bytes, or no peer could receive it and every commit would stop behind it.
BLOCK_OVERHEAD = 8 * 1024
ENVELOPE_FRAMING = 8


def block_envelope_bytes(max_message_bytes: int, max_tx: int) -> int:
    """The most envelope bytes a block of up to max_tx envelopes may hold and still be delivered."""
    return max_message_bytes - BLOCK_OVERHEAD - ENVELOPE_FRAMING * max_tx


def largest_envelope(max_message_bytes: int) -> int:
    """The largest envelope that fits in a block of its own."""
    return block_envelope_bytes(max_message_bytes, 1)


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """The transaction id: hex SHA-256 of nonce || creator certificate."""
    return hashlib.sha256(nonce + creator).hexdigest()


def strip_transient(proposal: common_pb2.Proposal) -> bytes:
    """The proposal as it goes into a transaction: transient data removed, serialized canonically."""
    stripped = common_pb2.Proposal()
    stripped.CopyFrom(proposal)
    stripped.ClearField("transient")
    return stripped.SerializeToString(deterministic=True)


def proposal_hash(stripped_proposal: bytes) -> bytes:
    """What an endorsement binds to: SHA-256 of the transient-free proposal bytes."""
    return hashlib.sha256(stripped_proposal).digest()


def header_hash(header: common_pb2.BlockHeader) -> bytes:
    """A block's hash: SHA-256 of its serialized header (which holds the previous hash and data hash)."""
    return hashlib.sha256(header.SerializeToString(deterministic=True)).digest()


def data_hash(envelopes: Iterable[bytes]) -> bytes:
    """SHA-256 over the block's envelopes, each length-prefixed so that boundaries are bound too."""
    h = hashlib.sha256()
    for env in envelopes:
        h.update(len(env).to_bytes(8, "big"))
        h.update(env)
    return h.digest()


def find_transaction(
    block: common_pb2.Block, tx_id: str, code: int
) -> tuple[common_pb2.Envelope, common_pb2.Transaction, common_pb2.Proposal] | None:
    """The transaction `tx_id` recorded with validation `code` in `block`.

    Matching the code as well as the id skips an earlier unauthenticated envelope that merely
    copied the id of the genuine transaction.
    """
    for env_bytes, tx_code in zip(block.data.envelopes, block.metadata.validation_codes, strict=False):
        if tx_code != code:
            continue
        try:
            envelope = common_pb2.Envelope.FromString(env_bytes)
            tx = common_pb2.Transaction.FromString(envelope.payload)
            proposal = common_pb2.Proposal.FromString(tx.proposal)
        except DecodeError:
            continue
        if proposal.header.tx_id == tx_id:
            return envelope, tx, proposal
    return None
