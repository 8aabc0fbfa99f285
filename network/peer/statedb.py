"""World state, key history and the transaction index in one SQLite file.

One file so that a block's effects — valid writes, history rows, the validation code of every
transaction, the block's commit record and the savepoint — land in a single SQLite transaction:
after a crash the state is either wholly before or wholly after the block, and the savepoint says
which. The commit record (commithash.py) holds the block's codes, its commit hash and the digest of
the world state after it, so that a changed row or a changed code in the block file is found.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from careledger.chaincode.state import HistoryEntry, Version
from careledger.network.peer import commithash
from careledger.protos import common_pb2

if TYPE_CHECKING:
    from careledger.network.peer.outcome import TxOutcome


_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    block_num INTEGER NOT NULL, tx_num INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    ns TEXT NOT NULL, key TEXT NOT NULL, block_num INTEGER NOT NULL, tx_num INTEGER NOT NULL,
    tx_id TEXT NOT NULL, value BLOB NOT NULL, is_delete INTEGER NOT NULL, timestamp TEXT NOT NULL,
    PRIMARY KEY (ns, key, block_num, tx_num)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS txindex (
    tx_id TEXT PRIMARY KEY, code INTEGER NOT NULL, block_num INTEGER NOT NULL,
    tx_num INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    block_num INTEGER PRIMARY KEY, commit_hash BLOB NOT NULL, codes BLOB NOT NULL,
    state_digest BLOB NOT NULL
);
"""

_VC = common_pb2.ValidationCode

# Codes decided before the tx id was proven to be SHA-256(nonce || creator) by a signed creator.
# Such a tx id may be squatted by anyone, so it must not block the genuine transaction: it is
# indexed, but a later authenticated transaction with the same id takes over the index entry.
UNVERIFIED_TX_ID_CODES = frozenset(
    {_VC.NIL_ENVELOPE, _VC.BAD_PAYLOAD, _VC.BAD_CHANNEL, _VC.BAD_PROPOSAL_TXID, _VC.BAD_CREATOR_SIGNATURE}
)
_UNVERIFIED_SQL = ", ".join(str(int(code)) for code in sorted(UNVERIFIED_TX_ID_CODES))
# The first occurrence of a tx id wins (a DUPLICATE_TXID never overwrites the original), except
# that an authenticated occurrence takes over from unverified ones.
_INDEX_TX_SQL = (
    "INSERT INTO txindex (tx_id, code, block_num, tx_num) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tx_id) DO UPDATE SET "
    "code = excluded.code, block_num = excluded.block_num, tx_num = excluded.tx_num "
    f"WHERE txindex.code IN ({_UNVERIFIED_SQL}) AND excluded.code NOT IN ({_UNVERIFIED_SQL})"
)


_MANY = 400  # keys a query looks up at once: 800 parameters, under SQLite's oldest limit of 999


class StateDBError(Exception):
    """Base: the state database could not be opened, read or updated."""


class SavepointError(StateDBError):
    """A block was applied out of order relative to the savepoint."""


@dataclass(frozen=True)
class CommitRecord:
    """What the state database recorded when it applied one block."""

    block_num: int
    commit_hash: bytes
    codes: bytes  # one validation code per transaction, one byte each
    state_digest: bytes  # of the world state after the block


