"""The record service: Put, Get and Erase of off-ledger records over gRPC, each read under an audited access.

The ledger holds a record's pointer, hash and consents; the document lives in this peer's
EncryptedStore (recordstorage.py). A read is answered only for the caller's VALID committed
consent `access_record` transaction that granted this record, so every read has its audit event
on the ledger, and each such transaction opens one read. An edit is its own action: a document
already stored is replaced only under the caller's granted consent `correct_record` transaction,
whose new content hash the document must have. Consent and the caller's licence are asked again
at each use (check_access), and a document that no longer matches the ledger's content hash is
refused with an integrity error and reported in /healthz (`integrity_problems`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Protocol

import grpc

from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import protoutil
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.network.peer.recordstorage import (
    AccessSpentError,
    EncryptedStore,
    RecordDamagedError,
    RecordNotFoundError,
    salted_hash,
)
from careledger.protos import common_pb2, recordstore_pb2, recordstore_pb2_grpc

log = logging.getLogger(__name__)

RECORD_LIMIT = 4 * 1024 * 1024
# Room in one gRPC message for everything of a Put request but the document: cert, ids, signature.
REQUEST_OVERHEAD = 16 * 1024
ACCESS_CONTRACT = "consent"
ACCESS_FUNCTION = "access_record"
CORRECT_FUNCTION = "correct_record"
ADMIN_ROLE = "admin"

# The id rules of the consent contract; fullmatch, so that no trailing newline slips through.
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_IDENTITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9@._-]*")
_OPERATIONS = {
    recordstore_pb2.RECORD_PUT: "Put",
    recordstore_pb2.RECORD_GET: "Get",
    recordstore_pb2.RECORD_ERASE: "Erase",
}


def record_size_limit(max_message_bytes: int) -> int:
    """The largest document a peer can take: 4 MiB, less when its gRPC messages are smaller."""
    return max(0, min(RECORD_LIMIT, max_message_bytes - REQUEST_OVERHEAD))


class LedgerReader(Protocol):
    """What the service needs of a ledger to check an access transaction (Ledger has both)."""

    def tx_status(self, tx_id: str) -> tuple[common_pb2.ValidationCode, int] | None: ...

    def get_block(self, number: int) -> common_pb2.Block: ...


class ConsentCheck(Protocol):
    """Does consent permit `caller` to `action` (access, correct) the record for `purpose` now?
    (granted, reason, the ledger's content hash of the record now: "" unless granted)"""

    def __call__(self, caller: Identity, patient: str, record_id: str,
                 purpose: str, action: str = "access") -> tuple[bool, str, str]: ...


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
        self._mismatches: dict[tuple[str, str], str] = {}  # (patient, record) -> what was found
        self._mismatch_lock = threading.Lock()

    def integrity_problems(self) -> str:
        """The /healthz check: stored documents found not to match the ledger's content hash."""
        with self._mismatch_lock:
            return "; ".join(self._mismatches.values())

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
        salt = None
        if not req.access_tx_id and req.patient in ("", caller.id):
            patient = caller.id  # patients store their own new records; the ledger has no say yet
            if self.store.holds(patient, req.record_id):
                raise _denied(
                    f"record {req.record_id} of {patient} is already stored; an edit is its own action: "
                    f"submit consent {CORRECT_FUNCTION} {patient} {req.record_id} PURPOSE with transient "
                    "content_hash (the new document's hash with the record's salt), wait for its commit "
                    "and put the document under its tx id"
                )
        else:
            patient, purpose, new_hash = self._check_access(
                caller, req.record_id, req.access_tx_id, req.patient, CORRECT_FUNCTION
            )
            try:
                salt = self.store.get(patient, req.record_id).salt
            except (RecordNotFoundError, RecordDamagedError) as exc:
                raise _not_found(patient, req.record_id) from exc
            ledger_hash = self._still_allowed(req.access_tx_id, caller, patient, req.record_id, purpose,
                                              "correct")
            if salted_hash(salt, req.content) != new_hash or new_hash != ledger_hash:
                raise RequestError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"the document is not the one correction {req.access_tx_id} of record {req.record_id} "
                    f"of {patient} put on the ledger (content hash {new_hash}); nothing was stored: put "
                    "exactly the corrected document, salted with the salt the record's Get gave",
                )
            self._spend(req.access_tx_id, caller, patient, req.record_id)
        record = self.store.put(patient, req.record_id, req.content, salt=salt)
        if salt is not None:
            with self._mismatch_lock:
                self._mismatches.pop((patient, req.record_id), None)
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
        patient, purpose, _ = self._check_access(
            caller, req.record_id, req.access_tx_id, req.patient, ACCESS_FUNCTION
        )
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
        ledger_hash = self._still_allowed(req.access_tx_id, caller, patient, req.record_id, purpose, "access")
        if record.content_hash != ledger_hash:
            problem = (
                f"integrity error: record {req.record_id} of {patient} in this store has content hash "
                f"{record.content_hash}, the ledger {ledger_hash}: the document was changed outside a "
                "committed consent correct_record"
            )
            with self._mismatch_lock:
                self._mismatches[(patient, req.record_id)] = problem
            log.error("%s (read by %s refused)", problem, caller.id)
            raise RequestError(
                grpc.StatusCode.DATA_LOSS,
                f"{problem}; it is not served. Restore the document from a backup or have it corrected",
            )
        with self._mismatch_lock:
            self._mismatches.pop((patient, req.record_id), None)
        self._spend(req.access_tx_id, caller, patient, req.record_id)
        log.info("record %s of %s read by %s under access tx %s",
                 req.record_id, patient, caller.id, req.access_tx_id)
        return recordstore_pb2.GetRecordResponse(
            patient=patient, record_id=req.record_id, content=record.content,
            content_hash=record.content_hash, salt=record.salt,
        )

    def _still_allowed(self, tx_id: str, caller: Identity, patient: str, record_id: str,
                       purpose: str, action: str) -> str:
        """Consent (and the caller's licence) must still permit the act now; the ledger's hash."""
        still, reason, ledger_hash = self._consent_now(caller, patient, record_id, purpose, action)
        if not still:
            raise _denied(
                f"{'access' if action == 'access' else 'correction'} transaction {tx_id} no longer "
                f"opens record {record_id} of {patient}: {reason}; a revoked consent or a lost licence "
                "takes effect at once"
            )
        return ledger_hash

    def _spend(self, tx_id: str, caller: Identity, patient: str, record_id: str) -> None:
        """Each access or correction transaction opens one read or one write."""
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
        with self._mismatch_lock:
            self._mismatches.pop((patient, req.record_id), None)
        log.info("record %s of %s erased by %s", req.record_id, patient, caller.id)
        return recordstore_pb2.EraseRecordResponse(patient=patient, record_id=req.record_id)

    def _open(
        self, request: common_pb2.Signed, operation: recordstore_pb2.RecordOperation
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
        self, caller: Identity, record_id: str, tx_id: str, patient: str, function: str
    ) -> tuple[str, str, str]:
        """The patient, purpose and granted content hash of the record access (or correction) that
        `tx_id`, the caller's VALID committed consent `function`, granted; refuses when it is
        anything else or names another `patient`."""
        hint = (
            f"submit {ACCESS_CONTRACT} {function} {patient or 'PATIENT'} {record_id} "
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
        if (proposal.contract, proposal.function) != (ACCESS_CONTRACT, function):
            raise _denied(
                f"transaction {tx_id} is {proposal.contract}.{proposal.function}, not "
                f"{ACCESS_CONTRACT}.{function}; {hint}"
                + (" (a read-only access never opens a write)" if function == CORRECT_FUNCTION else "")
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
        granted = _granted(payload.response, record_id)
        if granted is None:
            kind = "access" if function == ACCESS_FUNCTION else "correction"
            raise _denied(
                f"{kind} transaction {tx_id} refused access to record {record_id} of {args[0]}; "
                "ask the patient for a consent that covers you, then access the record again"
            )
        return args[0], args[2], granted


def _granted(response: common_pb2.Response, record_id: str) -> str | None:
    """The content hash consent's access_record or correct_record answer granted for `record_id`,
    or None when it did not grant it."""
    if response.status != 200:
        return None
    try:
        answer = json.loads(response.payload)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("granted") is True and answer.get("record_id") == record_id:
        return str(answer.get("content_hash", ""))
    return None


def _denied(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.PERMISSION_DENIED, message)


def _not_found(patient: str, record_id: str) -> RequestError:
    return RequestError(
        grpc.StatusCode.NOT_FOUND,
        f"no record {record_id} of {patient} in this store: it was never stored here or it was "
        "erased; store it with `records put`",
    )
