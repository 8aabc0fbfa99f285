"""The off-ledger record store: clinical documents encrypted at rest, read only under an audited access.

The ledger holds a record's pointer, hash and consents; the document lives here, on the hosting
peer's disk, encrypted with AES-256-GCM under a key of its own, named like on the ledger by
(patient, record id). A read is answered only for the caller's VALID committed consent
`access_record` transaction that granted this record, so every read has its audit event on the
ledger. Erasure overwrites and deletes the key and the ciphertext.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import protoutil
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.protos import common_pb2, recordstore_pb2, recordstore_pb2_grpc

log = logging.getLogger(__name__)

RECORD_LIMIT = 4 * 1024 * 1024
# Room in one gRPC message for everything of a Put request but the document: cert, ids, signature.
REQUEST_OVERHEAD = 16 * 1024
ACCESS_CONTRACT = "consent"
ACCESS_FUNCTION = "access_record"
ADMIN_ROLE = "admin"

# The id rules of the consent contract; fullmatch, so that no trailing newline slips through.
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_IDENTITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9@._-]*")
_FORMAT = b"\x01"  # blob layout: format byte || 12-byte nonce || AES-GCM ciphertext and tag
_NONCE_BYTES = 12
_OPERATIONS = {
    recordstore_pb2.RECORD_PUT: "Put",
    recordstore_pb2.RECORD_GET: "Get",
    recordstore_pb2.RECORD_ERASE: "Erase",
}


def record_size_limit(max_message_bytes: int) -> int:
    """The largest document a peer can take: 4 MiB, less when its gRPC messages are smaller."""
    return max(0, min(RECORD_LIMIT, max_message_bytes - REQUEST_OVERHEAD))


class LedgerReader(Protocol):
    """What the store needs of a ledger to check an access transaction (Ledger has both)."""

    def tx_status(self, tx_id: str) -> tuple[int, int] | None: ...

    def get_block(self, number: int) -> common_pb2.Block: ...


class RecordNotFoundError(Exception):
    """No such record: never stored, or erased."""


class RecordDamagedError(Exception):
    """A stored record cannot be decrypted: its key or ciphertext is missing or altered."""


_SALT_BYTES = 16


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


class AccessSpentError(Exception):
    """An access transaction was already used for a read."""


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

    def put(self, patient: str, record_id: str, content: bytes) -> StoredRecord:
        """Encrypt and store a new version under a new key; the old version is shredded."""
        gen = secrets.token_hex(16)
        key = AESGCM.generate_key(bit_length=256)
        salt = secrets.token_bytes(_SALT_BYTES)
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


class ConsentCheck(Protocol):
    """Does consent permit `caller` to read the record for `purpose` now (granted, reason)?"""

    def __call__(self, caller: Identity, patient: str, record_id: str,
                 purpose: str) -> tuple[bool, str]: ...


class RecordStoreService(recordstore_pb2_grpc.RecordStoreServicer):
    """Put, Get and Erase of encrypted records for verified callers; one instance serves all RPCs."""

    def __init__(
        self,
        channel: str,
        membership: Membership,
        ledger: LedgerReader,
        directory: Path,
        consent_now: ConsentCheck,
        *,
        max_record_bytes: int = RECORD_LIMIT,
    ) -> None:
        self._channel = channel
        self._membership = membership
        self._ledger = ledger
        self._consent_now = consent_now
        self._max_record_bytes = max_record_bytes
        self.store = EncryptedStore(directory)

    def close(self) -> None:
        """Close the store's index."""
        self.store.close()

    @unary
    def Put(
        self, request: common_pb2.Signed, context: grpc.ServicerContext
    ) -> recordstore_pb2.PutRecordResponse:
        req, caller = self._open(request, recordstore_pb2.RECORD_PUT)
        if len(req.content) > self._max_record_bytes:
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"record {req.record_id} is {len(req.content)} bytes; this store takes at most "
                f"{self._max_record_bytes}: store the document in parts under several record ids",
            )
        if not req.content:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"record {req.record_id} has no content; to remove a record, erase it",
            )
        if not req.access_tx_id and req.patient in ("", caller.id):
            patient = caller.id  # patients store their own records; the ledger has no say yet
        else:
            patient, purpose = self._check_access(caller, req.record_id, req.access_tx_id, req.patient)
            self._admit_read(req.access_tx_id, caller, patient, req.record_id, purpose)
        record = self.store.put(patient, req.record_id, req.content)
        log.info("record %s of %s stored by %s (%d bytes, access tx %s)",
                 req.record_id, patient, caller.id, len(req.content), req.access_tx_id or "-")
        return recordstore_pb2.PutRecordResponse(
            patient=patient, record_id=req.record_id, content_hash=record.content_hash,
            size=len(record.content),
        )

    @unary
    def Get(
        self, request: common_pb2.Signed, context: grpc.ServicerContext
    ) -> recordstore_pb2.GetRecordResponse:
        req, caller = self._open(request, recordstore_pb2.RECORD_GET)
        patient, purpose = self._check_access(caller, req.record_id, req.access_tx_id, req.patient)
        try:
            record = self.store.get(patient, req.record_id)
        except RecordNotFoundError as exc:
            raise _not_found(patient, req.record_id) from exc
        except RecordDamagedError as exc:
            raise RequestError(
                grpc.StatusCode.DATA_LOSS,
                f"record {req.record_id} of {patient} cannot be decrypted ({exc}); restore the "
                "peer's records folder from a backup, or erase the record",
            ) from exc
        self._admit_read(req.access_tx_id, caller, patient, req.record_id, purpose)
        log.info("record %s of %s read by %s under access tx %s",
                 req.record_id, patient, caller.id, req.access_tx_id)
        return recordstore_pb2.GetRecordResponse(
            patient=patient, record_id=req.record_id, content=record.content,
            content_hash=record.content_hash, salt=record.salt,
        )

    def _admit_read(self, tx_id: str, caller: Identity, patient: str, record_id: str,
                    purpose: str) -> None:
        """Consent must still permit the read now, and the access tx must not have been used."""
        still, reason = self._consent_now(caller, patient, record_id, purpose)
        if not still:
            raise _denied(
                f"access transaction {tx_id} no longer opens record {record_id} of {patient}: "
                f"{reason}; a revoked consent takes effect at once"
            )
        try:
            self.store.spend(tx_id, caller.id, patient, record_id)
        except AccessSpentError as exc:
            raise _denied(
                f"access transaction {tx_id} was already used; every read of record {record_id} "
                f"of {patient} needs its own access_record transaction, so that the audit trail "
                "counts each read"
            ) from exc

    @unary
    def Erase(
        self, request: common_pb2.Signed, context: grpc.ServicerContext
    ) -> recordstore_pb2.EraseRecordResponse:
        req, caller = self._open(request, recordstore_pb2.RECORD_ERASE)
        patient = req.patient or caller.id
        # The same rule as consent's erase_record: the patient, or an admin of the patient's org.
        if caller.id != patient and not (
            caller.role == ADMIN_ROLE and patient.startswith(caller.org + "/")
        ):
            raise _denied(
                f"{caller.id} may not erase record {req.record_id} of {patient}: only the patient "
                "or an admin of the patient's org may"
            )
        try:
            self.store.erase(patient, req.record_id)
        except RecordNotFoundError as exc:
            raise _not_found(patient, req.record_id) from exc
        log.info("record %s of %s erased by %s", req.record_id, patient, caller.id)
        return recordstore_pb2.EraseRecordResponse(patient=patient, record_id=req.record_id)

    def _open(
        self, request: common_pb2.Signed, operation: int
    ) -> tuple[recordstore_pb2.RecordRequest, Identity]:
        req, caller = open_signed(request, recordstore_pb2.RecordRequest, self._membership)
        if req.operation != operation:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request was signed for {_OPERATIONS.get(req.operation, 'no operation')} but sent "
                f"to {_OPERATIONS[operation]}; sign a request for the call you make",
            )
        if req.channel != self._channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"no channel {req.channel!r} on this peer; it serves {self._channel!r}",
            )
        if not _RECORD_ID.fullmatch(req.record_id):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"record id {req.record_id!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'",
            )
        if req.patient and not _IDENTITY_ID.fullmatch(req.patient):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"patient {req.patient!r} of record {req.record_id} is not an identity id org/name",
            )
        return req, caller

    def _check_access(
        self, caller: Identity, record_id: str, tx_id: str, patient: str
    ) -> tuple[str, str]:
        """The patient and purpose of the record access that `tx_id`, the caller's VALID committed
        consent access_record, granted; refuses when it is anything else or names another `patient`."""
        hint = (
            f"submit {ACCESS_CONTRACT} {ACCESS_FUNCTION} {patient or 'PATIENT'} {record_id} "
            f"PURPOSE as {caller.id}, wait for its commit and pass its tx id"
        )
        if not tx_id:
            raise _denied(f"{caller.id} named no access transaction for record {record_id}; {hint}")
        found = self._ledger.tx_status(tx_id)
        if found is None:
            raise _denied(f"access transaction {tx_id} is not committed on this peer; {hint}")
        code, block_num = found
        if code != common_pb2.VALID:
            raise _denied(
                f"access transaction {tx_id} is invalid ({common_pb2.ValidationCode.Name(code)} in "
                f"block {block_num}); {hint}"
            )
        located = protoutil.find_transaction(self._ledger.get_block(block_num), tx_id, code)
        if located is None:
            raise RequestError(
                grpc.StatusCode.DATA_LOSS,
                f"transaction {tx_id} is indexed in block {block_num} but not found there; "
                "run `careledger ledger verify`",
            )
        _, tx, proposal = located
        payload = common_pb2.ProposalResponsePayload.FromString(tx.response_payload)
        if (proposal.contract, proposal.function) != (ACCESS_CONTRACT, ACCESS_FUNCTION):
            raise _denied(
                f"transaction {tx_id} is {proposal.contract}.{proposal.function}, not "
                f"{ACCESS_CONTRACT}.{ACCESS_FUNCTION}; {hint}"
            )
        if proposal.header.creator != caller.cert_pem:
            raise _denied(f"access transaction {tx_id} was submitted by another identity; {hint}")
        # access_record(patient, record_id, purpose): the arguments say whose record was asked for.
        args = [arg.decode("utf-8", errors="replace") for arg in proposal.args[:3]]
        if len(args) != 3 or args[1] != record_id or (patient and args[0] != patient):
            raise _denied(
                f"access transaction {tx_id} is for another record than {record_id}"
                + (f" of {patient}" if patient else "") + f"; {hint}"
            )
        if not _granted(payload.response, record_id):
            raise _denied(
                f"access transaction {tx_id} refused access to record {record_id} of {args[0]}; "
                "ask the patient for a consent that covers you, then access the record again"
            )
        return args[0], args[2]


def _granted(response: common_pb2.Response, record_id: str) -> bool:
    """Whether consent's access_record answer granted `record_id`."""
    if response.status != 200:
        return False
    try:
        answer = json.loads(response.payload)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("granted") is True and answer.get("record_id") == record_id


def _denied(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.PERMISSION_DENIED, message)


def _not_found(patient: str, record_id: str) -> RequestError:
    return RequestError(
        grpc.StatusCode.NOT_FOUND,
        f"no record {record_id} of {patient} in this store: it was never stored here or it was "
        "erased; store it with `records put`",
    )
