"""Make the next block of the chain from a batch: hash-chained and signed by the orderer."""

from __future__ import annotations

from collections.abc import Sequence

from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.protos import common_pb2

GENESIS_PREVIOUS_HASH = bytes(32)


def make_block(number: int, previous: common_pb2.BlockHeader | None, envelopes: Sequence[bytes],
               signer: Signer) -> common_pb2.Block:
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = (protoutil.header_hash(previous) if previous is not None
                                  else GENESIS_PREVIOUS_HASH)
    block.header.data_hash = protoutil.data_hash(envelopes)
    block.data.envelopes.extend(envelopes)
    block.metadata.orderer = signer.cert_pem
    block.metadata.signature = signer.sign(block.header.SerializeToString(deterministic=True))
    return block
