"""The ordering thread every consenter shares: queue envelopes, cut batches by size or timeout."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

from careledger.network.orderer.cutter import BlockCutter


class Batcher:
    """Feeds queued envelopes to the block cutter on its own thread and hands each batch to `write`.

    A partial batch is cut once its first envelope has waited `batch_timeout` seconds since it
    was put (not since this thread took it: waking the thread costs a few hundred microseconds
    on an idle machine, which a lone transaction would wait on top), so a lone transaction is not
    held back until the block fills. An envelope put `alone` (a configuration
    update) goes into a block of its own, after the pending batch.
    """

    def __init__(self, cutter: BlockCutter, batch_timeout: float,
                 write: Callable[[list[bytes]], None], name: str) -> None:
        self._cutter = cutter
        self._timeout = batch_timeout
        self._write = write
        # (when put, [(envelope, alone)]): a batch from one BroadcastBatch wakes this thread once
        self._queue: queue.SimpleQueue[tuple[float, list[tuple[bytes, bool]]] | None] = queue.SimpleQueue()
        self._queued = 0  # envelopes in the queue
        self._queued_lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=5)

    def put(self, envelope: bytes, alone: bool = False) -> None:
        self.put_all([(envelope, alone)])

    def put_all(self, items: Sequence[tuple[bytes, bool]]) -> None:
        """Queue (envelope, alone) pairs in their order, waking the ordering thread once."""
        with self._queued_lock:
            self._queued += len(items)
        self._queue.put((time.monotonic(), list(items)))

    def set_timeout(self, batch_timeout: float) -> None:
        """Cut partial batches after this many seconds from the next one on (a config update)."""
        self._timeout = batch_timeout

    @property
    def depth(self) -> int:
        """Envelopes accepted but not yet in a block (approximate: read without locking)."""
        return self._queued + self._cutter.pending

    def _run(self) -> None:
        deadline: float | None = None
        while not self._stopping:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                put = self._queue.get(timeout=wait)
            except queue.Empty:
                put = None
            if put is not None:
                when, items = put
                with self._queued_lock:
                    self._queued -= len(items)
                for envelope, alone in items:
                    deadline = self._add(envelope, alone, deadline, when)
            # also under a steady stream of envelopes, which leaves the queue rarely empty
            if deadline is not None and time.monotonic() >= deadline:
                batch = self._cutter.cut()
                deadline = None
                if batch:
                    self._write(batch)

    def _add(self, envelope: bytes, alone: bool, deadline: float | None, put: float) -> float | None:
        """Give the envelope (put at monotonic time `put`) to the cutter, writing what it cuts;
        the pending batch's deadline."""
        if alone:
            pending = self._cutter.cut()
            if pending:
                self._write(pending)
            self._write([envelope])
            return None
        for batch in self._cutter.ordered(envelope):
            self._write(batch)
        if not self._cutter.pending:
            return None
        return deadline if deadline is not None else put + self._timeout
