"""A pool of channels from a node to the other nodes, one per address, opened on first use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

CLOSE_WAIT = 1.0  # seconds a stopping node waits for an asyncio channel to close


class Connections:
    """Lazily opened mutual-TLS channels to the other nodes, one per address; with
    open_aio_channel, asyncio channels too, for the coroutines of one event loop."""

    def __init__(self, open_channel: Callable[[str], grpc.Channel],
                 open_aio_channel: Callable[[str], Any] | None = None) -> None:  # a grpc.aio.Channel
        self._open = open_channel
        self._open_aio = open_aio_channel
        self._channels: dict[str, grpc.Channel] = {}
        self._aio: dict[str, tuple[asyncio.AbstractEventLoop, grpc.aio.Channel]] = {}

    def get(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = self._open(address)
        return self._channels[address]

    def aio(self, address: str) -> grpc.aio.Channel:
        """The asyncio channel to `address`; call it on the running loop that will use it."""
        if address not in self._aio:
            if self._open_aio is None:
                raise RuntimeError("these Connections were made without open_aio_channel")
            self._aio[address] = (asyncio.get_running_loop(), self._open_aio(address))
        return self._aio[address][1]

    def close(self) -> None:
        """Close every channel (from a thread other than the asyncio channels' loop)."""
        for ch in self._channels.values():
            ch.close()
        for loop, aio_channel in self._aio.values():
            if loop.is_running():
                try:
                    asyncio.run_coroutine_threadsafe(aio_channel.close(), loop).result(CLOSE_WAIT)
                except TimeoutError:
                    pass  # the process is stopping anyway
