"""A peer's ledger for one channel: the block store and the state database as one unit.

Commit order is: validate, append the block with its codes (fsync), apply the state (one SQLite
transaction), then tell waiters. A crash after the append and before the state leaves blocks
beyond the state's savepoint; opening the ledger replays them from their stored codes, so the
two always end up agreeing without re-validating anything. A state write that fails while the
process lives (a full disk) is repaired the same way by `resume()`, without a restart.

Opening also checks the world state against the digest stored with the last block's commit
record (statecheck.py): if a row was changed outside a commit, or the state database predates
commit records, the state is rebuilt from the blocks before anything is served, and
`state_repair` says what differed, by block and key. That scan costs time in proportion to the
state, so a ledger opened with its peer's signer skips it when its signed checkpoint says the
peer closed cleanly and the state database is unchanged since (checkpoint.py says what is
skipped when, and the trade-off).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.ledger.blockstore import BlockNotFoundError, BlockStore, BlockWriteError
from careledger.network.peer import checkpoint, statecheck
from careledger.network.peer.commitwait import CommitWaiters
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import StateDB
from careledger.network.peer.validation import Validator, replay_outcomes
from careledger.protos import common_pb2

log = logging.getLogger(__name__)

Listener = Callable[[common_pb2.Block, list[TxOutcome]], None]

BLOCKS_DIR = "blocks"  # inside the ledger's directory
STATE_FILE = "state.db"


class LedgerError(Exception):
    """The ledger cannot commit or recover; the message names the block."""


@dataclass(frozen=True)
class StateRepair:
    """Why the state database was rebuilt from the blocks on open, and what differed."""

    reason: str
    differences: tuple[statecheck.StateDiff, ...]

    def describe(self) -> str:
        shown = "; ".join(d.describe() for d in self.differences[:5])
        more = f" (and {len(self.differences) - 5} more)" if len(self.differences) > 5 else ""
        return f"{self.reason}; rebuilt from the blocks" + (f": {shown}{more}" if shown else "")


class Ledger:
    """Blocks and world state of one channel, committed atomically as seen from outside."""

    def __init__(
        self,
        directory: Path,
        validator_factory: Callable[[StateDB], Validator] | None = None,
        signer: Signer | None = None,
        start: checkpoint.StartCheck | None = None,
    ) -> None:
        """Open (and recover) the ledger in `directory`.

        With `signer` (the peer's identity) the ledger keeps a signed checkpoint: `start` is what
        the start-up check decided from it (checkpoint.at_start, taken before anything opened
        the files; computed here if not given), and it lets opening skip the state scan.
        """
        self._dir = Path(directory)
        self._signer = signer
        start = start if start is not None else checkpoint.at_start(self._dir, signer)
        self.blocks = BlockStore(self._dir / BLOCKS_DIR)
        self.state = StateDB(self._dir / STATE_FILE)
        self._commit_lock = threading.Lock()
        self._changed = threading.Condition()
        self._listeners_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._commit_waiters = CommitWaiters(self)
        self._height = 0
        self._last_header: common_pb2.BlockHeader | None = None  # of the last block committed here
        self._broken = ""
        self.state_repair: StateRepair | None = None  # set when opening had to rebuild the state
        self.start = start
        self._recover(trust_state=start.state_unchanged)
        # Blocks 0.._verified-1 are known to be checked: the whole file if the start-up check
        # passed, then every block committed (the committer checks each before it commits).
        self._verified = self.blocks.height if start.blocks_checked else 0
        self._checkpoint_written = 0
        self._write_checkpoint(clean=False)  # a crash from now on is not a clean close
        self._validator = validator_factory(self.state) if validator_factory else None

    def _write_checkpoint(self, clean: bool) -> None:
        """Sign and store the checkpoint at the verified height (no-op without a signer)."""
        if self._signer is None:
            return
        height = self._verified
        header = commit = ""
        if height:
            if height >= self.blocks.first:
                header = protoutil.header_hash(self.header(height - 1)).hex()
            record = self.state.commit_record(height - 1)
            commit = record.commit_hash.hex() if record else ""
        cp = checkpoint.Checkpoint(height, header, commit)
        if clean:
            cp = checkpoint.stamped(cp, self._dir)
        try:
            checkpoint.write(self._dir, cp, self._signer)
        except OSError as exc:  # e.g. a full disk: the next start checks more, nothing is lost
            log.warning("ledger %s: cannot write checkpoint (%s); removing it", self._dir, exc)
            checkpoint.remove(self._dir)
        self._checkpoint_written = height

    def _recover(self, trust_state: bool = False) -> None:
        """Re-apply stored blocks beyond the state's savepoint, using their stored codes."""
        replayed = self._replay()
        if replayed:
            log.warning(
                "ledger %s: replayed blocks %d..%d into state (an interrupted commit or a rebuild)",
                self._dir,
                replayed.start,
                replayed.stop - 1,
            )
        if not (trust_state and not replayed):
            self._check_state()
        self._height = self.blocks.height

    def _check_state(self) -> None:
        """Rebuild the state from the blocks if its rows no longer match the stored digest."""
        savepoint = self.state.savepoint()
        if savepoint is None:
            return
        record = self.state.commit_record(savepoint)
        if record is None:
            reason = f"state {self.state.path} has no commit record for block {savepoint} (it predates them)"
        elif self.state.scan_digest() != record.state_digest:
            reason = (f"state {self.state.path} does not match the digest committed with block {savepoint}: "
                      "a row was changed outside a commit")
        else:
            return
        path = self.state.path
        scratch = path.with_name(path.name + ".rebuild")
        rebuilt = statecheck.rebuild((self.blocks.get(n) for n in range(savepoint + 1)), scratch)
        try:
            found = statecheck.diff(self.state.state_rows(), rebuilt.state_rows())
        finally:
            rebuilt.close()
        self.state.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        os.replace(scratch, path)
        self.state = StateDB(path)
        self.state_repair = StateRepair(reason, tuple(found))
        log.error("ledger %s: %s", self._dir, self.state_repair.describe())

    def _replay(self) -> range:
        """Apply to state every stored block past its savepoint; returns their numbers."""
        savepoint = self.state.savepoint()
        first = 0 if savepoint is None else savepoint + 1
        if first > self.blocks.height:
            raise LedgerError(
                f"state in {self.state.path} is at block {savepoint} but the block store holds "
                f"only {self.blocks.height} blocks; restore the blocks folder or delete state.db "
                "to rebuild it"
            )
        for block in self.blocks.iter_from(first):
            self.state.apply_block(block.header.number, replay_outcomes(block))
        return range(first, self.blocks.height)

    @property
    def problem(self) -> str:
        """Why the ledger cannot commit until `resume()` succeeds, or "" when it can."""
        return self._broken

    def resume(self) -> int:
        """Finish a commit whose state write failed (e.g. disk full); returns the blocks replayed.

        Raises LedgerError, still naming the block, if the state still cannot be written.
        Must run on the committing thread: that thread's SQLite connection held the failed write.
        """
        with self._commit_lock:
            if not self._broken:
                return 0
            try:
                replayed = self._replay()
            except Exception as exc:
                self._broken = (
                    f"block {self.blocks.height - 1} is stored but its state cannot be applied "
                    f"({exc}); retrying"
                )
                raise LedgerError(self._broken) from exc
            self._broken = ""
            with self._changed:
                self._height = self.blocks.height
                self._changed.notify_all()
        log.warning("ledger %s: resumed; replayed %d block(s) into state", self._dir, len(replayed))
        for number in replayed:
            block = self.blocks.get(number)
            self._notify(block, replay_outcomes(block))
        return len(replayed)

    @property
    def height(self) -> int:
        """Number of committed blocks (block store and state both hold them)."""
        return self._height

    def get_block(self, number: int) -> common_pb2.Block:
        """A committed block, with its validation codes."""
        height = self._height  # the store may hold one more block whose state is being applied
        if not 0 <= number < height:
            raise BlockNotFoundError(f"block {number} not found: the ledger's height is {height}")
        return self.blocks.get(number)

    def header(self, number: int) -> common_pb2.BlockHeader:
        """A committed block's header; also the snapshot's block a ledger that joined from a
        snapshot begins after (it holds that header, not the block). The last block committed
        since opening is not read back: the committer asks for it before every block."""
        last = self._last_header
        if last is not None and number == last.number:
            return last
        base = self.blocks.previous_header
        if base is not None and number == base.number:
            return base
        return self.get_block(number).header

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None:
        """(validation code, block number) of a committed tx id, or None."""
        found = self.state.tx_status(tx_id)
        # A block's state lands just before the height moves; report it only once both did.
        return found if found is not None and found[1] < self._height else None

    def commit(self, block: common_pb2.Block) -> list[TxOutcome]:
        """Validate, store and apply the next block; returns one outcome per transaction."""
        if self._validator is None:
            raise LedgerError(
                f"ledger {self._dir} has no validator; open it with a validator_factory to commit"
            )
        with self._commit_lock:
            if self._broken:
                raise LedgerError(self._broken)
            if block.header.number != self._height:
                raise LedgerError(
                    f"cannot commit block {block.header.number}: the ledger's height is "
                    f"{self._height}, so the next block must be number {self._height}"
                )
            outcomes = self._validator.validate(block)
            del block.metadata.validation_codes[:]
            block.metadata.validation_codes.extend(o.code for o in outcomes)
            try:
                self.blocks.append(block)
            except BlockWriteError as exc:
                raise LedgerError(f"block {block.header.number} not committed: {exc}") from exc
            try:
                self.state.apply_block(block.header.number, outcomes)
            except Exception as exc:
                self._broken = (
                    f"block {block.header.number} is stored but its state was not applied ({exc}); "
                    "resume() or reopening the ledger replays it"
                )
                raise LedgerError(self._broken) from exc
            last = common_pb2.BlockHeader()
            last.CopyFrom(block.header)
            with self._changed:
                self._height = block.header.number + 1
                self._last_header = last
                self._changed.notify_all()
            if self._verified == block.header.number:
                self._verified += 1
                if self._verified - self._checkpoint_written >= checkpoint.EVERY_BLOCKS:
                    self._write_checkpoint(clean=False)
        self._notify(block, outcomes)
        return outcomes

    def _notify(self, block: common_pb2.Block, outcomes: list[TxOutcome]) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(block, outcomes)
            except Exception:
                log.exception("ledger listener %r failed on block %d", listener, block.header.number)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Block until at least `height` blocks are committed; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._height >= height, timeout)

    def wait_for_tx(self, tx_id: str, timeout: float) -> tuple[common_pb2.ValidationCode, int] | None:
        """(code, block number) once `tx_id` is committed; None if not within `timeout` seconds.

        Woken only by the block that holds it (commitwait.py), not by every block."""
        return self._commit_waiters.wait(tx_id, timeout)

    def add_listener(self, fn: Listener) -> None:
        """Call `fn(block, outcomes)` after each commit, on the committing thread."""
        with self._listeners_lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling `fn`; unknown listeners are ignored."""
        with self._listeners_lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def close(self) -> None:
        """Close the block store and the state database."""
        with self._commit_lock:
            clean = not self._broken
            if clean and self._signer is not None:
                self._write_checkpoint(clean=False)  # reads the header and record while open
            self.blocks.close()
            self.state.close()
            if clean and self._signer is not None:
                self._write_checkpoint_stamped()

    def _write_checkpoint_stamped(self) -> None:
        """After the files are closed: the last checkpoint again, with their stamps (clean)."""
        assert self._signer is not None
        cp, _ = checkpoint.read(self._dir, self._signer)
        if cp is None or cp.height != self._verified:
            return
        try:
            checkpoint.write(self._dir, checkpoint.stamped(cp, self._dir), self._signer)
        except OSError as exc:
            log.warning("ledger %s: cannot write a clean checkpoint (%s)", self._dir, exc)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
