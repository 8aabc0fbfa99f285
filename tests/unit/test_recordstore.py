"""RecordStore: documents encrypted at rest, read only under the caller's granted access_record,
erased beyond recovery.

The ledger is a tiny fake over real signed blocks (txfactory), and every access transaction carries
the answer the real consent contract gave (contractharness), so the checks meet the real JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from contractharness import Ledger as ContractLedger
from contractharness import client
from txfactory import TestNetwork, endorse, make_block, make_proposal, rwset, sign_transaction

from careledger.chaincode.codec import canonical_json
from careledger.chaincode.contracts.consent import ConsentContract
from careledger.chaincode.contracts.credentials import CredentialsContract
from careledger.gateway.identity import Identity, new_private_key_signer
from careledger.gateway.records import RecordStore, RecordStoreError
from careledger.network.identity import membership
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.signing import Signer
from careledger.network.ledger.protoutil import find_transaction
from careledger.network.peer.endorser import client_identity
from careledger.network.peer.recordservice import ConsentCheck, RecordStoreService, record_size_limit
from careledger.network.peer.recordstorage import salted_hash
from careledger.network.peer.statedb import UNVERIFIED_TX_ID_CODES
from careledger.protos import common_pb2, recordstore_pb2, recordstore_pb2_grpc

VC = common_pb2.ValidationCode
CHANNEL = "healthcare"
ALICE, OTHER = "hospital/alice", "hospital/olga"  # patients
ROLES = {"alice": "patient", "olga": "patient", "bob": "practitioner", "cara": "practitioner"}
DOC = b"Lab report for the patient: HbA1c 6.1 %, fasting glucose 5.4 mmol/L"
Status = grpc.StatusCode


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    net = TestNetwork.create(tmp_path_factory.mktemp("crypto"), ["hospital", "insurer"])
    specs = [IdentitySpec(name, "client", {"role": role}) for name, role in ROLES.items()]
    generate_org(net.crypto_dir, "hospital", specs)
    return net


class FakeLedger:
    """Committed blocks with their validation codes, indexed by tx id like the state database."""

    def __init__(self, orderer: Signer) -> None:
        self._orderer = orderer
        self._blocks: list[common_pb2.Block] = []
        self._index: dict[str, tuple[int, int]] = {}

    def commit(self, txs: list[tuple[common_pb2.Envelope, int]]) -> None:
        previous = self._blocks[-1].header if self._blocks else None
        envelopes = [e.SerializeToString() for e, _ in txs]
        block = make_block(len(self._blocks), previous, envelopes, self._orderer)
        block.metadata.validation_codes.extend(code for _, code in txs)
        for envelope, code in txs:
            tx = common_pb2.Transaction.FromString(envelope.payload)
            tx_id = common_pb2.Proposal.FromString(tx.proposal).header.tx_id
            known = self._index.get(tx_id)
            if known is None or (known[0] in UNVERIFIED_TX_ID_CODES and code not in UNVERIFIED_TX_ID_CODES):
                self._index[tx_id] = (code, block.header.number)
        self._blocks.append(block)

    def tx_status(self, tx_id: str) -> tuple[int, int] | None:
        return self._index.get(tx_id)

    def get_block(self, number: int) -> common_pb2.Block:
        return self._blocks[number]


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class FakeContext:
    """Enough of grpc.ServicerContext for `@unary`: abort raises, as it does in grpc."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)

    def set_trailing_metadata(self, metadata: object) -> None:
        pass


def contract_envelope(
    creator: Signer, endorser: Signer, function: str, args: list[str], answer: Any
) -> common_pb2.Envelope:
    """A signed, endorsed consent transaction whose response payload is `answer`."""
    proposal = make_proposal(creator, "consent", function, [a.encode() for a in args])
    tx = endorse(proposal, [endorser], rwset("consent", writes={f"audit-{proposal.header.tx_id}": b"{}"}))
    payload = common_pb2.ProposalResponsePayload.FromString(tx.response_payload)
    payload.response.payload = canonical_json(answer)
    tx.response_payload = payload.SerializeToString(deterministic=True)
    tx.endorsements[0].signature = endorser.sign(tx.response_payload)
    return sign_transaction(creator, tx)


