"""What the orderer needs from a consenter: order envelopes, expose the resulting chain."""

from __future__ import annotations

from typing import Protocol

from careledger.protos import common_pb2


class OrderingUnavailable(Exception):
    """The consenter cannot take envelopes now (e.g. no leader yet); the client may retry elsewhere."""


class Consenter(Protocol):
    """Solo (one process) or etcd (a replicated chain); the orderer's services use only these methods."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def order(self, envelope: bytes) -> None:
        """Accept a checked envelope for ordering; it appears in a later block.

        Raises OrderingUnavailable when it cannot be accepted now.
        """

    @property
    def height(self) -> int: ...

    @property
    def queue_depth(self) -> int:
        """Envelopes accepted here but not yet in a block."""

    def get_block(self, number: int) -> common_pb2.Block: ...

    def wait_for_height(self, height: int, timeout: float) -> bool: ...
