"""Unit tests of the client SDK against an in-process fake Gateway servicer that records requests."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from careledger.gateway import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    Gateway,
    GatewayError,
    Identity,
    InvalidKeyError,
    LocalNetworkError,
    MalformedMessageError,
    OfflineSigningError,
    Reconnect,
    SubmitError,
    Timeouts,
    connect,
    connect_local,
    default_directory,
    signers,
)
from careledger.gateway.client import GatewayClient, Options, Peers
from careledger.gateway.errors import ERROR_DETAILS_KEY
from careledger.gateway.proposal import build_proposal, compute_tx_id
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc, query_pb2, query_pb2_grpc

CHANNEL = "healthcare"


def _key_and_cert(common_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


KEY_PEM, CERT_PEM = _key_and_cert("admin@hospital")
IDENTITY = Identity(org="hospital", certificate=CERT_PEM)
# ECDSA signatures are randomised; memoising makes the online and offline flows byte-comparable.
SIGNER = functools.cache(signers.new_private_key_signer(KEY_PEM))


def _verifies(data: bytes, signature: bytes) -> bool:
    public_key = x509.load_pem_x509_certificate(CERT_PEM).public_key()
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


HOLD = "hold"  # in an event stream script: keep the stream open until the client cancels it
StreamItem = gateway_pb2.ChaincodeEventsResponse | grpc.StatusCode | str


class FakeGateway(gateway_pb2_grpc.GatewayServicer, query_pb2_grpc.QueryServicer):
    """Records every request and answers like a healthy gateway unless told otherwise."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []
        self.commit_code = common_pb2.VALID
        self.commit_codes: list[int] = []  # one per CommitStatus call, then commit_code
        self.commit_delay = 0.0
        self.evaluate_delay = 0.0
        self.evaluate_status = 200
        self.endorse_status = 200
        self.endorse_failure: gateway_pb2.ErrorDetails | None = None
        self.events: list[gateway_pb2.ChaincodeEventsResponse] = []
        self.streams: list[list[StreamItem]] = []  # one script per ChaincodeEvents call
        self.height = 0
        self.submit_failures: list[grpc.StatusCode] = []  # one per Submit call, then success
        self.waits_for_commit = True  # False: an older gateway, which ignores wait_for_commit
        self.submit_deadlines: list[float | None] = []  # seconds left, as each Submit began

    def Evaluate(self, request, context):  # noqa: N802 - gRPC method name
        self.requests.append(("Evaluate", request))
        time.sleep(self.evaluate_delay)
        proposal = common_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
        return gateway_pb2.EvaluateResponse(
            result=common_pb2.Response(
                status=self.evaluate_status, message="no such record", payload=proposal.args[0]
            )
        )

    def Endorse(self, request, context):  # noqa: N802
        self.requests.append(("Endorse", request))
        if self.endorse_failure is not None:
            context.set_trailing_metadata(
                ((ERROR_DETAILS_KEY, self.endorse_failure.SerializeToString()),)
            )
            context.abort(grpc.StatusCode.ABORTED, "endorsement policy not satisfied")
        proposal = common_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
        proposal.ClearField("transient")
        stripped = proposal.SerializeToString(deterministic=True)
        response = common_pb2.Response(
            status=self.endorse_status, message="asset a1 already exists",
            payload=b"result:" + proposal.function.encode(),
        )
        payload = common_pb2.ProposalResponsePayload(
            proposal_hash=hashlib.sha256(stripped).digest(), response=response
        )
        transaction = common_pb2.Transaction(
            proposal=stripped, response_payload=payload.SerializeToString(deterministic=True)
        )
        return gateway_pb2.EndorseResponse(
            prepared_transaction=common_pb2.Envelope(
                payload=transaction.SerializeToString(deterministic=True)
            ),
            result=response,
        )

    def Submit(self, request, context):  # noqa: N802
        self.requests.append(("Submit", request))
        self.submit_deadlines.append(context.time_remaining())
        if self.submit_failures:
            context.abort(self.submit_failures.pop(0), "orderer went away")
        if request.wait_for_commit and self.waits_for_commit:
            return gateway_pb2.SubmitResponse(commit=self._committed())
        return gateway_pb2.SubmitResponse()

    def CommitStatus(self, request, context):  # noqa: N802
        self.requests.append(("CommitStatus", request))
        return self._committed()

    def _committed(self) -> gateway_pb2.CommitStatusResponse:
        time.sleep(self.commit_delay)
        code = self.commit_codes.pop(0) if self.commit_codes else self.commit_code
        return gateway_pb2.CommitStatusResponse(result=code, block_number=7)

    def ChaincodeEvents(self, request, context):  # noqa: N802
        self.requests.append(("ChaincodeEvents", request))
        for item in self.streams.pop(0) if self.streams else self.events:
            if isinstance(item, grpc.StatusCode):
                context.abort(item, f"scripted {item.name}")
            elif item == HOLD:
                while context.is_active():
                    time.sleep(0.01)
            else:
                yield item

    def GetChainInfo(self, request, context):  # noqa: N802
        self.requests.append(("GetChainInfo", request))
        return query_pb2.ChainInfo(height=self.height)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeGateway, str]]:
    servicer = FakeGateway()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    gateway_pb2_grpc.add_GatewayServicer_to_server(servicer, grpc_server)
    query_pb2_grpc.add_QueryServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    yield servicer, f"127.0.0.1:{port}"
    grpc_server.stop(None)


