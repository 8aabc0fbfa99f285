"""What a committed block says to listeners: the chaincode events of its VALID transactions."""

from __future__ import annotations

from careledger.protos import common_pb2


def block_events(block: common_pb2.Block) -> list[common_pb2.ChaincodeEvent]:
    """The chaincode events of a block's VALID transactions, in order."""
    events = []
    for env_bytes, code in zip(block.data.envelopes, block.metadata.validation_codes, strict=True):
        if code != common_pb2.VALID:
            continue
        tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env_bytes).payload)
        payload = common_pb2.ProposalResponsePayload.FromString(tx.response_payload)
        if payload.HasField("event"):
            events.append(payload.event)
    return events
