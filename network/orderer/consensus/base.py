"""What the orderer needs from a consenter: order envelopes, expose the resulting chain."""

from __future__ import annotations

from typing import Protocol

from careledger.protos import common_pb2


class Consenter(Protocol):
    """Solo today; a replicated implementation plugs in behind the same methods."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def order(self, envelope: bytes) -> None:
        """Accept a checked envelope for ordering; it appears in a later block."""

    @property
    def height(self) -> int: ...

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...