@pytest.fixture
def fake(server: tuple[FakeGateway, str]) -> FakeGateway:
    servicer, _ = server
    servicer.__init__()
    return servicer


FAST_RECONNECT = Reconnect(initial_delay=0.01, max_delay=0.05)


def _gateway(
    address: str, signer=SIGNER, timeouts: Timeouts | None = None, *, fallbacks: tuple[str, ...] = (),
    retry_mvcc: int = 0, reconnect: Reconnect = FAST_RECONNECT,
) -> Gateway:
    peers = Peers([address, *fallbacks], grpc.insecure_channel)
    options = Options(timeouts or Timeouts(), retry_mvcc, reconnect)
    return Gateway(GatewayClient(peers, IDENTITY, signer, options))


@pytest.fixture
def online(server, fake) -> Iterator[Gateway]:
    with _gateway(server[1]) as gw:
        yield gw


@pytest.fixture
def offline(server, fake) -> Iterator[Gateway]:
    with _gateway(server[1], signer=None) as gw:
        yield gw


def test_proposal_header_follows_tx_id_rule_and_encodes_args() -> None:
    proposal = build_proposal(
        IDENTITY, CHANNEL, "consent", "grant", ["patient-1", b"\x00raw"], {"secret": "s3"}
    )
    header = proposal.header
    assert len(header.nonce) == 24
    assert header.tx_id == hashlib.sha256(header.nonce + CERT_PEM).hexdigest()
    assert header.tx_id == compute_tx_id(header.nonce, CERT_PEM)
    assert header.creator == CERT_PEM and header.channel == CHANNEL
    assert header.timestamp.seconds > 0
    assert list(proposal.args) == [b"patient-1", b"\x00raw"]
    assert dict(proposal.transient) == {"secret": b"s3"}


def test_two_proposals_get_different_nonces_and_tx_ids() -> None:
    first = build_proposal(IDENTITY, CHANNEL, "consent", "grant")
    second = build_proposal(IDENTITY, CHANNEL, "consent", "grant")
    assert first.header.tx_id != second.header.tx_id


def test_every_signature_sent_verifies_against_the_certificate(online, fake) -> None:
    contract = online.get_network(CHANNEL).get_contract("consent")
    contract.submit_async("grant", "patient-1").get_status()
    sent = dict(fake.requests)
    proposal = sent["Endorse"].proposed_transaction
    assert _verifies(proposal.proposal_bytes, proposal.signature)
    envelope = sent["Submit"].prepared_transaction
    assert _verifies(envelope.payload, envelope.signature)
    status_request = sent["CommitStatus"]
    assert _verifies(status_request.payload, status_request.signature)
    asked = gateway_pb2.CommitStatusRequest.FromString(status_request.payload)
    assert (asked.channel, asked.identity) == (CHANNEL, CERT_PEM)
    assert asked.tx_id == sent["Submit"].tx_id == sent["Endorse"].tx_id


