"""Record storage: clinical documents encrypted at rest on the hosting peer's disk, erased beyond recovery.

Each record, named like on the ledger by (patient, record id), is encrypted with AES-256-GCM under
a key of its own. Erasure (GDPR Art. 17) overwrites and deletes the key and the ciphertext; the
salt of the hash the ledger holds dies with the key, so that hash can no longer be linked to a
guessed document. Who may read or write is decided by the record service (recordservice.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

_FORMAT = b"\x01"  # blob layout: format byte || 12-byte nonce || AES-GCM ciphertext and tag
_NONCE_BYTES = 12
_SALT_BYTES = 16


class RecordNotFoundError(Exception):
    """No such record: never stored, or erased."""


class RecordDamagedError(Exception):
    """A stored record cannot be decrypted: its key or ciphertext is missing or altered."""


class AccessSpentError(Exception):
    """An access transaction was already used for a read."""

def salted_hash(salt: bytes, content: bytes) -> str:
    """What the ledger holds of a document: hex SHA-256(salt || content).

    The salt lives beside the record's key and dies with it at erasure, so the hash on the ledger
    can then no longer be linked to a guessed document.
    """
    return hashlib.sha256(salt + content).hexdigest()


@dataclass(frozen=True)
class StoredRecord:
    """A decrypted record, its salt and its salted hash."""

    patient: str
    record_id: str
    content: bytes
    salt: bytes

    @property
    def content_hash(self) -> str:
        return salted_hash(self.salt, self.content)


class EncryptedStore:
    """Records on disk under one directory: `blobs/<gen>.bin`, `keys/<gen>.key` and `index.db`.

    Each version of a record gets a fresh random generation name for its key and ciphertext files.
    They are fsynced before `index.db` (SQLite, synchronous=FULL) switches the record to them in
    one commit, so a crash leaves the old version or the new one, plus at most files that no index
    row names; opening the store shreds those.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._blobs = self.directory / "blobs"
        self._keys = self.directory / "keys"
        for folder in (self.directory, self._blobs, self._keys):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.directory / "index.db", check_same_thread=False)
        self._db.execute("PRAGMA secure_delete = ON")  # an erased row's bytes are zeroed, not freed
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (patient TEXT NOT NULL, record_id TEXT NOT NULL, "
            "generation TEXT NOT NULL, PRIMARY KEY (patient, record_id))"
        )
        self._db.execute(  # every read consumes its own audited access transaction
            "CREATE TABLE IF NOT EXISTS spent_access (tx_id TEXT PRIMARY KEY, reader TEXT NOT NULL, "
            "patient TEXT NOT NULL, record_id TEXT NOT NULL)"
        )
        self._db.commit()
        self._lock = threading.Lock()  # a Get never reads files that a concurrent Put shreds
        self._sweep()

    def put(self, patient: str, record_id: str, content: bytes, *, salt: bytes | None = None) -> StoredRecord:
        """Encrypt and store a new version under a new key; the old version is shredded. An edit
        keeps the record's `salt`, so the hash the corrector put on the ledger is the document's."""
        gen = secrets.token_hex(16)
        key = AESGCM.generate_key(bit_length=256)
        salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
        nonce = os.urandom(_NONCE_BYTES)
        blob = _FORMAT + nonce + AESGCM(key).encrypt(nonce, content, _aad(patient, record_id, gen))
        with self._lock:
            old = self._generation(patient, record_id)
            try:
                _write_new(self._key_path(gen), key + salt)
                _write_new(self._blob_path(gen), blob)
                for folder in (self._keys, self._blobs):
                    _fsync_dir(folder)  # the new names survive a crash before the index names them
                with self._db:
                    self._db.execute(
                        "INSERT OR REPLACE INTO records (patient, record_id, generation) VALUES (?, ?, ?)",
                        (patient, record_id, gen),
                    )
            except BaseException:
                self._shred(gen)
                raise
            if old is not None:
                self._shred(old)
        return StoredRecord(patient, record_id, content, salt)

    def holds(self, patient: str, record_id: str) -> bool:
        """Whether a version of the record is stored."""
        with self._lock:
            return self._generation(patient, record_id) is not None

    def spend(self, tx_id: str, reader: str, patient: str, record_id: str) -> None:
        """Mark an access transaction used; AccessSpentError if it already was."""
        try:
            with self._lock, self._db:
                self._db.execute("INSERT INTO spent_access VALUES (?, ?, ?, ?)",
                                 (tx_id, reader, patient, record_id))
        except sqlite3.IntegrityError as exc:
            raise AccessSpentError(tx_id) from exc

    def get(self, patient: str, record_id: str) -> StoredRecord:
        """The decrypted record, or RecordNotFoundError / RecordDamagedError."""
        with self._lock:
            gen = self._generation(patient, record_id)
            if gen is None:
                raise RecordNotFoundError(f"{patient} {record_id}")
            try:
                key_and_salt = self._key_path(gen).read_bytes()
                blob = self._blob_path(gen).read_bytes()
            except FileNotFoundError as exc:
                raise RecordDamagedError(f"{exc.filename} is missing") from exc
        key, salt = key_and_salt[:-_SALT_BYTES], key_and_salt[-_SALT_BYTES:]
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            if not blob.startswith(_FORMAT):
                raise ValueError("unknown format")
            content = AESGCM(key).decrypt(nonce, ciphertext, _aad(patient, record_id, gen))
        except (InvalidTag, ValueError) as exc:
            raise RecordDamagedError(
                f"{self._blob_path(gen)} does not decrypt with its key: it was altered or swapped"
            ) from exc
        return StoredRecord(patient, record_id, content, salt)

    def erase(self, patient: str, record_id: str) -> None:
        """Drop the record from the index, then overwrite and delete its key and ciphertext."""
        with self._lock:
            gen = self._generation(patient, record_id)
            if gen is None:
                raise RecordNotFoundError(f"{patient} {record_id}")
            with self._db:
                self._db.execute(
                    "DELETE FROM records WHERE patient = ? AND record_id = ?", (patient, record_id)
                )
            self._shred(gen)

    def close(self) -> None:
        """Close the index database."""
        with self._lock:
            self._db.close()

    def _generation(self, patient: str, record_id: str) -> str | None:
        row = self._db.execute(
            "SELECT generation FROM records WHERE patient = ? AND record_id = ?", (patient, record_id)
        ).fetchone()
        return None if row is None else row[0]

    def _key_path(self, gen: str) -> Path:
        return self._keys / f"{gen}.key"

    def _blob_path(self, gen: str) -> Path:
        return self._blobs / f"{gen}.bin"

    def _shred(self, gen: str) -> None:
        """Key first: once it is gone the ciphertext is noise even if the rest is interrupted."""
        for path in (self._key_path(gen), self._blob_path(gen)):
            _shred_file(path)
        for folder in (self._keys, self._blobs):
            _fsync_dir(folder)

    def _sweep(self) -> None:
        """Shred files no index row names: leftovers of a Put, Erase or replace cut by a crash."""
        live = {row[0] for row in self._db.execute("SELECT generation FROM records")}
        for folder in (self._keys, self._blobs):
            for path in folder.iterdir():
                if path.stem not in live:
                    log.warning("record store %s: shredding orphaned file %s", self.directory, path.name)
                    _shred_file(path)
            _fsync_dir(folder)


def _aad(patient: str, record_id: str, gen: str) -> bytes:
    """Binds a ciphertext to its record and version, so files cannot be swapped between records."""
    return f"careledger-record\x00{patient}\x00{record_id}\x00{gen}".encode()


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` (never overwrite) owner-only and fsync it; the index commit makes it live."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _shred_file(path: Path) -> None:
    """Overwrite a file with zeros and fsync before unlinking, so its blocks do not keep the data.

    On copy-on-write filesystems and SSDs the old blocks may survive the overwrite; the key being
    destroyed is what makes the ciphertext unrecoverable there.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        remaining = os.fstat(fd).st_size
        zeros = bytes(min(remaining, 1 << 20))
        while remaining > 0:
            remaining -= os.write(fd, zeros[:remaining])
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
