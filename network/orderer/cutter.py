"""The block cutter: decides where one block ends and the next begins."""

from __future__ import annotations

from dataclasses import dataclass

from careledger.network.ledger import protoutil


@dataclass(frozen=True)
class BatchLimits:
    max_tx: int
    max_bytes: int

    def deliverable(self, max_message_bytes: int) -> BatchLimits:
        """These limits, max_bytes lowered where needed so that a full block still fits in one
        message of max_message_bytes: a bigger block could never be delivered to a peer."""
        room = protoutil.block_envelope_bytes(max_message_bytes, self.max_tx)
        return BatchLimits(self.max_tx, max(1, min(self.max_bytes, room)))


class BlockCutter:
    """Groups envelopes into batches by count and size; the consenter cuts on timeout.

    Not thread-safe: it belongs to the consenter's ordering thread.
    """

    def __init__(self, limits: BatchLimits) -> None:
        self._limits = limits
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def set_limits(self, limits: BatchLimits) -> None:
        """Cut by these limits from the next envelope on (a channel configuration update)."""
        self._limits = limits

    @property
    def pending(self) -> int:
        return len(self._pending)

    def ordered(self, envelope: bytes) -> list[list[bytes]]:
        """Add one envelope; return the batches that are now complete (zero, one or two)."""
        batches = []
        if self._pending and self._pending_bytes + len(envelope) > self._limits.max_bytes:
            batches.append(self.cut())
        self._pending.append(envelope)
        self._pending_bytes += len(envelope)
        if len(self._pending) >= self._limits.max_tx or self._pending_bytes >= self._limits.max_bytes:
            batches.append(self.cut())
        return batches

    def cut(self) -> list[bytes]:
        """Return what is pending as one batch (possibly empty) and start afresh."""
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        return batch
