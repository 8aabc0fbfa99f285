"""The off-ledger record store end to end: the patient stores a document on the hospital peer, a
practitioner reads it only under their own granted consent access_record transaction, and erasure
destroys the document while the ledger's audit trail stays."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from healthcare import (
    ALICE,
    BOB,
    SMITH,
    Committed,
    Ledger,
    Pointer,
    ledger_id,
    new_category,
    new_id,
    register_record,
)

from careledger.cli.main import cli
from careledger.gateway.records import RecordStore, RecordStoreError, connect_local_records
from careledger.network.local.testing import LocalNetwork
from careledger.network.peer.recordstorage import EncryptedStore

pytest_plugins = ("healthcare",)

PATIENT = ledger_id(ALICE)
SALT = b"0123456789abcdef-salt"

Records = Callable[[str], RecordStore]


@dataclass(frozen=True)
class Stored:
    """A document Alice put in the store and registered on the ledger."""

    content: bytes
    pointer: Pointer

    @property
    def record_id(self) -> str:
        return self.pointer.record_id


@pytest.fixture(scope="module")
def records(net: LocalNetwork) -> Iterator[Records]:
    """The hospital peer's record store as any identity (one connection each)."""
    opened: dict[str, RecordStore] = {}

    def connect(who: str) -> RecordStore:
        if who not in opened:
            opened[who] = connect_local_records(net.directory, who)
        return opened[who]

    yield connect
    for store in opened.values():
        store.close()


@pytest.fixture
def stored(care: Ledger, records: Records, registered_patients: dict, smith_licensed: dict) -> Stored:
    content = f"Lab report {uuid.uuid4().hex}: haemoglobin 13.9 g/dL".encode()
    record_id = f"rec-{uuid.uuid4().hex[:12]}"
    put = records(ALICE).put(record_id, content)
    assert (put.patient, put.record_id, put.size) == (PATIENT, record_id, len(content))
    assert put.content_hash != hashlib.sha256(content).hexdigest()  # salted, so unlinkable
    pointer = register_record(
        care,
        ALICE,
        new_category(),
        record_id=record_id,
        location=f"careledger-records://hospital/{record_id}",
        content_hash=put.content_hash,
    )
    return Stored(content, pointer)


def granted_access(care: Ledger, who: str, stored: Stored) -> Committed:
    """A consent for `who` on the record's category, then `who`'s granted access_record."""
    care.submit(
        ALICE,
        "consent",
        "grant_consent",
        f"consent-{uuid.uuid4().hex[:12]}",
        ledger_id(who),
        "access",
        "TREAT",
        stored.pointer.category,
    )
    committed = care.commit(who, "consent", "access_record", PATIENT, stored.record_id, "TREAT")
    assert (committed.code, committed.result["granted"]) == ("VALID", True), committed
    return committed


def refused_read(store: RecordStore, record_id: str, tx_id: str, code: grpc.StatusCode) -> str:
    """A Get the store must refuse with `code`; its message."""
    with pytest.raises(RecordStoreError) as err:
        store.get(record_id, tx_id, patient=PATIENT)
    assert err.value.code == code, err.value
    assert str(err.value).startswith(err.value.message)
    return err.value.message


def hint(who: str, record_id: str) -> str:
    return (
        f"submit consent access_record {PATIENT} {record_id} PURPOSE as {ledger_id(who)}, "
        "wait for its commit and pass its tx id"
    )


def peer_files(net: LocalNetwork) -> list[Path]:
    """Every file under the hospital peer's data directory (ledger, state, records)."""
    folder = net.layout.node_data(net.profile.peers_of("hospital")[0])
    return [path for path in folder.rglob("*") if path.is_file()]