def test_submit_transaction_returns_contract_result_after_valid_commit(online, fake) -> None:
    contract = online.get_network(CHANNEL).get_contract("consent")
    assert contract.submit_transaction("grant", "p1", endorsing_orgs=["hospital"]) == b"result:grant"
    assert list(fake.requests[0][1].endorsing_organizations) == ["hospital"]


def test_submit_transaction_raises_commit_error_when_validated_invalid(online, fake) -> None:
    fake.commit_code = common_pb2.MVCC_READ_CONFLICT
    contract = online.get_network(CHANNEL).get_contract("consent")
    with pytest.raises(CommitError) as caught:
        contract.submit_transaction("grant", "p1")
    err = caught.value
    assert err.code_name == "MVCC_READ_CONFLICT" and err.block_number == 7
    assert err.tx_id == fake.requests[0][1].tx_id
    assert "retry" in str(err) and err.tx_id in str(err)


def test_submit_async_gives_result_and_status(online, fake) -> None:
    fake.commit_code = common_pb2.ENDORSEMENT_POLICY_FAILURE
    submitted = online.get_network(CHANNEL).get_contract("claims").submit_async("file", "c1")
    assert submitted.result == b"result:file"
    status = submitted.get_status()
    assert (status.tx_id, status.code_name, status.successful) == (
        submitted.tx_id,
        "ENDORSEMENT_POLICY_FAILURE",
        False,
    )


def test_evaluate_sends_target_orgs_and_returns_payload(online, fake) -> None:
    contract = online.get_network(CHANNEL).get_contract("consent")
    assert contract.evaluate_transaction("read", "p1", target_orgs=["insurer"]) == b"p1"
    (stage, request), = fake.requests
    assert stage == "Evaluate" and list(request.target_organizations) == ["insurer"]


def test_evaluate_raises_with_contract_message_on_non_200(online, fake) -> None:
    fake.evaluate_status = 500
    with pytest.raises(EvaluateError, match=r"^no such record \(contract returned status 500\)"):
        online.get_network(CHANNEL).get_contract("consent").evaluate_transaction("read", "p1")


def test_offline_signing_sends_the_same_requests_as_online_signing(online, offline, fake) -> None:
    proposal = online.get_network(CHANNEL).get_contract("consent").new_proposal(
        "grant", args=("p1",), transient={"k": b"v"}, endorsing_orgs=["hospital", "board"]
    )
    data = proposal.bytes()
    proposal.endorse().submit().get_status()
    online_requests = list(fake.requests)
    fake.requests.clear()

    signed_proposal = offline.new_signed_proposal(data, SIGNER(proposal.digest()))
    transaction = signed_proposal.endorse()
    signed_tx = offline.new_signed_transaction(transaction.bytes(), SIGNER(transaction.digest()))
    assert (signed_tx.tx_id, signed_tx.result) == (proposal.tx_id, b"result:grant")
    commit = signed_tx.submit()
    status = offline.new_signed_commit(commit.bytes(), SIGNER(commit.digest())).get_status()

    assert status.successful and status.tx_id == proposal.tx_id
    assert fake.requests == online_requests
    assert [stage for stage, _ in online_requests] == ["Endorse", "Submit", "CommitStatus"]
    assert not online_requests[1][1].wait_for_commit


def test_offline_gateway_refuses_to_send_an_unsigned_proposal(offline, fake) -> None:
    contract = offline.get_network(CHANNEL).get_contract("consent")
    with pytest.raises(OfflineSigningError, match="new_signed_proposal"):
        contract.evaluate_transaction("read", "p1")
    assert fake.requests == []