class StateDB:
    """SQLite-backed world state; one connection per thread, readers concurrent with the committer."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._conn().executescript(_SCHEMA)

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StateDBError(f"state database {self._path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            # check_same_thread=False only so that close() may close every thread's connection.
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # No fsync per commit: the block file is fsynced first, and opening the ledger replays
            # blocks beyond the savepoint, so a commit lost with the page cache comes back from
            # it. WAL keeps each block's transaction atomic; a clean close checkpoints (fsync).
            conn.execute("PRAGMA synchronous=NORMAL")
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def snapshot(self) -> AbstractContextManager[StateDB]:
        """Hold one read transaction so that several reads see the same committed block: the one
        committed when the first of them runs (every contract call opens one, so it costs two
        statements, not three, and no generator)."""
        return _Snapshot(self, self._conn())

    def get_state(self, ns: str, key: str) -> tuple[bytes, Version] | None:
        """The committed value and version of a key, or None if it does not exist."""
        row = (
            self._conn()
            .execute("SELECT value, block_num, tx_num FROM state WHERE ns = ? AND key = ?", (ns, key))
            .fetchone()
        )
        if row is None:
            return None
        return bytes(row[0]), (row[1], row[2])

    def get_states(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], tuple[bytes, Version]]:
        """The committed value and version of each (namespace, key) of `keys` that exists (the
        others are left out): one query per _MANY keys instead of one per key."""
        wanted = list(keys)
        found: dict[tuple[str, str], tuple[bytes, Version]] = {}
        for i in range(0, len(wanted), _MANY):
            part = wanted[i:i + _MANY]
            rows = self._conn().execute(
                # the CROSS JOIN keeps SQLite to a primary-key search per wanted key
                f"WITH wanted (ns, key) AS (VALUES {', '.join(['(?, ?)'] * len(part))}) "
                "SELECT s.ns, s.key, s.value, s.block_num, s.tx_num FROM wanted CROSS JOIN state AS s "
                "ON s.ns = wanted.ns AND s.key = wanted.key",
                [field for pair in part for field in pair],
            ).fetchall()
            found.update(((ns, key), (bytes(value), (b, t))) for ns, key, value, b, t in rows)
        return found

    def get_range(
        self, ns: str, start: str, end: str, limit: int = 0
    ) -> list[tuple[str, bytes, Version]]:
        """Keys in [start, end) sorted by key; an empty start or end leaves that side open; a
        positive limit stops after that many keys."""
        sql = "SELECT key, value, block_num, tx_num FROM state WHERE ns = ? AND key >= ?"
        params: tuple[str | int, ...] = (ns, start)
        if end:
            sql += " AND key < ?"
            params += (end,)
        sql += " ORDER BY key"
        if limit > 0:
            sql += " LIMIT ?"
            params += (limit,)
        rows = self._conn().execute(sql, params).fetchall()
        return [(k, bytes(v), (b, t)) for k, v, b, t in rows]

    def get_history(self, ns: str, key: str) -> list[HistoryEntry]:
        """Every committed write and delete of a key, oldest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT tx_id, value, is_delete, timestamp, block_num, tx_num FROM history "
                "WHERE ns = ? AND key = ? ORDER BY block_num, tx_num",
                (ns, key),
            )
            .fetchall()
        )
        return [
            HistoryEntry(
                tx_id=tx_id,
                value=bytes(value),
                is_delete=bool(is_delete),
                timestamp=datetime.fromisoformat(ts),
                block_num=block_num,
                tx_num=tx_num,
            )
            for tx_id, value, is_delete, ts, block_num, tx_num in rows
        ]

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None:
        """(validation code, block number) of a committed tx id, or None if never committed."""
        row = self._conn().execute("SELECT code, block_num FROM txindex WHERE tx_id = ?", (tx_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def tx_statuses(self, tx_ids: Collection[str]) -> dict[str, tuple[common_pb2.ValidationCode, int]]:
        """tx_status of each of `tx_ids` that was committed (the others are left out): one query
        per _MANY ids."""
        wanted = list(tx_ids)
        found: dict[str, tuple[common_pb2.ValidationCode, int]] = {}
        for i in range(0, len(wanted), _MANY):
            part = wanted[i:i + _MANY]
            rows = self._conn().execute(
                f"SELECT tx_id, code, block_num FROM txindex WHERE tx_id IN ({', '.join(['?'] * len(part))})",
                part,
            ).fetchall()
            found.update((tx_id, (code, block_num)) for tx_id, code, block_num in rows)
        return found

    def savepoint(self) -> int | None:
        """The number of the last block applied, or None before the first."""
        row = self._conn().execute("SELECT value FROM meta WHERE name = 'savepoint'").fetchone()
        return None if row is None else row[0]

    def commit_record(self, block_num: int) -> CommitRecord | None:
        """The commit record of an applied block, or None (not applied, or a state.db from
        before commit records)."""
        row = self._conn().execute(
            "SELECT block_num, commit_hash, codes, state_digest FROM commits WHERE block_num = ?",
            (block_num,),
        ).fetchone()
        return None if row is None else CommitRecord(row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]))

    def commit_records(self) -> list[CommitRecord]:
        """Every commit record, by block number."""
        rows = self._conn().execute(
            "SELECT block_num, commit_hash, codes, state_digest FROM commits ORDER BY block_num"
        ).fetchall()
        return [CommitRecord(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]

    def scan_digest(self) -> bytes:
        """The state digest computed from every row of the world state now (a full scan)."""
        digest = 0
        with self.snapshot():
            for ns, key, value, block_num, tx_num in self._conn().execute(
                "SELECT ns, key, value, block_num, tx_num FROM state"
            ):
                digest = commithash.add(digest, commithash.row_hash(ns, key, bytes(value), block_num, tx_num))
        return commithash.digest_bytes(digest)

    def state_rows(self) -> dict[tuple[str, str], tuple[bytes, Version]]:
        """The whole world state: (namespace, key) -> (value, version)."""
        with self.snapshot():
            rows = self._conn().execute("SELECT ns, key, value, block_num, tx_num FROM state").fetchall()
        return {(ns, key): (bytes(value), (b, t)) for ns, key, value, b, t in rows}

    def apply_block(self, block_num: int, outcomes: Sequence[TxOutcome]) -> None:
        """Apply one block's outcomes, record its commit hash and the state digest, and move the
        savepoint, all in one SQLite transaction."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value FROM meta WHERE name = 'savepoint'").fetchone()
            expected = 0 if row is None else row[0] + 1
            if block_num != expected:
                raise SavepointError(
                    f"cannot apply block {block_num} to state {self._path}: the savepoint expects "
                    f"block {expected} next; reopen the ledger to replay missing blocks"
                )
            last = conn.execute(
                "SELECT commit_hash, state_digest FROM commits WHERE block_num = ?", (block_num - 1,)
            ).fetchone()
            previous, digest = (commithash.GENESIS, 0) if last is None else (
                bytes(last[0]), commithash.digest_int(bytes(last[1])))
            written = {(ns, w.key) for o in outcomes if o.tx_id and o.code == common_pb2.VALID
                       for ns, w in o.writes}
            writes = _BlockWrites(conn, block_num, digest, self.get_states(written))
            index = []
            for tx_num, outcome in enumerate(outcomes):
                if not outcome.tx_id:  # unparseable envelope: nothing to look up by
                    continue
                index.append((outcome.tx_id, outcome.code, block_num, tx_num))
                if outcome.code == common_pb2.VALID:
                    writes.add(tx_num, outcome)
            conn.executemany(_INDEX_TX_SQL, index)
            writes.store()
            conn.execute(
                "INSERT OR REPLACE INTO commits (block_num, commit_hash, codes, state_digest) "
                "VALUES (?, ?, ?, ?)",
                (block_num, commithash.commit_hash(previous, block_num, outcomes),
                 commithash.codes_bytes([o.code for o in outcomes]), commithash.digest_bytes(writes.digest)),
            )
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('savepoint', ?)", (block_num,))
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (e.g. on a full disk); a COMMIT that failed has not.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every thread's connection; later calls raise StateDBError."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Snapshot:
    """StateDB.snapshot's read transaction on this thread's connection (none when nested: the
    outer one already holds the view)."""

    __slots__ = ("_conn", "_db", "_own")

    def __init__(self, db: StateDB, conn: sqlite3.Connection) -> None:
        self._db = db
        self._conn = conn
        self._own = False

    def __enter__(self) -> StateDB:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")  # deferred: the first read takes the WAL read mark
            self._own = True
        return self._db

    def __exit__(self, *exc: object) -> None:
        if self._own:
            self._conn.execute("COMMIT")


class _BlockWrites:
    """The state and history rows of one block's valid writes, gathered in order and stored with
    one executemany per statement instead of three statements per write; the state digest is
    updated write by write as before, from the rows the keys held before the block (`committed`,
    read in one query) or that this block already wrote."""

    def __init__(self, conn: sqlite3.Connection, block_num: int, digest: int,
                 committed: dict[tuple[str, str], tuple[bytes, Version]]) -> None:
        self._conn = conn
        self._block_num = block_num
        self.digest = digest
        self._before = committed
        self._rows: dict[tuple[str, str], tuple[bytes, int, int] | None] = {}  # None: deleted
        self._history: list[tuple[str, str, int, int, str, bytes, int, str]] = []

    def add(self, tx_num: int, outcome: TxOutcome) -> None:
        """The writes of one valid transaction, after those of the transactions before it."""
        ts = outcome.timestamp.isoformat()
        block_num = self._block_num
        for ns, w in outcome.writes:
            where = (ns, w.key)
            if where in self._rows:
                old = self._rows[where]
            else:
                before = self._before.get(where)
                old = None if before is None else (before[0], *before[1])
            if old is not None:
                self.digest = commithash.remove(self.digest, commithash.row_hash(ns, w.key, *old))
            if w.is_delete:
                self._rows[where] = None
            else:
                self._rows[where] = (w.value, block_num, tx_num)
                share = commithash.row_hash(ns, w.key, w.value, block_num, tx_num)
                self.digest = commithash.add(self.digest, share)
            self._history.append((ns, w.key, block_num, tx_num, outcome.tx_id, w.value, int(w.is_delete), ts))

    def store(self) -> None:
        """Each key's last row (or its deletion) into the state table, every write into history."""
        self._conn.executemany("DELETE FROM state WHERE ns = ? AND key = ?",
                               [where for where, row in self._rows.items() if row is None])
        self._conn.executemany(
            "INSERT OR REPLACE INTO state (ns, key, value, block_num, tx_num) VALUES (?, ?, ?, ?, ?)",
            [(*where, *row) for where, row in self._rows.items() if row is not None])
        self._conn.executemany(
            "INSERT OR REPLACE INTO history (ns, key, block_num, tx_num, tx_id, value, is_delete, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._history)