def tx_id_of(envelope: common_pb2.Envelope) -> str:
    tx = common_pb2.Transaction.FromString(envelope.payload)
    return common_pb2.Proposal.FromString(tx.proposal).header.tx_id


@dataclass
class World:
    """The hospital's store over a fake ledger, and the consent contract deciding access."""

    net: TestNetwork
    ledger: FakeLedger
    consent: ContractLedger
    service: RecordStoreService
    directory: Path

    def who(self, name: str, org: str = "hospital") -> Signer:
        return self.net.signer(org, name)

    def access(self, who: Signer, record_id: str = "r-lab", patient: str = ALICE,
               code: int = VC.VALID) -> str:
        """Run the real access_record for `who`, commit its answer in a real block; the tx id."""
        caller = client(who.org, who.name, ROLES[who.name])
        answer = self.consent.submit(caller, "consent", "access_record", patient, record_id, "TREAT")
        envelope = self.access_envelope(who, patient, record_id, answer)
        self.ledger.commit([(envelope, code)])
        return tx_id_of(envelope)

    def access_envelope(self, who: Signer, patient: str, record_id: str, answer: Any) -> common_pb2.Envelope:
        return contract_envelope(
            who, self.net.peer("hospital"), "access_record", [patient, record_id, "TREAT"], answer
        )

    def call(self, method: str, who: Signer, record_id: str = "r-lab", **fields: Any) -> Any:
        operation = {"Put": recordstore_pb2.RECORD_PUT, "Get": recordstore_pb2.RECORD_GET,
                     "Erase": recordstore_pb2.RECORD_ERASE}[method]
        request = recordstore_pb2.RecordRequest(
            operation=operation, channel=CHANNEL, creator=who.cert_pem, record_id=record_id, **fields
        )
        payload = request.SerializeToString()
        answer = self.send(method, common_pb2.Signed(payload=payload, signature=who.sign(payload)))
        if method == "Put" and not fields.get("access_tx_id"):
            self.register(who, record_id, answer.content_hash)  # as the patient does next
        return answer

    def register(self, who: Signer, record_id: str, content_hash: str) -> None:
        """The patient registers a record they stored on the ledger with the store's hash."""
        patient = client(who.org, who.name, ROLES[who.name])
        category = "mental-health" if record_id == "r-mh" else "lab"
        pointer = {"location": f"records:{record_id}".encode(), "content_hash": content_hash.encode()}
        self.consent.submit(patient, "consent", "register_record", record_id, category, "N",
                            transient=pointer)

    def correct(self, who: Signer, content: bytes, record_id: str = "r-lab", patient: str = ALICE,
                code: int = VC.VALID) -> str:
        """Run the real correct_record for `who` with the hash of `content` salted as the store
        salts the record (its Get gives the salt), commit its answer; the tx id."""
        caller = client(who.org, who.name, ROLES[who.name])
        new_hash = salted_hash(self.service.store.get(patient, record_id).salt, content)
        answer = self.consent.submit(caller, "consent", "correct_record", patient, record_id, "TREAT",
                                     transient={"content_hash": new_hash.encode()})
        envelope = contract_envelope(who, self.net.peer("hospital"), "correct_record",
                                     [patient, record_id, "TREAT"], answer)
        self.ledger.commit([(envelope, code)])
        return tx_id_of(envelope)

    def send(self, method: str, signed: common_pb2.Signed) -> Any:
        return getattr(self.service, method)(signed, FakeContext())

    def refused(self, method: str, who: Signer, record_id: str = "r-lab", **fields: Any) -> Aborted:
        with pytest.raises(Aborted) as caught:
            self.call(method, who, record_id, **fields)
        return caught.value

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file())


def consent_now(consent: ContractLedger) -> ConsentCheck:
    """The peer asks the consent contract before each read; here the harness runs the real one."""

    def check(caller: membership.Identity, patient: str, record_id: str, purpose: str,
              action: str = "access") -> tuple[bool, str, str]:
        answer = consent.evaluate(client_identity(caller), "consent", "check_access", patient,
                                  record_id, purpose, action)
        return answer["granted"], answer["reason"], answer.get("content_hash", "")

    return check


