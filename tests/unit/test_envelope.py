"""Envelope admission's clock check (network/node/envelope.py `admit`, run by Submit and Broadcast):
given the channel's clock skew, a proposal dated outside it of the node's clock is refused with
FAILED_PRECONDITION naming the tx id and both times, after the envelope is authenticated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from txfactory import CHANNEL, TestNetwork, endorse, make_proposal, rwset, sign_transaction

from careledger.network.ledger import txtime
from careledger.network.node.envelope import admit
from careledger.network.node.grpcutil import RequestError
from careledger.protos import common_pb2

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    return TestNetwork.create(Path(tmp_path_factory.mktemp("crypto")), ["hospital", "insurer"])


def _envelope(net: TestNetwork, at: datetime | None) -> tuple[str, common_pb2.Envelope]:
    proposal = make_proposal(net.client("hospital"), "basic", "create_asset", timestamp=at or NOW)
    if at is None:
        proposal.header.ClearField("timestamp")
    tx = endorse(proposal, [net.peer("hospital"), net.peer("insurer")], rwset("basic", writes={"a": b"1"}))
    return proposal.header.tx_id, sign_transaction(net.client("hospital"), tx)


def _refusal(net: TestNetwork, envelope: common_pb2.Envelope) -> RequestError:
    with pytest.raises(RequestError) as err:
        admit(envelope, CHANNEL, net.membership(), SKEW, clock="the orderer's clock", now=NOW)
    return err.value


@pytest.mark.parametrize("offset", [timedelta(0), -SKEW, SKEW, timedelta(seconds=-299)])
def test_a_proposal_within_the_skew_is_admitted(net: TestNetwork, offset: timedelta) -> None:
    tx_id, envelope = _envelope(net, NOW + offset)
    assert admit(envelope, CHANNEL, net.membership(), SKEW, now=NOW).tx_id == tx_id


@pytest.mark.parametrize("offset, words", [
    (-timedelta(days=400), "is 400 days before the orderer's clock"),
    (timedelta(seconds=301), "is 301 s after the orderer's clock"),
    (-timedelta(minutes=10), "is 600 s before the orderer's clock"),
])
def test_a_proposal_outside_the_skew_is_refused_naming_tx_and_both_times(
    net: TestNetwork, offset: timedelta, words: str
) -> None:
    tx_id, envelope = _envelope(net, NOW + offset)
    err = _refusal(net, envelope)
    assert err.code == grpc.StatusCode.FAILED_PRECONDITION
    assert err.message.startswith(f"transaction {tx_id} refused: proposal time {txtime.iso(NOW + offset)} ")
    assert f"{words} {txtime.iso(NOW)}; the channel accepts 300 s either way (clock_skew_s)" in err.message
    assert err.message.endswith("build, endorse and sign a new transaction")


def test_a_proposal_without_a_time_is_refused(net: TestNetwork) -> None:
    tx_id, envelope = _envelope(net, None)
    err = _refusal(net, envelope)
    assert (err.code, err.message.split(";")[0]) == (
        grpc.StatusCode.FAILED_PRECONDITION, f"transaction {tx_id} refused: the proposal carries no time")


def test_the_signature_is_checked_before_the_time(net: TestNetwork) -> None:
    # a forged backdated envelope learns that it is not signed right, not the node's clock
    _, envelope = _envelope(net, NOW - timedelta(days=400))
    envelope.signature = sign_transaction(net.client("insurer"), common_pb2.Transaction()).signature
    assert _refusal(net, envelope).code != grpc.StatusCode.FAILED_PRECONDITION


def test_without_a_skew_no_time_is_judged(net: TestNetwork) -> None:
    # callers that pass no skew (tools, the fuzz test) keep admission by signature alone
    tx_id, envelope = _envelope(net, NOW - timedelta(days=400))
    assert admit(envelope, CHANNEL, net.membership()).tx_id == tx_id
