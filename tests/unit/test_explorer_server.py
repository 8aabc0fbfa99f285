"""The explorer's server without a network: a peer's refusal becomes "access restricted", the page
and API need the session token, and the charts' numbers come out of Prometheus text right."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from careledger.cli.explorer.ledgerview import Refused
from careledger.cli.explorer.operations import NodeWatch, chart_point, parse_metrics
from careledger.cli.explorer.server import Hub, follow_chain, make_app

OnBlock = Callable[[dict[str, Any]], Awaitable[None]]
DENIED = "hospital/alice (role client) may not read blocks; filtered block events are open to it"


class PatientView:
    """A LedgerView whose peer gives the height and filtered blocks but refuses full blocks, as
    the read rules do for a patient; `commit()` adds a block."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.committed = asyncio.Event()

    def commit(self) -> None:
        self.height += 1
        self.committed.set()

    async def chain_info(self) -> dict[str, Any]:
        return {"peer": "peer0.hospital", "height": self.height, "current_block_hash": ""}

    async def block(self, number: int) -> dict[str, Any]:
        raise Refused(DENIED, "PERMISSION_DENIED")

    async def follow(self, start: int, on_block: OnBlock) -> None:
        raise Refused(DENIED, "PERMISSION_DENIED")

    async def follow_filtered(self, start: int, on_block: OnBlock) -> None:
        number = start
        while True:
            while number < self.height:
                await on_block({"number": number, "filtered": True,
                                "transactions": [{"tx_id": f"tx{number}", "validation_code": "VALID"}]})
                number += 1
            self.committed.clear()
            await self.committed.wait()

    async def close(self) -> None:
        pass


def _app(view: PatientView) -> Any:
    watch = NodeWatch(SimpleNamespace(orderers=(), peers=()), interval=60)  # type: ignore[arg-type]
    return make_app(view, watch, "secret-token")  # type: ignore[arg-type]


def test_blocks_refused_by_the_peer_answer_403_restricted_with_the_peers_message() -> None:
    async def scenario() -> None:
        async with TestClient(TestServer(_app(PatientView(3)))) as client:
            assert (await client.get("/api/blocks")).status == 401
            assert (await client.get("/?token=wrong")).status == 401
            assert (await client.get("/?token=secret-token")).status == 200  # sets the cookie
            reply = await client.get("/api/blocks")
            assert reply.status == 403
            assert await reply.json() == {
                "error": {"code": "PERMISSION_DENIED", "message": DENIED, "restricted": True}}
            assert (await client.get("/static/explorer.js")).status == 200

    asyncio.run(scenario())


def test_a_refused_follower_says_so_once_and_follows_the_filtered_blocks() -> None:
    async def scenario() -> None:
        view, hub = PatientView(3), Hub()
        queue = hub.subscribe()
        task = asyncio.create_task(follow_chain(view, hub))  # type: ignore[arg-type]

        async def next_event() -> Any:
            return await asyncio.wait_for(queue.get(), 5)

        try:
            assert await next_event() == ("height", {"height": 3, "restricted": "", "problem": ""})
            assert await next_event() == ("height", {"height": 3, "restricted": DENIED, "problem": ""})
            replayed = [await next_event() for _ in range(3)]
            assert [(kind, block["number"], block["filtered"]) for kind, block in replayed] == [
                ("block", 0, True), ("block", 1, True), ("block", 2, True)]
            view.commit()
            kind, block = await next_event()
            assert (kind, block["number"], hub.height) == ("block", 3, 4)
            assert [b["number"] for b in hub.recent] == [0, 1, 2, 3]  # what a page opened now gets
        finally:
            task.cancel()

    asyncio.run(scenario())


METRICS = """\
# TYPE careledger_transactions_total counter
careledger_transactions_total{code="VALID"} %(valid)s
careledger_transactions_total{code="MVCC_READ_CONFLICT"} 1.0
# TYPE careledger_ledger_height gauge
careledger_ledger_height %(height)s
# TYPE careledger_endorse_seconds histogram
careledger_endorse_seconds_bucket{le="+Inf"} %(endorsed)s
careledger_endorse_seconds_count %(endorsed)s
careledger_endorse_seconds_sum %(endorse_sum)s
"""


def test_chart_points_are_rates_and_mean_latencies_between_two_polls() -> None:
    before = parse_metrics(METRICS % {"valid": 9, "height": 5, "endorsed": 10, "endorse_sum": 0.5})
    after = parse_metrics(METRICS % {"valid": 29, "height": 7, "endorsed": 30, "endorse_sum": 1.5})
    assert before["transactions"] == 10 and before["height"] == 5
    point = chart_point((100.0, {"peer0.hospital": before}), (102.0, {"peer0.hospital": after}))
    assert point == {"t": 102.0, "tps": 10.0, "endorse_ms": 50.0, "commit_ms": None}
