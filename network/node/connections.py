"""A pool of channels from a node to the other nodes, one per address, opened on first use."""

from __future__ import annotations

from collections.abc import Callable

import grpc


class Connections:
    """Lazily opened mutual-TLS channels to the other nodes, one per address."""

    def __init__(self, open_channel: Callable[[str], grpc.Channel]) -> None:
        self._open = open_channel
        self._channels: dict[str, grpc.Channel] = {}

    def get(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = self._open(address)
        return self._channels[address]

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