def recoverable(net: LocalNetwork, record_id: str) -> list[bytes]:
    """What anyone with the peer's disk could decrypt of the record: every key file (a 32-byte
    AES key, then the record's salt) tried on its ciphertext (blob: format byte, 12-byte nonce,
    AES-GCM; bound to patient, record and version)."""
    found = []
    for key_file in (path for path in peer_files(net) if path.suffix == ".key"):
        blob_file = key_file.parent.parent / "blobs" / f"{key_file.stem}.bin"
        if not blob_file.exists():
            continue
        blob = blob_file.read_bytes()
        aad = f"careledger-record\x00{PATIENT}\x00{record_id}\x00{key_file.stem}".encode()
        try:
            found.append(AESGCM(key_file.read_bytes()[:32]).decrypt(blob[1:13], blob[13:], aad))
        except (InvalidTag, ValueError):
            continue
    return found


def test_patient_stores_a_record_and_reads_it_under_their_own_access(
    care: Ledger, records: Records, stored: Stored
) -> None:
    own = care.commit(ALICE, "consent", "access_record", PATIENT, stored.record_id, "TREAT")
    record = records(ALICE).get(stored.record_id, own.tx_id)
    assert (record.patient, record.record_id, record.content) == (PATIENT, stored.record_id, stored.content)
    assert own.result["content_hash"] == record.content_hash  # the salted hash on the ledger


def test_neither_the_document_nor_its_plain_hash_reaches_the_ledger(
    care: Ledger, stored: Stored
) -> None:
    block = care.block_bytes(stored.pointer.registered.block)
    assert stored.content not in block
    assert hashlib.sha256(stored.content).hexdigest().encode() not in block


def test_an_access_transaction_opens_one_read(care: Ledger, records: Records, stored: Stored) -> None:
    access = granted_access(care, SMITH, stored)
    assert records(SMITH).get(stored.record_id, access.tx_id).content == stored.content
    message = refused_read(records(SMITH), stored.record_id, access.tx_id,
                           grpc.StatusCode.PERMISSION_DENIED)
    assert message.startswith(f"access transaction {access.tx_id} was already used")


def test_practitioner_get_is_refused_without_an_access_transaction(records: Records, stored: Stored) -> None:
    message = refused_read(records(SMITH), stored.record_id, "", grpc.StatusCode.PERMISSION_DENIED)
    assert message == (
        f"hospital/drsmith named no access transaction for record {stored.record_id}; "
        + hint(SMITH, stored.record_id)
    )
    with pytest.raises(RecordStoreError) as err:
        records(SMITH).put(stored.record_id, b"overwritten", patient=PATIENT)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert err.value.message.startswith(
        f"hospital/drsmith named no access transaction for record {stored.record_id}"
    )


def test_practitioner_reads_the_record_under_a_granted_access_record_tx(
    care: Ledger, records: Records, stored: Stored
) -> None:
    access = granted_access(care, SMITH, stored)
    record = records(SMITH).get(stored.record_id, access.tx_id)
    assert (record.patient, record.content) == (PATIENT, stored.content)
    assert record.content_hash == access.result["content_hash"]  # what the ledger holds for it


