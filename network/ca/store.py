"""What one organisation's CA service remembers, in SQLite under its data folder: registrations
(with the hash of their one-time secret), the certificates it issued, and revocations.

A restarted CA must refuse a used secret and keep every revocation in its CRL, so all of it is on
disk, each change in one SQLite transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

STATES = ("registered", "locked", "enrolled", "revoked")

# Wrong secrets a registration waiting for enrolment takes before it is locked: even the right
# secret is then refused until a registrar gives it a new one, so trying cannot find a secret.
MAX_FAILED_ENROLMENTS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    attributes TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    secret_used_at TEXT,
    state TEXT NOT NULL,
    failed_enrolments INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    pem BLOB NOT NULL,
    revoked_at TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_by_name ON certificates (name);
"""


class StoreError(Exception):
    """A change the store refuses: the message names the registration or serial and why."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate the CA issued (or was asked to revoke), by hex serial."""

    serial: str
    name: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Registration:
    """Who may enrol under a name, with which role and attributes, and how far they got."""

    name: str
    role: str
    attributes: Mapping[str, str]
    registered_by: str
    registered_at: datetime
    state: str
    secret_used_at: datetime | None = None
    certificates: tuple[IssuedCertificate, ...] = field(default=())


def serial_hex(serial: int) -> str:
    """How serials are written everywhere in the CA: lower-case hex, as `openssl x509 -serial`."""
    return format(serial, "x")


def secret_hash(secret: str) -> bytes:
    """SHA-256 of a secret: secrets are 192 random bits, so a slow hash would add nothing."""
    return hashlib.sha256(secret.encode()).digest()