def test_new_signed_proposal_rejects_bytes_that_are_not_a_proposal(offline) -> None:
    with pytest.raises(MalformedMessageError):
        offline.new_signed_proposal(b"\xff\xff garbage", b"sig")
    with pytest.raises(MalformedMessageError):
        offline.new_signed_commit(b"", b"sig")


def test_endorse_error_carries_per_peer_details_from_trailer(online, fake) -> None:
    fake.endorse_failure = gateway_pb2.ErrorDetails(
        details=[
            gateway_pb2.ErrorDetail(address="127.0.0.1:9051", org="insurer", message="denied"),
        ]
    )
    proposal = online.get_network(CHANNEL).get_contract("claims").new_proposal("approve")
    with pytest.raises(EndorseError) as caught:
        proposal.endorse()
    err = caught.value
    assert err.code == grpc.StatusCode.ABORTED and err.tx_id == proposal.tx_id
    assert [(d.address, d.org, d.message) for d in err.details] == [
        ("127.0.0.1:9051", "insurer", "denied")
    ]
    text = str(err)
    assert text.startswith("endorsement policy not satisfied")
    assert proposal.tx_id in text and "insurer" in text and "denied" in text


def test_deadline_exceeded_names_stage_and_tx_id(server, fake) -> None:
    fake.evaluate_delay = 0.3
    with _gateway(server[1], timeouts=Timeouts(evaluate=0.05)) as gw:
        proposal = gw.get_network(CHANNEL).get_contract("consent").new_proposal("read", ("p",))
        with pytest.raises(EvaluateError) as caught:
            proposal.evaluate()
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "evaluate of transaction " + proposal.tx_id in str(caught.value)
    assert "Timeouts.evaluate" in str(caught.value)


def test_unreachable_gateway_raises_gateway_error_naming_the_address() -> None:
    address = "127.0.0.1:1"
    with _gateway(address, timeouts=Timeouts(evaluate=2.0)) as gw:
        with pytest.raises(GatewayError, match=address):
            gw.get_network(CHANNEL).get_contract("consent").evaluate_transaction("read")


def test_commit_error_messages_say_what_happened_and_what_to_do() -> None:
    mvcc = CommitError("tx1", common_pb2.MVCC_READ_CONFLICT, 3)
    assert str(mvcc) == (
        "transaction tx1 was ordered in block 3 but is invalid (MVCC_READ_CONFLICT): "
        "another transaction changed a key this one read; retry the transaction"
    )
    assert "new proposal" in str(CommitError("tx2", common_pb2.DUPLICATE_TXID, 4))
    assert "UNKNOWN(99)" in str(CommitError("tx3", 99, 5))


def test_chaincode_events_are_flattened_and_request_is_signed(online, fake) -> None:
    event = common_pb2.ChaincodeEvent(contract="consent", tx_id="t1", event_name="Granted")
    fake.events = [
        gateway_pb2.ChaincodeEventsResponse(block_number=4, events=[event, event]),
        gateway_pb2.ChaincodeEventsResponse(block_number=5, events=[event]),
    ]
    network = online.get_network(CHANNEL)
    with network.get_chaincode_events("consent", start_block=0, after_tx_id="t0") as events:
        seen = [(e.block_number, e.tx_id, e.event_name) for e in events]
    assert seen == [(4, "t1", "Granted"), (4, "t1", "Granted"), (5, "t1", "Granted")]
    signed = fake.requests[0][1]
    assert _verifies(signed.payload, signed.signature)
    request = gateway_pb2.ChaincodeEventsRequest.FromString(signed.payload)
    assert request.HasField("start_block") and request.start_block == 0
    assert (request.contract, request.after_transaction_id) == ("consent", "t0")


def test_chaincode_events_without_start_block_start_at_the_peers_height(online, fake) -> None:
    fake.height = 9
    with online.get_network(CHANNEL).get_chaincode_events("consent") as events:
        assert list(events) == []
    (asked, query), (_, signed) = fake.requests
    assert asked == "GetChainInfo" and _verifies(query.payload, query.signature)
    request = gateway_pb2.ChaincodeEventsRequest.FromString(signed.payload)
    assert request.HasField("start_block") and request.start_block == 9


