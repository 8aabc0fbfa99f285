"""Open a `Signed` request: parse its payload and check that its named creator signed it.

Every read-side call (Deliver, CommitStatus, ChaincodeEvents, Query) uses this one check, so none of
them answers an unknown identity or a forged request.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from careledger.network.identity.membership import (
    BadSignatureError,
    Identity,
    IdentityError,
    Membership,
)
from careledger.network.node.grpcutil import RequestError
from careledger.protos import common_pb2

M = TypeVar("M", bound=Message)


def identity_error(exc: IdentityError) -> RequestError:
    """Map an identity failure to the status a client can act on."""
    if isinstance(exc, BadSignatureError):
        return RequestError(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    return RequestError(grpc.StatusCode.PERMISSION_DENIED, str(exc))


def parse(message_type: type[M], data: bytes, what: str) -> M:
    """Parse protobuf bytes or refuse with INVALID_ARGUMENT naming what was malformed."""
    msg = message_type()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"malformed {what}: cannot parse {message_type.__name__} ({exc})") from exc
    return msg


def open_signed(signed: common_pb2.Signed, message_type: type[M], membership: Membership,
                creator_field: str = "creator") -> tuple[M, Identity]:
    """Return the request and its verified creator, or raise RequestError."""
    request = parse(message_type, signed.payload, "signed request")
    creator = getattr(request, creator_field)
    if not creator:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"{message_type.__name__} names no {creator_field} certificate")
    try:
        return request, membership.verify(creator, signed.payload, signed.signature)
    except IdentityError as exc:
        raise identity_error(exc) from exc


def still_member(membership: Membership, who: Identity, block: common_pb2.Block, stream: str) -> None:
    """Before a stream passes on `block`: refuse to go on serving a creator the membership in force
    no longer accepts (revoked or its org removed by a configuration update since the stream
    opened, or expired). A configuration block itself is passed on: the update applies from the
    next block, and followers learn of it by that block. A lookup in the membership's cache,
    which an update clears."""
    if block.metadata.last_config == block.header.number:
        return
    try:
        membership.identity(who.cert_pem)
    except IdentityError as exc:
        err = identity_error(exc)
        raise RequestError(err.code, f"{stream} stream of {who.id} ended at block {block.header.number}: "
                           f"{err.message}") from exc
