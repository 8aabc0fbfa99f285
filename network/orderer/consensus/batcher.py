"""The ordering thread every consenter shares: queue envelopes, cut batches by size or timeout."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from careledger.network.orderer.cutter import BlockCutter


class Batcher:
    """Feeds queued envelopes to the block cutter on its own thread and hands each batch to `write`.

    A partial batch is cut once its first envelope has waited `batch_timeout` seconds, so a lone
    transaction is not held back until the block fills. An envelope put `alone` (a configuration
    update) goes into a block of its own, after the pending batch.
    """

    def __init__(self, cutter: BlockCutter, batch_timeout: float,
                 write: Callable[[list[bytes]], None], name: str) -> None:
        self._cutter = cutter
        self._timeout = batch_timeout
        self._write = write
        self._queue: queue.SimpleQueue[tuple[bytes, bool] | None] = queue.SimpleQueue()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=5)

    def put(self, envelope: bytes, alone: bool = False) -> None:
        self._queue.put((envelope, alone))

    def set_timeout(self, batch_timeout: float) -> None:
        """Cut partial batches after this many seconds from the next one on (a config update)."""
        self._timeout = batch_timeout

    @property
    def depth(self) -> int:
        """Envelopes accepted but not yet in a block (approximate: read without locking)."""
        return self._queue.qsize() + self._cutter.pending

    def _run(self) -> None:
        deadline: float | None = None
        while not self._stopping:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is not None and item[1]:
                pending = self._cutter.cut()
                if pending:
                    self._write(pending)
                self._write([item[0]])
                deadline = None
            elif item is not None:
                for batch in self._cutter.ordered(item[0]):
                    self._write(batch)
                if self._cutter.pending and deadline is None:
                    deadline = time.monotonic() + self._timeout
                elif not self._cutter.pending:
                    deadline = None
            elif deadline is not None and time.monotonic() >= deadline:
                batch = self._cutter.cut()
                deadline = None
                if batch:
                    self._write(batch)
