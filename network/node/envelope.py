"""Admission checks for a signed transaction envelope, before it may be ordered.

The gateway's Submit and the orderer's Broadcast both call `admit`, so a bad envelope is refused at
the door with a clear status instead of reaching a block as an invalid transaction. That includes
its time: given the channel's clock skew, a proposal dated outside it of this node's clock is
refused, as endorsers refuse it, instead of being ordered and committed EXPIRED_TIMESTAMP (and the
orderer then remembers tx ids for replay refusal only as long as a tx could still pass that check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc

from careledger.network.identity.membership import Identity, IdentityError, Membership
from careledger.network.ledger import protoutil, txtime
from careledger.network.node.grpcutil import RequestError
from careledger.network.node.signedrequest import identity_error, parse
from careledger.protos import common_pb2


@dataclass(frozen=True)
class Admitted:
    tx_id: str
    envelope: common_pb2.Envelope
    transaction: common_pb2.Transaction
    proposal: common_pb2.Proposal
    creator: Identity


def admit(envelope: common_pb2.Envelope, channel: str, membership: Membership,
          clock_skew: timedelta | None = None, *, clock: str = "this node's clock",
          now: datetime | None = None) -> Admitted:
    """Parse and authenticate an envelope; raise RequestError naming what is wrong.

    With `clock_skew` (the configuration in force's), a proposal dated further than that from
    `now` (default: this node's clock, named `clock` in the refusal) is FAILED_PRECONDITION."""
    if not envelope.payload:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "empty envelope: no transaction payload")
    tx = parse(common_pb2.Transaction, envelope.payload, "envelope payload")
    proposal = parse(common_pb2.Proposal, tx.proposal, "proposal inside the transaction")
    header = proposal.header
    if header.channel != channel:
        raise RequestError(grpc.StatusCode.NOT_FOUND,
                           f"transaction {header.tx_id or '?'} is for channel {header.channel!r}; "
                           f"this network serves channel {channel!r}")
    if not header.nonce or header.tx_id != protoutil.compute_tx_id(header.nonce, header.creator):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"transaction id {header.tx_id!r} is not SHA-256(nonce || creator); "
                           "build proposals with the CareLedger SDK")
    if not envelope.signature:
        raise RequestError(grpc.StatusCode.UNAUTHENTICATED,
                           f"transaction {header.tx_id} is not signed; sign the prepared transaction")
    if not tx.endorsements:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"transaction {header.tx_id} carries no endorsements; endorse it first")
    try:
        creator = membership.verify(header.creator, envelope.payload, envelope.signature)
    except IdentityError as exc:
        err = identity_error(exc)
        raise RequestError(err.code, f"transaction {header.tx_id} refused: {err.message}") from exc
    if clock_skew is not None:
        skewed = txtime.outside_window(txtime.proposal_time(header), now or datetime.now(UTC), clock_skew,
                                       clock)
        if skewed:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"transaction {header.tx_id} refused: {skewed}; check the client's clock "
                               "and build, endorse and sign a new transaction")
    return Admitted(header.tx_id, envelope, tx, proposal, creator)