def test_offline_gateway_cannot_open_chaincode_events(offline, fake) -> None:
    with pytest.raises(OfflineSigningError, match="chaincode events request for consent"):
        offline.get_network(CHANNEL).get_chaincode_events("consent")
    assert fake.requests == []


def test_private_key_signer_signs_digests_and_rejects_non_ecdsa_keys() -> None:
    digest = hashlib.sha256(b"message").digest()
    assert _verifies(b"message", signers.new_private_key_signer(KEY_PEM)(digest))
    ed_key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidKeyError, match="not an ECDSA key"):
        signers.new_private_key_signer(ed_key)
    with pytest.raises(InvalidKeyError):
        signers.new_private_key_signer(b"not a key")


def test_connect_builds_a_tls_gateway_without_contacting_the_peer() -> None:
    with connect(
        "127.0.0.1:7051", IDENTITY, SIGNER, tls_root_certificates=CERT_PEM, server_name="peer0"
    ) as gw:
        assert gw.identity == IDENTITY


def _write_network(root: Path) -> None:
    peers = [  # the profile `network up` writes names host and port; "address" is accepted too
        {"name": "peer0", "org": "hospital", "host": "127.0.0.1", "port": 1},
        {"name": "peer0", "org": "insurer", "address": "127.0.0.1:2"},
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "network.json").write_text(
        json.dumps({"channel": CHANNEL, "peers": peers, "orderers": []})
    )
    for org in ("hospital", "insurer"):
        (root / "crypto" / org / "ca").mkdir(parents=True)
        (root / "crypto" / org / "ca" / "cert.pem").write_bytes(CERT_PEM)
    (root / "crypto" / "hospital" / "admin").mkdir()
    (root / "crypto" / "hospital" / "admin" / "cert.pem").write_bytes(CERT_PEM)
    (root / "crypto" / "hospital" / "admin" / "key.pem").write_bytes(KEY_PEM)


def _peer_reached(gw: Gateway) -> str:
    """The address the gateway dials, read from the error a closed port produces."""
    with pytest.raises(GatewayError) as caught:
        gw.get_network(CHANNEL).get_contract("consent").evaluate_transaction("read")
    return str(caught.value)


def test_connect_local_uses_the_orgs_first_peer_and_admin_identity(tmp_path: Path) -> None:
    _write_network(tmp_path)
    with connect_local(tmp_path, "hospital", timeouts=Timeouts(evaluate=5)) as gw:
        assert gw.identity == Identity(org="hospital", certificate=CERT_PEM)
        assert "127.0.0.1:1 " in _peer_reached(gw)
    with connect_local(tmp_path, "hospital:admin", peer="peer0.insurer") as gw:
        assert gw.identity.org == "hospital"
        assert "127.0.0.1:2 " in _peer_reached(gw)
    with connect_local(tmp_path, "hospital", peer="peer0") as gw:
        assert "127.0.0.1:1 " in _peer_reached(gw)


def test_connect_local_without_network_says_to_run_network_up(tmp_path: Path) -> None:
    with pytest.raises(LocalNetworkError, match=r"network\.json.*careledger network up"):
        connect_local(tmp_path / "absent")


def test_connect_local_names_unknown_org_user_and_peer(tmp_path: Path) -> None:
    _write_network(tmp_path)
    with pytest.raises(LocalNetworkError, match="org 'board' has no peer.*hospital, insurer"):
        connect_local(tmp_path, "board:admin")
    with pytest.raises(LocalNetworkError, match="no identity hospital:nurse"):
        connect_local(tmp_path, "hospital:nurse")
    with pytest.raises(LocalNetworkError, match="no peer named 'peer9'.*peer0.insurer"):
        connect_local(tmp_path, peer="peer9")
    (tmp_path / "crypto" / "hospital" / "admin" / "key.pem").unlink()
    with pytest.raises(LocalNetworkError, match="private key .*key.pem does not exist"):
        connect_local(tmp_path)


