"""Fuzzing envelope admission (network/node/envelope.py `admit`), which every Submit and Broadcast runs.

Whatever bytes arrive, `admit` may only refuse with a RequestError (a gRPC status for the client)
or admit the envelope; and it admits nothing whose signed bytes were changed in any way.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from txfactory import CHANNEL, TestNetwork, endorsed_envelope, rwset

from careledger.network.identity.membership import Membership
from careledger.network.node.envelope import admit
from careledger.network.node.grpcutil import RequestError
from careledger.protos import common_pb2

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATUSES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Membership, common_pb2.Envelope]:
    net = TestNetwork.create(Path(tmp_path_factory.mktemp("crypto")), ["hospital", "insurer"])
    envelope = endorsed_envelope(net.client("hospital"), [net.peer("hospital"), net.peer("insurer")],
                                 "consent", rwset("consent", writes={"k": b"v"}))
    admit(envelope, CHANNEL, net.membership())  # the unmutated envelope is admitted
    return net.membership(), envelope


def _refused_or_admitted(envelope: common_pb2.Envelope, membership: Membership) -> bool:
    """True if admitted; False if refused with one of the expected statuses; anything else fails."""
    try:
        admit(envelope, CHANNEL, membership)
    except RequestError as exc:
        assert exc.code in STATUSES, exc
        assert exc.message and "Traceback" not in exc.message
        return False
    return True


@FUZZ
@given(payload=st.binary(max_size=2048), signature=st.binary(max_size=128))
def test_arbitrary_bytes_are_refused_with_a_status(world: tuple[Membership, common_pb2.Envelope],
                                                   payload: bytes, signature: bytes) -> None:
    assert not _refused_or_admitted(common_pb2.Envelope(payload=payload, signature=signature), world[0])


@FUZZ
@given(data=st.data())
def test_no_changed_byte_of_a_signed_envelope_is_admitted(world: tuple[Membership, common_pb2.Envelope],
                                                          data: st.DataObject) -> None:
    membership, original = world
    field = data.draw(st.sampled_from(["payload", "signature"]))
    raw = bytearray(getattr(original, field))
    how = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        del raw[at:]
    elif how == "insert":
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    else:
        del raw[at:at + data.draw(st.integers(1, 16))]
    mutated = common_pb2.Envelope()
    mutated.CopyFrom(original)
    setattr(mutated, field, bytes(raw))
    assert not _refused_or_admitted(mutated, membership)


@FUZZ
@given(data=st.data())
def test_structured_nonsense_inside_a_signed_payload_is_refused(
    world: tuple[Membership, common_pb2.Envelope], data: st.DataObject
) -> None:
    """Well-formed protobuf with fuzzed fields: wrong channel, tx id, creator, no endorsements."""
    membership, original = world
    tx = common_pb2.Transaction.FromString(original.payload)
    proposal = common_pb2.Proposal.FromString(tx.proposal)
    header = proposal.header
    header.channel = data.draw(st.sampled_from([header.channel, "", "other", "health\x00care"]))
    header.tx_id = data.draw(st.sampled_from([header.tx_id, "", "0" * 64]))
    header.nonce = data.draw(st.sampled_from([header.nonce, b"", b"\x00"]))
    header.creator = data.draw(st.sampled_from([header.creator, b"", b"-----BEGIN CERTIFICATE-----\n"]))
    tx.proposal = proposal.SerializeToString()
    if data.draw(st.booleans()):
        del tx.endorsements[:]
    payload = tx.SerializeToString()
    signature = data.draw(st.sampled_from([original.signature, b"", b"\x30\x06\x02\x01\x01\x02\x01\x01"]))
    admitted = _refused_or_admitted(common_pb2.Envelope(payload=payload, signature=signature), membership)
    assert not admitted or (payload, signature) == (original.payload, original.signature)
