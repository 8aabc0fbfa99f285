"""Checkpointers: where a listener got to, so a restarted listener resumes with no gaps and no repeats.

A checkpoint is the next block to read and, within it, the last transaction already processed.
The application checkpoints after it has processed an event (checkpoint_chaincode_event) or a
block (checkpoint_block); the event or block stream starts from the checkpoint and also resumes
from it after the peer restarts. A block stream starts at the checkpoint's block whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Protocol


class EventPosition(Protocol):
    """Where an event was committed: its block and transaction (a ChaincodeEvent is one)."""

    @property
    def block_number(self) -> int: ...

    @property
    def tx_id(self) -> str: ...


class Checkpoint(Protocol):
    """A position in the ledger: block_number None means none was recorded yet."""

    @property
    def block_number(self) -> int | None: ...

    @property
    def transaction_id(self) -> str | None: ...


class Checkpointer(Checkpoint, Protocol):
    """A Checkpoint the application moves forward as it processes blocks and events."""

    def checkpoint_block(self, block_number: int) -> None: ...

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None: ...

    def checkpoint_chaincode_event(self, event: EventPosition) -> None: ...


class InMemoryCheckpointer:
    """A checkpointer for the life of the process, e.g. to resume a stream within it."""

    def __init__(self, block_number: int | None = None, transaction_id: str | None = None) -> None:
        self._block_number = block_number
        self._transaction_id = transaction_id

    @property
    def block_number(self) -> int | None:
        """The next block to process; None before the first checkpoint."""
        return self._block_number

    @property
    def transaction_id(self) -> str | None:
        """The last transaction processed in block_number, or None to start at its beginning."""
        return self._transaction_id

    def checkpoint_block(self, block_number: int) -> None:
        """Record that block block_number is wholly processed."""
        self._set(block_number + 1, None)

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        """Record that transaction_id of block block_number and all before it are processed."""
        self._set(block_number, transaction_id)

    def checkpoint_chaincode_event(self, event: EventPosition) -> None:
        """Record that event, and every event before it, are processed."""
        self.checkpoint_transaction(event.block_number, event.tx_id)

    def _set(self, block_number: int, transaction_id: str | None) -> None:
        self._block_number = block_number
        self._transaction_id = transaction_id


class FileCheckpointer(InMemoryCheckpointer):
    """A checkpointer kept in a JSON file, replaced atomically and fsynced at every checkpoint,
    so that after a crash the file holds either the previous or the new checkpoint."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            saved = {}
        super().__init__(saved.get("block_number"), saved.get("transaction_id"))

    def _set(self, block_number: int, transaction_id: str | None) -> None:
        data = json.dumps({"block_number": block_number, "transaction_id": transaction_id})
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash
        finally:
            os.close(dir_fd)
        super()._set(block_number, transaction_id)