@pytest.fixture
def world(net: TestNetwork, tmp_path: Path) -> Iterator[World]:
    consent = ContractLedger(ConsentContract(), CredentialsContract())
    patient = client("hospital", "alice", "patient")
    for name in ("alice", "olga"):  # records are registered as the patients put them (World.call)
        consent.submit(client("hospital", name, "patient"), "consent", "register_patient")
    consent.submit(patient, "consent", "grant_consent", "c1", "hospital/bob", "access", "TREAT", "lab")
    consent.submit(client("board", "rita", "registrar"), "credentials", "issue", "hospital/bob", "MD-1",
                   "MD", "US-CA", "", "2026-01-01", "2027-01-01")  # a consent lets in licensed practitioners
    directory = tmp_path / "records"
    ledger = FakeLedger(net.orderer)
    world = World(net, ledger, consent,
                  RecordStoreService(CHANNEL, net.membership(), ledger, directory, consent_now(consent)),
                  directory)
    yield world
    world.service.close()


# --- encryption at rest ----------------------------------------------------------------------


def test_ciphertext_on_disk_does_not_contain_the_plaintext(world: World) -> None:
    stored = world.call("Put", world.who("alice"), content=DOC)
    assert stored.size == len(DOC) and len(stored.content_hash) == 64
    assert stored.content_hash != hashlib.sha256(DOC).hexdigest()  # salted: not linkable to DOC
    assert stored.patient == ALICE
    everything = b"".join(p.read_bytes() for p in world.files())
    assert b"HbA1c" not in everything and DOC not in everything


def test_each_record_and_each_version_gets_its_own_key(world: World) -> None:
    alice = world.who("alice")
    world.call("Put", alice, "r-lab", content=DOC)
    world.call("Put", alice, "r-mh", content=DOC)
    first = {p.read_bytes() for p in (world.directory / "keys").iterdir()}
    assert len(first) == 2 and all(len(k) == 32 + 16 for k in first)  # key and salt
    edit = world.correct(alice, DOC + b" (amended)")  # an edit is its own audited transaction
    world.call("Put", alice, "r-lab", content=DOC + b" (amended)", access_tx_id=edit, patient=ALICE)
    keys = {p.read_bytes() for p in (world.directory / "keys").iterdir()}
    assert len(keys) == 2 and len(keys - first) == 1  # the replaced version's key was destroyed
    assert len(list((world.directory / "blobs").iterdir())) == 2


# --- reads need the caller's granted, committed access_record ---------------------------------