def test_get_is_refused_under_someone_elses_a_refused_or_an_unrelated_tx(
    care: Ledger, records: Records, stored: Stored
) -> None:
    smith = records(SMITH)
    theirs = care.commit(ALICE, "consent", "access_record", PATIENT, stored.record_id, "TREAT").tx_id
    assert refused_read(smith, stored.record_id, theirs, grpc.StatusCode.PERMISSION_DENIED) == (
        f"access transaction {theirs} was submitted by another identity; " + hint(SMITH, stored.record_id)
    )
    refused = care.commit(SMITH, "consent", "access_record", PATIENT, stored.record_id, "HRESCH")
    assert (refused.code, refused.result["granted"]) == ("VALID", False)
    assert refused_read(smith, stored.record_id, refused.tx_id, grpc.StatusCode.PERMISSION_DENIED) == (
        f"access transaction {refused.tx_id} refused access to record {stored.record_id} of {PATIENT}; "
        "ask the patient for a consent that covers you, then access the record again"
    )
    other = register_record(care, ALICE, stored.pointer.category)
    elsewhere = care.commit(SMITH, "consent", "access_record", PATIENT, other.record_id, "TREAT")
    assert refused_read(smith, stored.record_id, elsewhere.tx_id, grpc.StatusCode.PERMISSION_DENIED) == (
        f"access transaction {elsewhere.tx_id} is for another record than {stored.record_id} of {PATIENT}; "
        + hint(SMITH, stored.record_id)
    )
    registration = stored.pointer.registered.tx_id
    assert refused_read(
        records(ALICE), stored.record_id, registration, grpc.StatusCode.PERMISSION_DENIED
    ) == (
        f"transaction {registration} is consent.register_record, not consent.access_record; "
        + hint(ALICE, stored.record_id)
    )
    unknown = hashlib.sha256(b"never submitted").hexdigest()
    assert refused_read(smith, stored.record_id, unknown, grpc.StatusCode.PERMISSION_DENIED) == (
        f"access transaction {unknown} is not committed on this peer; " + hint(SMITH, stored.record_id)
    )


def test_a_revoked_consent_stops_reads_under_an_earlier_access_tx(
    care: Ledger, records: Records, stored: Stored
) -> None:
    access = granted_access(care, SMITH, stored)
    (consent,) = [
        c
        for c in care.items(ALICE, "consent", "patient_consents")
        if c["categories"] == [stored.pointer.category]
    ]
    care.submit(ALICE, "consent", "revoke_consent", consent["id"])
    assert (
        care.commit(SMITH, "consent", "access_record", PATIENT, stored.record_id, "TREAT").result["granted"]
        is False
    )
    refused_read(records(SMITH), stored.record_id, access.tx_id, grpc.StatusCode.PERMISSION_DENIED)