def test_default_directory_prefers_careledger_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARELEDGER_HOME", str(tmp_path))
    assert default_directory() == tmp_path
    monkeypatch.delenv("CARELEDGER_HOME")
    monkeypatch.chdir(tmp_path)
    assert default_directory() == tmp_path / ".careledger"


def test_endorse_error_puts_the_contracts_message_first(online, fake) -> None:
    fake.endorse_status = 500
    proposal = online.get_network(CHANNEL).get_contract("basic").new_proposal("create_asset")
    with pytest.raises(EndorseError) as caught:
        proposal.endorse()
    assert str(caught.value).startswith("asset a1 already exists (contract returned status 500)")
    assert proposal.tx_id in str(caught.value)


def test_commit_status_deadline_names_stage_tx_id_and_timeout_field(server, fake) -> None:
    fake.commit_delay = 0.3
    with _gateway(server[1], timeouts=Timeouts(commit_status=0.05)) as gw:
        submitted = gw.get_network(CHANNEL).get_contract("consent").submit_async("grant")
        with pytest.raises(CommitStatusError) as caught:
            submitted.get_status()
    assert f"commit status of transaction {submitted.tx_id} exceeded" in str(caught.value)
    assert "Timeouts.commit_status" in str(caught.value)


def _endorsed_tx_ids(fake: FakeGateway) -> list[str]:
    return [request.tx_id for stage, request in fake.requests if stage == "Endorse"]


def test_mvcc_conflicts_are_not_retried_by_default(online, fake) -> None:
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT]
    with pytest.raises(CommitError, match="MVCC_READ_CONFLICT"):
        online.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")
    assert len(_endorsed_tx_ids(fake)) == 1


def test_retry_mvcc_re_endorses_a_new_proposal_until_valid(online, fake) -> None:
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT, common_pb2.PHANTOM_READ_CONFLICT]
    contract = online.get_network(CHANNEL).get_contract("consent")
    assert contract.submit_transaction("grant", "p1", retry_mvcc=2) == b"result:grant"
    tx_ids = _endorsed_tx_ids(fake)
    assert len(tx_ids) == len(set(tx_ids)) == 3


def test_retry_mvcc_is_bounded_and_leaves_other_codes_alone(online, fake) -> None:
    contract = online.get_network(CHANNEL).get_contract("consent")
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT] * 3
    with pytest.raises(CommitError, match="MVCC_READ_CONFLICT"):
        contract.submit_transaction("grant", retry_mvcc=1)
    assert len(_endorsed_tx_ids(fake)) == 2
    fake.requests.clear()
    fake.commit_codes = [common_pb2.ENDORSEMENT_POLICY_FAILURE]
    with pytest.raises(CommitError, match="ENDORSEMENT_POLICY_FAILURE"):
        contract.submit_transaction("grant", retry_mvcc=3)
    assert len(_endorsed_tx_ids(fake)) == 1


def test_retry_mvcc_can_be_a_gateway_option(server, fake) -> None:
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT]
    with _gateway(server[1], retry_mvcc=1) as gw:
        assert gw.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")
    assert len(_endorsed_tx_ids(fake)) == 2


def test_connect_local_falls_back_to_the_other_peers_of_the_org(tmp_path: Path) -> None:
    _write_network(tmp_path)
    profile = json.loads((tmp_path / "network.json").read_text())
    profile["peers"].append({"name": "peer1", "org": "hospital", "host": "127.0.0.1", "port": 3})
    (tmp_path / "network.json").write_text(json.dumps(profile))
    with connect_local(tmp_path, "hospital") as gw:
        assert gw._client.peers.addresses == ["127.0.0.1:1", "127.0.0.1:3"]
    with connect_local(tmp_path, "hospital", peer="peer1") as gw:
        assert gw._client.peers.addresses == ["127.0.0.1:3", "127.0.0.1:1"]