def test_get_with_a_granted_access_returns_the_document(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    bob = world.who("bob")
    record = world.call("Get", bob, access_tx_id=world.access(bob))
    assert (record.content, record.patient) == (DOC, ALICE)
    assert record.content_hash == salted_hash(record.salt, DOC) != hashlib.sha256(DOC).hexdigest()


def test_the_patient_reads_their_own_record_through_access_record_too(world: World) -> None:
    alice = world.who("alice")
    world.call("Put", alice, content=DOC)
    assert world.refused("Get", alice).code == Status.PERMISSION_DENIED
    assert world.call("Get", alice, access_tx_id=world.access(alice)).content == DOC


def test_get_without_an_access_tx_is_denied(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    refused = world.refused("Get", world.who("bob"), patient=ALICE)
    assert refused.code == Status.PERMISSION_DENIED
    assert "consent access_record hospital/alice r-lab" in refused.details


def test_get_with_someone_elses_access_tx_is_denied(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    bobs = world.access(world.who("bob"))
    refused = world.refused("Get", world.who("cara"), access_tx_id=bobs)
    assert refused.code == Status.PERMISSION_DENIED and "another identity" in refused.details


@pytest.mark.parametrize("code", [VC.MVCC_READ_CONFLICT, VC.ENDORSEMENT_POLICY_FAILURE])
def test_get_with_an_invalid_access_tx_is_denied(world: World, code: int) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    bob = world.who("bob")
    refused = world.refused("Get", bob, access_tx_id=world.access(bob, code=code))
    assert refused.code == Status.PERMISSION_DENIED and VC.Name(code) in refused.details


def test_get_with_an_uncommitted_tx_is_denied(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    refused = world.refused("Get", world.who("bob"), access_tx_id="ab" * 32)
    assert refused.code == Status.PERMISSION_DENIED and "not committed" in refused.details


def test_get_with_a_refused_access_is_denied(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    cara = world.who("cara")  # no consent covers her: access_record audits a refusal
    refused = world.refused("Get", cara, access_tx_id=world.access(cara))
    assert refused.code == Status.PERMISSION_DENIED and "refused access" in refused.details


def test_get_with_a_transaction_of_another_function_is_denied(world: World) -> None:
    alice = world.who("alice")
    world.call("Put", alice, content=DOC)
    envelope = contract_envelope(alice, world.net.peer("hospital"), "patient_records", [],
                                 {"granted": True, "record_id": "r-lab"})
    world.ledger.commit([(envelope, VC.VALID)])
    refused = world.refused("Get", alice, access_tx_id=tx_id_of(envelope))
    assert refused.code == Status.PERMISSION_DENIED and "consent.patient_records" in refused.details


def test_access_to_one_record_does_not_open_another(world: World) -> None:
    alice, bob = world.who("alice"), world.who("bob")
    world.call("Put", alice, "r-lab", content=DOC)
    world.call("Put", alice, "r-mh", content=b"therapy notes")
    world.call("Put", world.who("olga"), "r-lab", content=b"olga's labs")  # same id, other patient
    access = world.access(bob, "r-lab")
    assert world.refused("Get", bob, "r-mh", access_tx_id=access).code == Status.PERMISSION_DENIED
    assert world.refused("Get", bob, access_tx_id=access, patient=OTHER).code == Status.PERMISSION_DENIED
    assert world.call("Get", bob, access_tx_id=access).content == DOC


def test_a_forged_copy_of_the_tx_id_earlier_in_the_block_is_not_believed(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    cara = world.who("cara")
    caras = world.access_envelope(cara, ALICE, "r-lab", {"granted": False, "reason": "no consent"})
    forged = common_pb2.Envelope()
    forged.CopyFrom(caras)
    tx = common_pb2.Transaction.FromString(forged.payload)
    payload = common_pb2.ProposalResponsePayload.FromString(tx.response_payload)
    payload.response.payload = canonical_json({"granted": True, "record_id": "r-lab"})
    tx.response_payload = payload.SerializeToString()
    forged.payload, forged.signature = tx.SerializeToString(), b"not a signature"
    world.ledger.commit([(forged, VC.BAD_CREATOR_SIGNATURE), (caras, VC.VALID)])
    refused = world.refused("Get", cara, access_tx_id=tx_id_of(caras))
    assert refused.code == Status.PERMISSION_DENIED and "refused access" in refused.details
    _, genuine, _ = find_transaction(world.ledger.get_block(0), tx_id_of(caras), VC.VALID)  # type: ignore[misc]
    answer = common_pb2.ProposalResponsePayload.FromString(genuine.response_payload)
    assert answer.response.payload.startswith(b'{"granted":false')


# --- writes ----------------------------------------------------------------------------------


def test_an_edit_needs_a_granted_committed_correct_record_with_the_document_s_hash(world: World) -> None:
    alice, bob, cara = world.who("alice"), world.who("bob"), world.who("cara")
    world.call("Put", alice, content=DOC)
    assert world.refused("Put", bob, content=b"amended", patient=ALICE).code == Status.PERMISSION_DENIED
    read_only = world.refused("Put", bob, content=b"amended", access_tx_id=world.access(bob))
    assert read_only.code == Status.PERMISSION_DENIED
    assert "not consent.correct_record" in read_only.details and "never opens a write" in read_only.details
    unconsented = world.refused("Put", bob, content=b"amended", access_tx_id=world.correct(bob, b"amended"))
    assert unconsented.code == Status.PERMISSION_DENIED and "refused access" in unconsented.details
    again = world.refused("Put", alice, content=b"amended")  # the patient too: not a silent overwrite
    assert again.code == Status.PERMISSION_DENIED and "an edit is its own action" in again.details
    world.consent.submit(client("hospital", "alice", "patient"), "consent", "grant_consent", "c2",
                         "hospital/bob", "correct", "TREAT", "lab")
    edit = world.correct(bob, b"amended")
    other = world.refused("Put", bob, content=b"something else", access_tx_id=edit)
    assert other.code == Status.FAILED_PRECONDITION and "nothing was stored" in other.details
    assert world.refused("Put", cara, content=b"amended", access_tx_id=edit).code == Status.PERMISSION_DENIED
    stored = world.call("Put", bob, content=b"amended", access_tx_id=edit)
    assert stored.patient == ALICE  # the patient named by the correction transaction
    assert world.call("Get", alice, access_tx_id=world.access(alice)).content == b"amended"
    assert world.refused("Put", bob, content=b"amended", access_tx_id=edit).code == Status.PERMISSION_DENIED


def test_a_document_changed_outside_a_correction_is_refused_and_reported(world: World) -> None:
    alice = world.who("alice")
    world.call("Put", alice, content=DOC)
    world.service.store.put(ALICE, "r-lab", b"tampered on disk")  # bypassing the service
    assert world.service.integrity_problems() == ""
    refused = world.refused("Get", alice, access_tx_id=world.access(alice))
    assert refused.code == Status.DATA_LOSS
    assert refused.details.startswith("integrity error: record r-lab of hospital/alice in this store")
    assert "record r-lab of hospital/alice" in world.service.integrity_problems()


def test_a_record_is_too_large_above_the_limit(net: TestNetwork, tmp_path: Path) -> None:
    ledger = FakeLedger(net.orderer)
    consent = ContractLedger(ConsentContract())
    consent.submit(client("hospital", "alice", "patient"), "consent", "register_patient")
    service = RecordStoreService(CHANNEL, net.membership(), ledger, tmp_path, consent_now(consent),
                                 max_record_bytes=1024)
    world = World(net, ledger, consent, service, tmp_path)
    refused = world.refused("Put", world.who("alice"), content=bytes(1025))
    assert refused.code == Status.RESOURCE_EXHAUSTED and "r-lab" in refused.details
    assert world.call("Put", world.who("alice"), content=bytes(1024)).size == 1024
    service.close()
    assert record_size_limit(1 << 20) == (1 << 20) - 16 * 1024
    assert record_size_limit(64 << 20) == 4 << 20


@pytest.mark.parametrize(
    ("record_id", "fields", "words"),
    [
        ("../keys", {"content": DOC}, "record id"),
        ("r-lab\n", {"content": DOC}, "record id"),
        ("r-lab", {}, "no content"),
        ("r-lab", {"content": DOC, "patient": "alice"}, "org/name"),
    ],
)
def test_malformed_requests_are_invalid_arguments(
    world: World, record_id: str, fields: dict[str, Any], words: str
) -> None:
    refused = world.refused("Put", world.who("alice"), record_id, **fields)
    assert refused.code == Status.INVALID_ARGUMENT and words in refused.details


def test_a_request_is_only_good_for_the_call_it_was_signed_for(world: World) -> None:
    alice = world.who("alice")
    world.call("Put", alice, content=DOC)
    payload = recordstore_pb2.RecordRequest(
        operation=recordstore_pb2.RECORD_GET, channel=CHANNEL, creator=alice.cert_pem, record_id="r-lab"
    ).SerializeToString()
    with pytest.raises(Aborted) as caught:
        world.send("Erase", common_pb2.Signed(payload=payload, signature=alice.sign(payload)))
    assert caught.value.code == Status.INVALID_ARGUMENT and "signed for Get" in caught.value.details
    with pytest.raises(Aborted) as caught:
        world.send("Get", common_pb2.Signed(payload=b"\xff\xff", signature=b""))
    assert caught.value.code == Status.INVALID_ARGUMENT


def test_a_forged_signature_is_unauthenticated(world: World) -> None:
    alice, bob = world.who("alice"), world.who("bob")
    payload = recordstore_pb2.RecordRequest(
        operation=recordstore_pb2.RECORD_PUT, channel=CHANNEL, creator=alice.cert_pem,
        record_id="r-lab", content=DOC,
    ).SerializeToString()
    with pytest.raises(Aborted) as caught:
        world.send("Put", common_pb2.Signed(payload=payload, signature=bob.sign(payload)))
    assert caught.value.code == Status.UNAUTHENTICATED
    assert world.files() == [world.directory / "index.db"]


# --- erasure ---------------------------------------------------------------------------------


def test_erase_destroys_content_and_key(world: World) -> None:
    alice, bob = world.who("alice"), world.who("bob")
    world.call("Put", alice, content=DOC)
    access = world.access(bob)
    world.call("Erase", alice)
    assert world.files() == [world.directory / "index.db"]  # no key, no ciphertext
    assert b"r-lab" not in (world.directory / "index.db").read_bytes()  # secure_delete zeroed the row
    refused = world.refused("Get", bob, access_tx_id=access)
    assert refused.code == Status.NOT_FOUND and "erased" in refused.details
    assert world.refused("Erase", alice).code == Status.NOT_FOUND


def test_only_the_patient_or_an_admin_of_the_patients_org_may_erase(world: World) -> None:
    world.call("Put", world.who("alice"), content=DOC)
    for who in (world.who("bob"), world.net.signer("insurer", "admin")):
        refused = world.refused("Erase", who, patient=ALICE)
        assert refused.code == Status.PERMISSION_DENIED and "may not erase" in refused.details
    assert world.call("Erase", world.net.signer("hospital", "admin"), patient=ALICE).patient == ALICE


def test_opening_the_store_shreds_files_a_crash_left_behind(world: World, net: TestNetwork) -> None:
    alice = world.who("alice")
    world.call("Put", alice, content=DOC)
    (world.directory / "keys" / "0123.key").write_bytes(b"k" * 32)
    (world.directory / "blobs" / "0123.bin").write_bytes(b"c" * 99)
    world.service.close()
    world.service = RecordStoreService(CHANNEL, net.membership(), world.ledger, world.directory,
                                       consent_now(world.consent))
    assert len(world.files()) == 3  # index, and the live record's key and ciphertext
    assert world.call("Get", alice, access_tx_id=world.access(alice)).content == DOC


# --- the SDK over gRPC -----------------------------------------------------------------------


@pytest.fixture
def sdk(world: World) -> Iterator[Any]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    recordstore_pb2_grpc.add_RecordStoreServicer_to_server(world.service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stores: list[RecordStore] = []

    def connect(name: str) -> RecordStore:
        folder = world.net.crypto_dir / "hospital" / name
        identity = Identity("hospital", (folder / "cert.pem").read_bytes())
        signer = new_private_key_signer((folder / "key.pem").read_bytes())
        address = f"127.0.0.1:{port}"
        stores.append(RecordStore(grpc.insecure_channel(address), address, identity, signer, CHANNEL, 5.0))
        return stores[-1]

    yield connect
    for store in stores:
        store.close()
    server.stop(None)


def test_sdk_puts_gets_and_erases(world: World, sdk: Any) -> None:
    alice, bob = sdk("alice"), sdk("bob")
    stored = alice.put("r-lab", DOC)
    assert stored.patient == ALICE and stored.content_hash != hashlib.sha256(DOC).hexdigest()
    world.register(world.who("alice"), "r-lab", stored.content_hash)
    access = world.access(world.who("bob"))
    assert bob.get("r-lab", access).content == DOC
    with pytest.raises(RecordStoreError) as caught:
        bob.get("r-lab", "")
    assert caught.value.code == Status.PERMISSION_DENIED and caught.value.stage == "records get"
    alice.erase("r-lab")
    with pytest.raises(RecordStoreError) as caught:
        bob.get("r-lab", access)
    assert caught.value.code == Status.NOT_FOUND and access in str(caught.value)
