"""The Coalescer: one caller alone is sent at once; callers of the same turn of the event loop, and
callers that arrive while a batch is in flight, share the next batch; a failed batch fails each of its
callers; answers keep their order."""

from __future__ import annotations

import asyncio

import pytest

from careledger.gateway.coalesce import Coalescer


async def settle() -> None:
    """Let the calls made so far reach the node (a call, then its batch's task, each take a turn)."""
    for _ in range(3):
        await asyncio.sleep(0)


class Node:
    """A node answering each batch after `gate` opens, recording the batches it got."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.fail = False

    async def send(self, items: list[str]) -> list[str]:
        self.batches.append(items)
        await self.gate.wait()
        if self.fail:
            raise ConnectionError("node gone")
        return [item.upper() for item in items]


def test_a_lone_call_goes_at_once_and_the_rest_pile_into_the_next_batch() -> None:
    async def run() -> None:
        node = Node()
        batches = Coalescer(node.send, len, max_bytes=100, max_in_flight=1)
        first = asyncio.ensure_future(batches.call("a"))
        await settle()
        assert node.batches == [["a"]]  # sent without waiting for company
        rest = [asyncio.ensure_future(batches.call(x)) for x in ("b", "c", "d")]
        await settle()
        assert node.batches == [["a"]]  # one in flight: the others wait
        node.gate.set()
        assert await first == "A"
        assert await asyncio.gather(*rest) == ["B", "C", "D"]
        assert node.batches == [["a"], ["b", "c", "d"]]

    asyncio.run(run())


def test_batches_keep_to_the_byte_and_item_limits() -> None:
    async def run() -> None:
        node = Node()
        node.gate.set()
        blocker = asyncio.Event()

        async def slow(items: list[str]) -> list[str]:
            await blocker.wait()
            return await node.send(items)

        batches = Coalescer(slow, len, max_bytes=5, max_in_flight=1, max_items=2)
        calls = [asyncio.ensure_future(batches.call(x)) for x in ("x", "aaa", "bb", "c", "d", "eeeeeeeeee")]
        await settle()
        blocker.set()
        assert await asyncio.gather(*calls) == ["X", "AAA", "BB", "C", "D", "EEEEEEEEEE"]
        # calls of one turn go together, at most 2 items and 5 bytes a batch; an item over the
        # limit goes alone
        assert node.batches == [["x", "aaa"], ["bb", "c"], ["d"], ["eeeeeeeeee"]]

    asyncio.run(run())


def test_a_failed_batch_fails_each_caller_and_the_next_batch_still_goes() -> None:
    async def run() -> None:
        node = Node()
        node.fail = True
        batches = Coalescer(node.send, len, max_bytes=100, max_in_flight=1)
        calls = [asyncio.ensure_future(batches.call(x)) for x in ("a", "b")]
        await settle()
        node.gate.set()
        for call in calls:
            with pytest.raises(ConnectionError, match="node gone"):
                await call
        node.fail = False
        assert await batches.call("c") == "C"

    asyncio.run(run())


def test_a_spare_batch_starts_only_once_the_one_in_flight_has_run_spare_after() -> None:
    async def run() -> None:
        node = Node()
        batches = Coalescer(node.send, len, max_bytes=100, max_in_flight=2, spare_after=0.2)
        loop = asyncio.get_running_loop()
        slow = asyncio.ensure_future(batches.call("slow"))
        await settle()
        waiting = [asyncio.ensure_future(batches.call(x)) for x in ("b", "c")]
        await settle()
        assert node.batches == [["slow"]]  # a free place, but the batch in flight is young
        started = loop.time()
        while len(node.batches) < 2:
            await asyncio.sleep(0.01)
        assert loop.time() - started >= 0.15
        assert node.batches == [["slow"], ["b", "c"]]  # beside the slow one, not after it
        node.gate.set()
        assert await asyncio.gather(slow, *waiting) == ["SLOW", "B", "C"]
        node.gate.clear()
        ends = asyncio.ensure_future(batches.call("d"))  # nothing in flight: sent at once
        await settle()
        assert node.batches[-1] == ["d"]
        node.gate.set()
        assert await ends == "D"

    asyncio.run(run())