def test_ambiguous_submit_is_sent_again_with_the_same_tx_id(online, fake) -> None:
    fake.submit_failures = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ALREADY_EXISTS]
    contract = online.get_network(CHANNEL).get_contract("consent")
    assert contract.submit_transaction("grant", "p1") == b"result:grant"
    submits = [r for name, r in fake.requests if name == "Submit"]
    assert len(submits) == 2 and submits[0] == submits[1]  # the same signed envelope, same tx id


def test_a_first_submit_answered_already_exists_is_a_replay_and_fails(online, fake) -> None:
    fake.submit_failures = [grpc.StatusCode.ALREADY_EXISTS]
    contract = online.get_network(CHANNEL).get_contract("consent")
    with pytest.raises(SubmitError) as caught:
        contract.submit_transaction("grant", "p1")
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS


def test_submit_gives_up_after_bounded_attempts(online, fake) -> None:
    fake.submit_failures = [grpc.StatusCode.UNAVAILABLE] * 5
    contract = online.get_network(CHANNEL).get_contract("consent")
    with pytest.raises(SubmitError) as caught:
        contract.submit_transaction("grant", "p1")
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert sum(name == "Submit" for name, _ in fake.requests) == 3


def _stages(fake: FakeGateway) -> list[str]:
    return [stage for stage, _ in fake.requests]


def test_submit_transaction_is_one_submit_that_waits_with_the_commit_status_deadline(server, fake) -> None:
    fake.commit_codes = [common_pb2.ENDORSEMENT_POLICY_FAILURE]
    with _gateway(server[1], timeouts=Timeouts(submit=1.0, commit_status=9.0)) as gw:
        contract = gw.get_network(CHANNEL).get_contract("claims")
        with pytest.raises(CommitError, match="ENDORSEMENT_POLICY_FAILURE") as caught:
            contract.submit_transaction("file", "c1")
        assert contract.submit_transaction("file", "c2") == b"result:file"
    assert _stages(fake) == ["Endorse", "Submit"] * 2
    submit = fake.requests[1][1]
    assert submit.wait_for_commit and caught.value.tx_id == submit.tx_id
    assert caught.value.block_number == 7
    assert all(8.0 < left < 9.5 for left in fake.submit_deadlines)  # not Timeouts.submit's 1 s


@pytest.mark.parametrize("older", [False, True], ids=["wait-ran-out", "older-gateway"])
def test_a_submit_that_did_not_wait_for_the_commit_asks_commit_status(online, fake, older) -> None:
    if older:  # answers Submit at once, without `commit`
        fake.waits_for_commit = False
    else:  # the gateway's wait for the block ran out: the transaction may still commit
        fake.submit_failures = [grpc.StatusCode.DEADLINE_EXCEEDED]
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT]
    contract = online.get_network(CHANNEL).get_contract("consent")
    assert contract.submit_transaction("grant", "p1", retry_mvcc=1) == b"result:grant"
    assert _stages(fake) == ["Endorse", "Submit", "CommitStatus", "Endorse", "Submit"] + (
        ["CommitStatus"] if older else [])


def test_a_client_deadline_while_waiting_falls_back_to_commit_status_and_names_it(server, fake) -> None:
    fake.commit_delay = 0.3
    with _gateway(server[1], timeouts=Timeouts(commit_status=0.05)) as gw:
        with pytest.raises(CommitStatusError) as caught:
            gw.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")
    tx_id = fake.requests[0][1].tx_id
    assert f"commit status of transaction {tx_id} exceeded" in str(caught.value)
    assert "Timeouts.commit_status" in str(caught.value)
    assert _stages(fake) == ["Endorse", "Submit", "CommitStatus"]


def test_unavailable_while_waiting_sends_the_envelope_again_and_takes_its_status(online, fake) -> None:
    fake.submit_failures = [grpc.StatusCode.UNAVAILABLE]
    fake.commit_code = common_pb2.PHANTOM_READ_CONFLICT
    with pytest.raises(CommitError, match="PHANTOM_READ_CONFLICT"):
        online.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")
    assert _stages(fake) == ["Endorse", "Submit", "Submit"]
    assert fake.requests[1] == fake.requests[2] and fake.requests[1][1].wait_for_commit