class CAStore:
    """The CA's SQLite file; thread-safe, one instance per CA process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an issued secret or revocation is never lost
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def register(self, name: str, role: str, attributes: Mapping[str, str], registered_by: str,
                 secret: str, at: datetime) -> None:
        """Record a registration; refused if the name is taken."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO registrations VALUES (?, ?, ?, ?, ?, ?, NULL, 'registered', 0)",
                    (name, role, json.dumps(dict(attributes), sort_keys=True), registered_by,
                     at.isoformat(), secret_hash(secret)),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"name {name!r} is already registered; choose another name") from exc

    def registration(self, name: str) -> Registration | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, attributes, registered_by, registered_at, state, secret_used_at "
                "FROM registrations WHERE name = ?", (name,)).fetchone()
            return None if row is None else self._registration(row)

    def registrations(self) -> list[Registration]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, role, attributes, registered_by, registered_at, state, secret_used_at "
                "FROM registrations ORDER BY registered_at, name").fetchall()
            return [self._registration(row) for row in rows]

    def secret_matches(self, name: str, secret: str) -> bool:
        """Whether `secret` is the one issued for `name` (used or not), compared in constant time."""
        with self._lock:
            row = self._db.execute("SELECT secret_hash FROM registrations WHERE name = ?",
                                   (name,)).fetchone()
        return row is not None and hmac.compare_digest(row[0], secret_hash(secret))

    def enrol_failed(self, name: str) -> int:
        """Count a wrong secret against `name` if it waits for enrolment, locking it at
        MAX_FAILED_ENROLMENTS; its wrong secrets so far (0: no such registration waiting)."""
        with self._lock:
            row = self._db.execute(
                "UPDATE registrations SET failed_enrolments = failed_enrolments + 1, state = CASE WHEN "
                "failed_enrolments + 1 >= ? THEN 'locked' ELSE state END "
                "WHERE name = ? AND state = 'registered' RETURNING failed_enrolments",
                (MAX_FAILED_ENROLMENTS, name)).fetchone()
        return int(row[0]) if row else 0

    def reset_secret(self, name: str, secret: str) -> None:
        """Give a registration not enrolled yet (locked or not) a new secret and a clean count;
        refused once it enrolled or was revoked, whose secret can never work again."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE registrations SET secret_hash = ?, failed_enrolments = 0, state = 'registered' "
                "WHERE name = ? AND secret_used_at IS NULL AND state IN ('registered', 'locked')",
                (secret_hash(secret), name)).rowcount
            if changed != 1:
                row = self._db.execute("SELECT state FROM registrations WHERE name = ?", (name,)).fetchone()
                raise StoreError(f"{name!r} is {row[0] if row else 'not registered'}, not waiting for "
                                 "enrolment; only an unused secret is reset")

    def enrol(self, name: str, secret: str, certs: Sequence[x509.Certificate], at: datetime) -> None:
        """Use the secret and record the certificates (signing, and TLS if asked) in one transaction;
        refused if the secret was used meanwhile (two enrolments racing), so at most one enrolment
        is ever handed out."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                used = self._db.execute(
                    "UPDATE registrations SET secret_used_at = ?, state = 'enrolled' "
                    "WHERE name = ? AND secret_hash = ? AND secret_used_at IS NULL "
                    "AND state = 'registered'",
                    (at.isoformat(), name, secret_hash(secret)),
                ).rowcount
                if used != 1:
                    raise StoreError(f"the secret of {name!r} was used, reset or locked meanwhile; it "
                                     "works once")
                for cert in certs:
                    self._insert_certificate(name, cert)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def add_certificate(self, name: str, cert: x509.Certificate) -> None:
        """Record a certificate issued by reenrolment, or one issued elsewhere that is being revoked."""
        with self._lock:
            self._insert_certificate(name, cert)

    def certificate(self, serial: str) -> IssuedCertificate | None:
        with self._lock:
            row = self._db.execute(
                "SELECT serial, name, not_before, not_after, revoked_at, reason FROM certificates "
                "WHERE serial = ?", (serial,)).fetchone()
        return None if row is None else _issued(row)

    def revoke(self, serials: Iterable[str], reason: str, at: datetime,
               registration: str | None = None) -> list[IssuedCertificate]:
        """Revoke these certificates (and the registration, if named, so it cannot reenrol); the ones
        newly revoked. Serials already revoked keep their first date and reason."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                newly = []
                for serial in serials:
                    if self._db.execute(
                        "UPDATE certificates SET revoked_at = ?, reason = ? "
                        "WHERE serial = ? AND revoked_at IS NULL",
                        (at.isoformat(), reason, serial),
                    ).rowcount:
                        newly.append(serial)
                if registration is not None:
                    self._db.execute("UPDATE registrations SET state = 'revoked' WHERE name = ?",
                                     (registration,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [c for c in (self.certificate(s) for s in newly) if c is not None]

    def revoked(self) -> list[IssuedCertificate]:
        """Every revoked certificate, oldest revocation first: the CRL's entries."""
        with self._lock:
            rows = self._db.execute(
                "SELECT serial, name, not_before, not_after, revoked_at, reason FROM certificates "
                "WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial").fetchall()
        return [_issued(row) for row in rows]

    def _insert_certificate(self, name: str, cert: x509.Certificate) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO certificates VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            (serial_hex(cert.serial_number), name, cert.not_valid_before_utc.isoformat(),
             cert.not_valid_after_utc.isoformat(), cert.public_bytes(serialization.Encoding.PEM)),
        )

    def _registration(self, row: tuple[str, ...]) -> Registration:
        name, role, attributes, by, at, state, used = row
        certs = self._db.execute(
            "SELECT serial, name, not_before, not_after, revoked_at, reason FROM certificates "
            "WHERE name = ? ORDER BY not_before, serial", (name,)).fetchall()
        return Registration(name, role, json.loads(attributes), by, datetime.fromisoformat(at), state,
                            datetime.fromisoformat(used) if used else None,
                            tuple(_issued(c) for c in certs))


def _issued(row: tuple[str, ...]) -> IssuedCertificate:
    serial, name, not_before, not_after, revoked_at, reason = row
    return IssuedCertificate(serial, name, datetime.fromisoformat(not_before),
                             datetime.fromisoformat(not_after),
                             datetime.fromisoformat(revoked_at) if revoked_at else None, reason or "")