def test_erase_destroys_the_document_and_its_key_while_the_audit_trail_stays(
    net: LocalNetwork, care: Ledger, records: Records, stored: Stored
) -> None:
    access = granted_access(care, SMITH, stored)
    assert records(SMITH).get(stored.record_id, access.tx_id).content == stored.content
    assert recoverable(net, stored.record_id) == [stored.content]  # the disk holds it, encrypted
    assert not [path for path in peer_files(net) if stored.content in path.read_bytes()]
    for who in [SMITH, BOB]:
        with pytest.raises(RecordStoreError) as err:
            records(who).erase(stored.record_id, patient=PATIENT)
        assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert err.value.message == (
            f"{ledger_id(who)} may not erase record {stored.record_id} of {PATIENT}: only the patient or an "
            "admin of the patient's org may"
        )

    records(ALICE).erase(stored.record_id)
    care.submit(ALICE, "consent", "erase_record", PATIENT, stored.record_id, transient={"salt": SALT})

    assert refused_read(records(SMITH), stored.record_id, access.tx_id, grpc.StatusCode.NOT_FOUND) == (
        f"no record {stored.record_id} of {PATIENT} in this store: it was never stored here or it was "
        "erased; store it with `records put`"
    )
    assert recoverable(net, stored.record_id) == []
    assert not [path for path in peer_files(net) if stored.content in path.read_bytes()]
    with pytest.raises(RecordStoreError) as err:
        records(ALICE).erase(stored.record_id)
    assert err.value.code == grpc.StatusCode.NOT_FOUND

    event = care.audit_events(ALICE)[access.tx_id]
    assert (event["outcome"], event["entity"][0]["what"]["identifier"]["value"]) == ("0", stored.record_id)
    disclosed = care.items(ALICE, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert [d["recipient"] for d in disclosed if d["record"] == stored.record_id] == ["hospital/drsmith"]
    (tombstone,) = [
        r for r in care.items(ALICE, "consent", "patient_records") if r["id"] == stored.record_id
    ]
    assert (tombstone["status"], tombstone["location"]) == ("entered-in-error", None)
    assert tombstone["content_hash"] != hashlib.sha256(stored.content).hexdigest()


# --- issue 10: edits are their own action; the store must match the ledger --------------------


def ledger_hash(care: Ledger, record_id: str) -> str:
    (pointer,) = [r for r in care.items(ALICE, "consent", "patient_records") if r["id"] == record_id]
    return pointer["content_hash"]


def healthz(net: LocalNetwork) -> tuple[int, dict]:
    peer = net.profile.peers_of("hospital")[0]
    try:
        with urllib.request.urlopen(f"http://{peer.host}:{peer.ops_port}/healthz", timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_read_only_grant_cannot_overwrite_the_record(
    care: Ledger, records: Records, stored: Stored
) -> None:
    access = granted_access(care, SMITH, stored)
    with pytest.raises(RecordStoreError) as err:
        records(SMITH).put(stored.record_id, b"overwritten", patient=PATIENT, access_tx_id=access.tx_id)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert err.value.message.startswith(
        f"transaction {access.tx_id} is consent.access_record, not consent.correct_record"
    )
    assert "a read-only access never opens a write" in err.value.message
    with pytest.raises(RecordStoreError) as err:
        records(ALICE).put(stored.record_id, b"overwritten")  # the patient's own, already stored
    assert err.value.message.startswith(
        f"record {stored.record_id} of {PATIENT} is already stored; an edit is its own"
    )
    assert ledger_hash(care, stored.record_id) == stored.pointer.content_hash  # the ledger did not change
    own = care.commit(ALICE, "consent", "access_record", PATIENT, stored.record_id, "TREAT")
    assert records(ALICE).get(stored.record_id, own.tx_id).content == stored.content  # nor the store


def test_an_edit_needs_a_correct_grant_and_moves_the_ledger_hash_with_an_audited_update(
    care: Ledger, records: Records, stored: Stored
) -> None:
    read = granted_access(care, SMITH, stored)
    salt = records(SMITH).get(stored.record_id, read.tx_id, patient=PATIENT).salt
    corrected = stored.content + b" (corrected: haemoglobin 12.9 g/dL)"
    new_hash = hashlib.sha256(salt + corrected).hexdigest()
    edit = {"content_hash": new_hash.encode()}
    refused = care.commit(
        SMITH, "consent", "correct_record", PATIENT, stored.record_id, "TREAT", transient=edit
    )
    assert refused.code == "VALID"
    assert refused.result == {
        "granted": False,
        "reason": f"no consent permits hospital/drsmith {stored.pointer.category} correct for TREAT",
        "audit_event": refused.tx_id,
    }
    assert ledger_hash(care, stored.record_id) == stored.pointer.content_hash  # the ledger did not change
    with pytest.raises(RecordStoreError) as err:
        records(SMITH).put(stored.record_id, corrected, patient=PATIENT, access_tx_id=refused.tx_id)
    assert err.value.message.startswith(f"correction transaction {refused.tx_id} refused access")

    care.submit(ALICE, "consent", "grant_consent", new_id("consent"), ledger_id(SMITH), "correct", "TREAT",
                stored.pointer.category)
    done = care.commit(SMITH, "consent", "correct_record", PATIENT, stored.record_id, "TREAT", transient=edit)
    assert (done.code, done.result["granted"], done.result["content_hash"]) == ("VALID", True, new_hash)
    with pytest.raises(RecordStoreError) as err:
        records(SMITH).put(stored.record_id, b"something else", patient=PATIENT, access_tx_id=done.tx_id)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "nothing was stored" in err.value.message
    records(SMITH).put(stored.record_id, corrected, patient=PATIENT, access_tx_id=done.tx_id)
    assert ledger_hash(care, stored.record_id) == new_hash
    own = care.commit(ALICE, "consent", "access_record", PATIENT, stored.record_id, "TREAT")
    assert records(ALICE).get(stored.record_id, own.tx_id).content == corrected
    disclosed = care.items(ALICE, "consent", "disclosures", "2000-01-01", "2100-01-01")
    assert [(d["recipient"], d["action"]) for d in disclosed if d["record"] == stored.record_id] == [
        ("hospital/drsmith", "read"),
        ("hospital/drsmith", "edit"),
    ]
    actions = {tx_id: (e["action"], e["outcome"]) for tx_id, e in care.audit_events(ALICE).items()}
    assert (actions[refused.tx_id], actions[done.tx_id]) == (("U", "4"), ("U", "0"))


def test_a_document_that_no_longer_matches_the_ledger_is_refused_and_shown_in_healthz(
    net: LocalNetwork, care: Ledger, records: Records, stored: Stored
) -> None:
    folder = net.layout.node_data(net.profile.peers_of("hospital")[0]) / "records"
    tampered = EncryptedStore(folder)  # someone with the peer's disk, bypassing the service
    try:
        tampered.put(PATIENT, stored.record_id, b"not what the ledger says")
    finally:
        tampered.close()
    own = care.commit(ALICE, "consent", "access_record", PATIENT, stored.record_id, "TREAT")
    with pytest.raises(RecordStoreError) as err:
        records(ALICE).get(stored.record_id, own.tx_id)
    assert err.value.code == grpc.StatusCode.DATA_LOSS
    assert err.value.message.startswith(
        f"integrity error: record {stored.record_id} of {PATIENT} in this store"
    )
    status, body = healthz(net)
    assert status == 503 and f"record {stored.record_id} of {PATIENT}" in body["failed_checks"]["records"]
    records(ALICE).erase(stored.record_id)  # the damaged document goes; the peer is healthy again
    assert healthz(net)[0] == 200


def test_after_erasure_nothing_identifies_the_patient_anywhere_under_the_network_directory(
    net: LocalNetwork, care: Ledger, records: Records, smith_licensed: dict
) -> None:
    issued = CliRunner().invoke(cli, ["crypto", "issue", "hospital", "--attr", "role=patient", "--json",
                                      "--dir", str(net.directory)])
    assert issued.exit_code == 0, issued.output
    pseudonym = json.loads(issued.output)["name"]
    assert pseudonym.startswith("pt-")  # the ledger id of a patient is a pseudonym, never a name
    who, patient = f"hospital:{pseudonym}", f"hospital/{pseudonym}"
    care.submit(who, "consent", "register_patient")
    identifying = [b"Jane Quinn Doe", b"1984-02-29", b"MRN 5551234", b"12 Quay Street"]
    document = b"Discharge letter. Patient: Jane Quinn Doe, born 1984-02-29, MRN 5551234, 12 Quay Street"
    record_id = new_id("rec")
    with connect_local_records(net.directory, who) as store:
        put = store.put(record_id, document)
        category = new_category()
        transient = {"location": f"careledger-records://hospital/{record_id}".encode(),
                     "content_hash": put.content_hash.encode()}
        care.submit(who, "consent", "register_record", record_id, category, "R", transient=transient)
        care.submit(who, "consent", "grant_consent", new_id("consent"), ledger_id(SMITH), "access", "TREAT",
                    category)
        read = care.commit(SMITH, "consent", "access_record", patient, record_id, "TREAT")
        assert records(SMITH).get(record_id, read.tx_id, patient=patient).content == document
        store.erase(record_id)
    care.submit(who, "consent", "erase_record", patient, record_id, transient={"salt": SALT})

    files = [path for path in net.directory.rglob("*") if path.is_file()]
    assert files
    found = {
        (str(path.relative_to(net.directory)), text.decode())
        for path in files
        for text in identifying
        if text in path.read_bytes()
    }
    assert found == set(), "identifying text of the patient survived erasure"
