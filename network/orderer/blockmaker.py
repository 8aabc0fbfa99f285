"""Make the next block of the chain from a batch: hash-chained, timed and signed by the orderer.

The block's time is the orderer's clock when it cuts the block, never earlier than the previous
block's time (clocks of several orderers may differ); it is part of the signed header.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil, txtime
from careledger.protos import common_pb2

GENESIS_PREVIOUS_HASH = bytes(32)


def make_block(number: int, previous: common_pb2.BlockHeader | None, envelopes: Sequence[bytes],
               signer: Signer, at: datetime | None = None, last_config: int = 0) -> common_pb2.Block:
    """Block `number` holding `envelopes`, after `previous`, timed `at` (default: now) and signed;
    its metadata names `last_config`, the block of the channel configuration in force."""
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = (protoutil.header_hash(previous) if previous is not None
                                  else GENESIS_PREVIOUS_HASH)
    block.header.data_hash = protoutil.data_hash(envelopes)
    moment = at or datetime.now(UTC)
    before = txtime.block_time(previous) if previous is not None else None
    txtime.stamp(block.header, max(moment, before) if before is not None else moment)
    block.data.envelopes.extend(envelopes)
    block.metadata.orderer = signer.cert_pem
    block.metadata.last_config = last_config
    block.metadata.signature = signer.sign(block.header.SerializeToString(deterministic=True))
    return block
