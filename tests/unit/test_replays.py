"""The orderer's replay refusal bounded by the clock skew (network/orderer/replays.py, service.py).

Start-up reads the chain back from its tail only as far as the replay window (2 x the clock skew
plus a margin), so it costs the same at 1 M transactions as at 10 k; a replay of a tx in an older
block is refused by its time instead (FAILED_PRECONDITION naming both times), one in a recent
block as ALREADY_EXISTS, and ids of blocks that left the window are forgotten."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry
from txfactory import CHANNEL, TestNetwork, endorse, make_proposal, rwset, sign_transaction

from careledger.network.ledger import txtime
from careledger.network.node.operations import OrdererMetrics
from careledger.network.orderer.blockmaker import make_block
from careledger.network.orderer.replays import CLOCK_MARGIN, RecentTxIds, replay_window
from careledger.network.orderer.service import OrdererService
from careledger.protos import common_pb2, orderer_pb2

T = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
SKEW = txtime.DEFAULT_CLOCK_SKEW  # 300 s: the window is 660 s
AGES = [timedelta(hours=1), timedelta(minutes=30), timedelta(minutes=12), timedelta(minutes=10),
        timedelta(minutes=1)]  # of blocks 0..4; 12 min is outside the window, 10 min inside


class Clock:
    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> datetime:
        return self.now


class Chain:
    """The consenter's view of a chain the service needs: height, get_block (counted), order."""

    def __init__(self, blocks: list[common_pb2.Block]) -> None:
        self.blocks = blocks
        self.read: list[int] = []
        self.ordered: list[bytes] = []

    @property
    def height(self) -> int:
        return len(self.blocks)

    def get_block(self, number: int) -> common_pb2.Block:
        self.read.append(number)
        return self.blocks[number]

    waits_for_blocks = False

    def order_all(self, items: list[tuple[bytes, bool]]) -> list[Exception | None]:
        self.ordered += [envelope for envelope, _ in items]
        return [None] * len(items)


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class Context:
    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)

    def set_trailing_metadata(self, metadata: object) -> None:
        pass


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    return TestNetwork.create(Path(tmp_path_factory.mktemp("crypto")), ["hospital", "insurer"])


def _envelope(net: TestNetwork, at: datetime) -> tuple[str, common_pb2.Envelope]:
    proposal = make_proposal(net.client("hospital"), "basic", "create_asset", timestamp=at)
    tx = endorse(proposal, [net.peer("hospital"), net.peer("insurer")], rwset("basic", writes={"a": b"1"}))
    return proposal.header.tx_id, sign_transaction(net.client("hospital"), tx)


@pytest.fixture(scope="module")
def chain(net: TestNetwork) -> tuple[list[common_pb2.Block], list[tuple[str, common_pb2.Envelope]]]:
    """Blocks 0..4 cut AGES before T, each holding one tx proposed 1 s before its block."""
    blocks: list[common_pb2.Block] = []
    txs = []
    for number, age in enumerate(AGES):
        tx_id, envelope = _envelope(net, T - age - timedelta(seconds=1))
        txs.append((tx_id, envelope))
        blocks.append(make_block(number, blocks[-1].header if blocks else None,
                                 [envelope.SerializeToString()], net.orderer, at=T - age))
    return blocks, txs


def test_the_window_is_twice_the_skew_plus_the_margin() -> None:
    assert replay_window(SKEW) == 2 * SKEW + CLOCK_MARGIN == timedelta(seconds=660)


def test_start_up_reads_the_chain_back_only_to_the_first_block_outside_the_window(chain) -> None:
    blocks, txs = chain
    source = Chain(blocks)
    recent = RecentTxIds(lambda: replay_window(SKEW), Clock())
    assert recent.load(source.height, source.get_block) == 2
    assert source.read == [4, 3, 2]  # block 2 (12 min old) ends the walk; 0 and 1 are never read
    assert [tx_id in recent for tx_id, _ in txs] == [False, False, False, True, True]


def test_ids_are_forgotten_when_their_block_leaves_the_window(net: TestNetwork, chain) -> None:
    blocks, txs = chain
    clock = Clock()
    recent = RecentTxIds(lambda: replay_window(SKEW), clock)
    recent.load(len(blocks), blocks.__getitem__)
    clock.now = T + timedelta(minutes=2)  # block 3 (10 min old at T) is now 12 min old
    again = make_block(5, blocks[4].header, list(blocks[4].data.envelopes), net.orderer, at=clock.now)
    recent.add(again)  # block 4's tx id once more, in a newer block
    assert [tx_id in recent for tx_id, _ in txs] == [False, False, False, False, True]
    clock.now = T + timedelta(minutes=12)  # block 4 left the window; block 5 keeps its tx id
    recent.add(make_block(6, again.header, [], net.orderer, at=clock.now))
    assert [tx_id in recent for tx_id, _ in txs] == [False, False, False, False, True]
    clock.now = T + timedelta(minutes=14)
    recent.add(make_block(7, again.header, [], net.orderer, at=clock.now))
    assert len(recent) == 0


def test_broadcast_refuses_a_recent_replay_as_already_exists_and_an_old_one_by_its_time(
    net: TestNetwork, chain
) -> None:
    blocks, txs = chain
    source = Chain(blocks)
    service = OrdererService(CHANNEL, net.membership(), source,  # type: ignore[arg-type]
                             OrdererMetrics.register(CollectorRegistry()), clock=Clock())
    assert source.read == [4, 3, 2]
    with pytest.raises(Aborted) as recent:
        asyncio.run(service.Broadcast(txs[4][1], Context()))
    assert (recent.value.code, recent.value.details) == (
        grpc.StatusCode.ALREADY_EXISTS, f"transaction {txs[4][0]} is already in a block; check its "
        "commit status instead of submitting it again")
    with pytest.raises(Aborted) as old:
        asyncio.run(service.Broadcast(txs[1][1], Context()))  # in block 1, which start-up never read
    assert old.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert old.value.details.startswith(
        f"transaction {txs[1][0]} refused: proposal time {txtime.iso(T - AGES[1] - timedelta(seconds=1))} "
        f"is 1801 s before the orderer's clock {txtime.iso(T)}")
    fresh_id, fresh = _envelope(net, T)
    asyncio.run(service.Broadcast(fresh, Context()))
    assert source.ordered == [fresh.SerializeToString()]
    assert fresh_id not in {tx_id for tx_id, _ in txs}


def test_a_batch_answers_each_envelope_on_its_own(net: TestNetwork, chain) -> None:
    blocks, txs = chain
    source = Chain(blocks)
    service = OrdererService(CHANNEL, net.membership(), source,  # type: ignore[arg-type]
                             OrdererMetrics.register(CollectorRegistry()), clock=Clock())
    fresh_id, fresh = _envelope(net, T)
    forged = common_pb2.Envelope(payload=fresh.payload, signature=b"not a signature")
    batch = orderer_pb2.EnvelopeBatch(envelopes=[txs[4][1], fresh, forged])
    outcomes = asyncio.run(service.BroadcastBatch(batch, Context())).outcomes
    assert outcomes[0].code == grpc.StatusCode.ALREADY_EXISTS.value[0]
    assert outcomes[0].message.startswith(f"transaction {txs[4][0]} is already in a block")
    assert outcomes[1].code == 0 and not outcomes[1].message
    assert outcomes[2].code != 0 and fresh_id in outcomes[2].message
    assert source.ordered == [fresh.SerializeToString()]  # only the good one went on to be ordered
