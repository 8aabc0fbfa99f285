"""Stream blocks from a number onward, then follow new ones: Deliver and event streams share it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import grpc

from careledger.network.node.grpcutil import RequestError
from careledger.protos import common_pb2

# How long a stream asked to start beyond the height waits for the chain to get there (a peer a
# block or two behind another) before it answers OUT_OF_RANGE instead of waiting out the client.
FUTURE_START_WAIT = 5.0


class BlockSource(Protocol):
    """Anything that holds a growing chain: the orderer's consenter or a peer's ledger."""

    @property
    def height(self) -> int: ...

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...


async def follow_async(source: BlockSource, start: int, next_block: Callable[[float], Awaitable[None]],
                       poll: float = 0.25, stop: int | None = None) -> AsyncIterator[common_pb2.Block]:
    """Blocks start..stop (inclusive), or forever when stop is None: `next_block(timeout)` returns
    once a block is added (or after timeout). A client that goes away cancels it at its next await."""
    number = start
    while stop is None or number <= stop:
        if number < source.height:
            yield source.get_block(number)
            number += 1
        else:
            await next_block(poll)


class BlockSignal:
    """Wakes the coroutines of one event loop that wait for a chain's next block; the chain's
    writer calls `added` from its own thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next: asyncio.Event | None = None  # set at the next block, then replaced

    async def wait(self, timeout: float) -> None:
        """Return at the next block, or after `timeout` seconds."""
        if self._next is None:
            self._loop, self._next = asyncio.get_running_loop(), asyncio.Event()
        try:
            await asyncio.wait_for(self._next.wait(), timeout)
        except TimeoutError:
            pass

    def added(self, *_: object) -> None:
        """A block was added (any arguments, so that it can listen to a ledger or a consenter)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        """On the loop: wake the waiting ones; later waits wait for the block after."""
        if self._next is not None:
            self._next.set()
            self._next = asyncio.Event()


async def start_when_there(source: BlockSource, start: int, what: str,
                           time_remaining: float | None) -> None:
    """wait_for_start for a coroutine: off the loop, and only when the stream starts beyond the
    chain's height."""
    if start > source.height:
        await asyncio.get_running_loop().run_in_executor(
            None, wait_for_start, source, start, what, time_remaining)


def wait_for_start(source: BlockSource, start: int, what: str, time_remaining: float | None,
                   wait: float = FUTURE_START_WAIT) -> None:
    """Return once block `start` is at most the next block to be committed; if the chain does not
    get there within `wait` seconds (or the client's remaining time), raise OUT_OF_RANGE."""
    if start <= source.height:
        return
    budget = wait if time_remaining is None else max(0.0, min(wait, time_remaining - 0.2))
    if source.wait_for_height(start, budget):
        return
    height = source.height
    raise RequestError(
        grpc.StatusCode.OUT_OF_RANGE,
        f"{what} cannot start at block {start}: the ledger's height is {height} (blocks 0.."
        f"{height - 1}), and it did not reach {start} within {budget:.1f}s; start at most at "
        f"{height}, the next block to be committed",
    )
