"""Bad input against a live network (scenario 7): each must get a clear status and change nothing.

The cases already proven by the end-to-end suite are listed in `E2E_CASES` and run from there;
the ones below are the cases that suite did not have. Each returns a `Case` saying what the client
was told, so that the campaign table can show it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from faultharness import REPO, serving

from careledger.gateway import Contract, GatewayError
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.identity.tls import channel_credentials
from careledger.network.ledger.protoutil import compute_tx_id
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork
from careledger.network.node.grpcutil import node_channel
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import (
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    orderer_pb2,
    orderer_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
)


@dataclass(frozen=True)
class Case:
    """One bad input: what the client was told, and whether that and the ledger were as required."""

    name: str
    ok: bool
    told: str
    where: str = "tests/faults"
    recovery: float | None = None


# name -> pytest node id of the end-to-end test that already proves it
E2E = "tests/e2e/"
# name -> (pytest node id of the end-to-end test that already proves it, the status it asserts)
E2E_CASES = {
    "garbage protobuf (envelope, proposal)":
        (E2E + "test_ledger_core.py::test_malformed_envelope_is_rejected_with_a_clear_status",
         "INVALID_ARGUMENT, 'malformed …'"),
    "wrong signature": (E2E + "test_ledger_core.py::test_forged_signature_is_rejected_and_ledger_unchanged",
                        "UNAUTHENTICATED, '… signature …'"),
    "expired certificate": (E2E + "test_bad_input.py::test_expired_certificate_is_refused",
                            "PERMISSION_DENIED, '… expired …'"),
    "certificate from an unknown CA":
        (E2E + "test_ledger_core.py::test_identity_from_an_unknown_ca_is_rejected",
         "PERMISSION_DENIED, naming the identity"),
    "replayed tx id": (E2E + "test_ledger_core.py::test_replayed_transaction_is_rejected_and_counted_once",
                       "ALREADY_EXISTS naming the tx (gateway, endorser); refused by the orderer too"),
    "oversized payload (> max_message_bytes)":
        (E2E + "test_bad_input.py::test_oversized_payload_is_refused_with_resource_exhausted",
         "RESOURCE_EXHAUSTED"),
    "unknown contract or function": (E2E + "test_bad_input.py::test_unknown_contract_and_function_say_so",
                                     "NOT_FOUND, 'contract … is not deployed' / '… has no function …'"),
    "non-UTF-8 argument": (E2E + "test_bad_input.py::test_non_utf8_argument_is_refused_naming_the_argument",
                           "INVALID_ARGUMENT, '… UTF-8 …' naming the argument"),
}


def run_e2e_cases() -> list[Case]:
    """Run the end-to-end tests of E2E_CASES (their own network) and report each one's outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={report}", *(n for n, _ in E2E_CASES.values())], cwd=REPO,
                       capture_output=True,
                       timeout=600)
        outcome: dict[str, str] = {}
        if report.is_file():
            for tc in ET.parse(report).getroot().iter("testcase"):
                bad = next((c for c in tc if c.tag in ("failure", "error", "skipped")), None)
                outcome[tc.get("name", "")] = "" if bad is None else f"{bad.tag}: {bad.get('message', '')}"
    cases = []
    for name, (node_id, asserted) in E2E_CASES.items():
        problem = outcome.get(node_id.rsplit("::", 1)[1], "did not run")
        cases.append(Case(name, problem == "", problem[:200] or f"{asserted}; ledger unchanged",
                          where=node_id))
    return cases


def chain_tips(net: LocalNetwork) -> dict[str, tuple[int, bytes]]:
    tips = {}
    for node in net.profile.peers:
        with QueryClient(net.directory, node.org, peer=node) as q:
            info = q.chain_info()
            tips[node.id] = (info.height, info.current_block_hash)
    return tips


@contextmanager
def ledger_unchanged(net: LocalNetwork, settle: float = 0.8) -> Iterator[None]:
    """Raise AssertionError if any peer's chain moved, waiting out one batch timeout first."""
    before = chain_tips(net)
    yield
    time.sleep(settle)
    after = chain_tips(net)
    if after != before:
        raise AssertionError(f"the ledger changed: {before} -> {after}")


def _told(exc: grpc.RpcError | GatewayError) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"
    code = exc.code.name if exc.code is not None else "?"
    return f"{code}: {str(exc).splitlines()[0].split(' (tx ')[0][:160]}"


def _expect(fn: Callable[[], object], codes: set[grpc.StatusCode], needle: str) -> tuple[bool, str]:
    """Call fn; it must fail with one of `codes` and a message containing `needle`."""
    try:
        fn()
    except (grpc.RpcError, GatewayError) as exc:
        code = exc.code() if isinstance(exc, grpc.RpcError) else exc.code
        text = exc.details() if isinstance(exc, grpc.RpcError) else str(exc)
        return code in codes and needle.lower() in (text or "").lower(), _told(exc)
    return False, "accepted"


def _gateway_stub(net: LocalNetwork) -> tuple[grpc.Channel, gateway_pb2_grpc.GatewayStub]:
    peer = net.profile.peers_of("hospital")[0]
    channel = net.channel(peer.id)
    return channel, gateway_pb2_grpc.GatewayStub(channel)


def truncated_protobuf(net: LocalNetwork, contract: Contract) -> list[Case]:
    """Valid messages cut short: to the gateway, the orderer, and as a whole gRPC request."""
    tx = contract.new_proposal("create_asset", [f"cut-{uuid.uuid4().hex[:8]}", "x", "1"]).endorse()
    envelope = common_pb2.Envelope.FromString(tx.bytes())
    cut = common_pb2.Envelope(payload=envelope.payload[: len(envelope.payload) // 2],
                              signature=envelope.signature)
    proposal = contract.new_proposal("create_asset", [f"cut-{uuid.uuid4().hex[:8]}", "x", "1"])
    signed = gateway_pb2.EndorseRequest.FromString(proposal.bytes()).proposed_transaction
    cases = []
    channel, stub = _gateway_stub(net)
    with channel:
        with ledger_unchanged(net):
            ok, told = _expect(lambda: stub.Submit(gateway_pb2.SubmitRequest(
                channel=net.profile.channel, tx_id=tx.tx_id, prepared_transaction=cut)),
                {grpc.StatusCode.INVALID_ARGUMENT}, "malformed")
        cases.append(Case("truncated protobuf: envelope payload to Gateway.Submit", ok, told))
        cut_bytes = signed.proposal_bytes[: len(signed.proposal_bytes) // 2]
        half = common_pb2.SignedProposal(proposal_bytes=cut_bytes, signature=signed.signature)
        with ledger_unchanged(net):
            ok, told = _expect(lambda: stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=half)),
                               {grpc.StatusCode.INVALID_ARGUMENT}, "")
        cases.append(Case("truncated protobuf: proposal to Gateway.Endorse", ok, told))
        raw = gateway_pb2.SubmitRequest(channel=net.profile.channel, tx_id=tx.tx_id,
                                        prepared_transaction=envelope).SerializeToString()
        submit = channel.unary_unary("/careledger.Gateway/Submit")
        with ledger_unchanged(net):
            # the peer names the method (INVALID_ARGUMENT); a grpc.server said INTERNAL
            ok, told = _expect(lambda: submit(raw[: len(raw) // 2], timeout=10),
                               {grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT}, "")
        cases.append(Case("truncated protobuf: whole SubmitRequest (gRPC framing)", ok, told))
    orderer = net.profile.orderers[0]
    roots = Membership.from_crypto_dir(net.layout.crypto).ca_pems()
    with node_channel(orderer.address, roots, net.layout.identity_dir("hospital", "peer0"), 1 << 20) as ch:
        with ledger_unchanged(net):
            ok, told = _expect(lambda: orderer_pb2_grpc.OrdererStub(ch).Broadcast(cut, timeout=10),
                               {grpc.StatusCode.INVALID_ARGUMENT}, "")
        cases.append(Case("truncated protobuf: envelope straight to Orderer.Broadcast", ok, told))
    return cases


def _rogue_endorsed(net: LocalNetwork, contract: Contract, rogue: Path, asset: str) -> tuple[bytes, bytes]:
    """A transaction endorsed by the hospital and by `rogue`, signed by the real hospital admin."""
    tx = contract.new_proposal("create_asset", [asset, "rogue", "1"], endorsing_orgs=["hospital"]).endorse()
    envelope = common_pb2.Envelope.FromString(tx.bytes())
    transaction = common_pb2.Transaction.FromString(envelope.payload)
    rogue_signer = Signer.from_dir(rogue)
    transaction.endorsements.append(common_pb2.Endorsement(
        endorser=rogue_signer.cert_pem, signature=rogue_signer.sign(transaction.response_payload)))
    payload = transaction.SerializeToString()
    creator = Signer.from_dir(net.layout.identity_dir("hospital", "admin"))
    data = common_pb2.Envelope(payload=payload).SerializeToString()
    return data, creator.sign(payload)


def _absent_everywhere(net: LocalNetwork, asset: str) -> bool:
    for org in net.profile.orgs:
        with net.connect(f"{org}:admin") as gw:
            try:
                gw.get_network(net.profile.channel).get_contract("basic").evaluate_transaction(
                    "read_asset", asset)
                return False
            except GatewayError as exc:
                if "does not exist" not in str(exc):
                    return False
    return True


def rogue_endorsements(net: LocalNetwork, contract: Contract) -> list[Case]:
    """Endorsements by peers outside the channel's membership must not satisfy any policy."""
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        rogues = {
            "endorsement from a non-member org (pharmacy peer)": ("pharmacy", Path(tmp) / "a"),
            "endorsement by a rogue-CA peer cert claiming org insurer": ("insurer", Path(tmp) / "b"),
        }
        for name, (org, crypto) in rogues.items():
            generate_org(crypto, org, [IdentitySpec("peer0", "peer")])
            asset = f"rogue-{uuid.uuid4().hex[:8]}"
            data, signature = _rogue_endorsed(net, contract, crypto / org / "peer0", asset)
            with net.connect("hospital:admin") as gw:
                try:
                    status = gw.new_signed_transaction(data, signature).submit().get_status()
                    told = f"ordered, then committed as {status.code_name} in block {status.block_number}"
                    ok = status.code_name == "ENDORSEMENT_POLICY_FAILURE"
                except GatewayError as exc:  # refusing it at the door would be fine too
                    told, ok = f"refused: {_told(exc)}", True
            ok = ok and _absent_everywhere(net, asset)
            cases.append(Case(name, ok, told + ("; world state unchanged" if ok else "")))
    return cases


def huge_arguments(net: LocalNetwork, contract: Contract) -> list[Case]:
    """Arguments far beyond what a function takes, but under the message size limit."""
    cases = []
    with ledger_unchanged(net):
        ok, told = _expect(lambda: contract.submit_transaction("create_asset", *(["x"] * 50_000)),
                           {grpc.StatusCode.INVALID_ARGUMENT}, "got 50000")
    cases.append(Case("huge arguments: 50,000 arguments", ok, told))
    with ledger_unchanged(net):
        ok, told = _expect(lambda: contract.submit_transaction("read_asset", "k" * 200_000),
                           {grpc.StatusCode.ABORTED, grpc.StatusCode.INVALID_ARGUMENT}, "limit")
    cases.append(Case("huge arguments: a 200 kB key", ok, told))
    # 100 kB passes the 256 kB request limit, but the endorsement carries it three times over
    with ledger_unchanged(net):
        ok, told = _expect(lambda: contract.submit_transaction("create_asset", f"big-{uuid.uuid4().hex[:8]}",
                                                               "o", "v" * 100_000),
                           {grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED}, "max")
    cases.append(Case("huge arguments: a 100 kB value (endorsement > max message)", ok, told))
    return cases


CONTROL_KEYS = {
    "NUL": "a\x00b", "ANSI escape sequence": "scan\x1b[31mred\x1b[0m",
    "right-to-left override (U+202E)": "invoice\u202etxt.exe", "bidi isolate (U+2066)": "iso\u2066late",
    "C1 control (U+009B CSI)": "csi\x9b2J", "DEL": "del\x7f",
}


def control_character_keys(net: LocalNetwork, contract: Contract) -> list[Case]:
    """Keys that would print as something else on a terminal or in a UI: refused by the stub."""
    cases = []
    for what, key in CONTROL_KEYS.items():
        with ledger_unchanged(net):
            ok, told = _expect(lambda k=key: contract.submit_transaction("create_asset", k, "x", "1"),
                               {grpc.StatusCode.INVALID_ARGUMENT},
                               f"key {key!r} contains the control character")
        cases.append(Case(f"key with a control character: {what}", ok, told))
    return cases


def _signed(net: LocalNetwork, who: str, message: object) -> common_pb2.Signed:
    org, _, user = who.partition(":")
    signer = Signer.from_dir(net.layout.identity_dir(org, user or "admin"))
    for field in ("identity", "creator"):
        if field in message.DESCRIPTOR.fields_by_name:  # type: ignore[attr-defined]
            setattr(message, field, signer.cert_pem)
    payload = message.SerializeToString()  # type: ignore[attr-defined]
    return common_pb2.Signed(payload=payload, signature=signer.sign(payload))


def _raw_proposal(net: LocalNetwork, function: str) -> common_pb2.SignedProposal:
    signer = Signer.from_dir(net.layout.identity_dir("hospital", "admin"))
    nonce = os.urandom(24)
    header = common_pb2.Header(channel=net.profile.channel, tx_id=compute_tx_id(nonce, signer.cert_pem),
                               creator=signer.cert_pem, nonce=nonce)
    header.timestamp.GetCurrentTime()
    data = common_pb2.Proposal(header=header, contract="basic", function=function).SerializeToString()
    return common_pb2.SignedProposal(proposal_bytes=data, signature=signer.sign(data))


def requests_out_of_shape(net: LocalNetwork, contract: Contract) -> list[Case]:
    """A 10,000-character function name (past the SDK), an empty Endorse, streams from far ahead."""
    cases = []
    channel, stub = _gateway_stub(net)
    height = chain_tips(net)[net.profile.peers[0].id][0]
    far = height + 1000
    with channel:
        with ledger_unchanged(net):
            request = gateway_pb2.EndorseRequest(proposed_transaction=_raw_proposal(net, "f" * 10_000))
            ok, told = _expect(lambda: stub.Endorse(request, timeout=10),
                               {grpc.StatusCode.INVALID_ARGUMENT}, "the limit is 128")
        cases.append(Case("a 10,000-character function name (raw, past the SDK's own refusal)", ok, told))
        with ledger_unchanged(net):
            ok, told = _expect(lambda: stub.Endorse(gateway_pb2.EndorseRequest(), timeout=10),
                               {grpc.StatusCode.INVALID_ARGUMENT}, "no signed proposal")
        cases.append(Case("empty endorse request", ok, told))
        blocks = gateway_pb2.BlockEventsRequest(channel=net.profile.channel, start_block=far)
        streams = {
            "BlockEvents": lambda: next(stub.BlockEvents(_signed(net, "hospital:admin", blocks), timeout=30)),
            "ChaincodeEvents": lambda: next(stub.ChaincodeEvents(_signed(net, "hospital:admin",
                gateway_pb2.ChaincodeEventsRequest(channel=net.profile.channel, contract="basic",
                                                   start_block=far)), timeout=30)),
        }
        for name, call in streams.items():
            with ledger_unchanged(net):
                started = time.monotonic()
                ok, told = _expect(call, {grpc.StatusCode.OUT_OF_RANGE}, f"cannot start at block {far}")
                ok = ok and time.monotonic() - started < 10
            cases.append(Case(f"{name} from block height+1000", ok, told))
    with net.channel(net.profile.orderers[0].id, "hospital:peer0") as ch, ledger_unchanged(net):
        seek = _signed(net, "hospital:peer0", orderer_pb2.SeekRequest(channel=net.profile.channel, start=far,
                                                                       follow=True))
        started = time.monotonic()
        ok, told = _expect(lambda: next(orderer_pb2_grpc.OrdererStub(ch).Deliver(seek, timeout=30)),
                           {grpc.StatusCode.OUT_OF_RANGE}, f"cannot start at block {far}")
        cases.append(Case("Deliver from block height+1000", ok and time.monotonic() - started < 10, told))
    return cases


def _health(address: str, credentials: grpc.ChannelCredentials | None) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    channel = (grpc.insecure_channel(address) if credentials is None
               else grpc.secure_channel(address, credentials))
    with channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


def tls_without_a_member_certificate(net: LocalNetwork, contract: Contract) -> list[Case]:
    """Plaintext, TLS without a client certificate, and one from an unknown CA: refused by the
    handshake at the peer (mutual TLS, like the orderer)."""
    peer = net.profile.peers_of("hospital")[0]
    roots = Membership.from_crypto_dir(net.layout.crypto).ca_pems()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        generate_org(Path(tmp), "hospital", [IdentitySpec("mallory", "admin")])
        clients = {"plaintext (no TLS) to a peer": None,
                   "TLS without a client certificate to a peer": channel_credentials(roots),
                   "TLS client certificate from an unknown CA (org name hospital) to a peer":
                       channel_credentials(roots, Path(tmp) / "hospital" / "mallory")}
        for name, credentials in clients.items():
            with ledger_unchanged(net):
                ok, told = _expect(lambda c=credentials: _health(peer.address, c),
                                   {grpc.StatusCode.UNAVAILABLE}, "")
            cases.append(Case(name, ok, told.split(";")[0][:160]))
    return cases


def patient_reads_full_blocks(net: LocalNetwork, contract: Contract) -> list[Case]:
    """A patient (hospital:alice) asks for whole blocks and for another member's transaction."""
    patient = "hospital:alice"
    admin_tx = contract.submit_async("create_asset", f"admins-{uuid.uuid4().hex[:8]}", "x", "1")
    admin_tx.get_status()
    cases = []
    peer = net.profile.peers_of("hospital")[0]
    with net.channel(peer.id, patient) as ch, ledger_unchanged(net):
        query = query_pb2_grpc.QueryStub(ch)
        gateway = gateway_pb2_grpc.GatewayStub(ch)
        block0 = query_pb2.QueryRequest(channel=net.profile.channel, block_number=0)
        other = query_pb2.QueryRequest(channel=net.profile.channel, tx_id=admin_tx.tx_id)
        calls = {
            "patient reads a full block through Query.GetBlock":
                lambda: query.GetBlock(_signed(net, patient, block0), timeout=10),
            "patient streams full blocks through BlockEvents": lambda: next(gateway.BlockEvents(_signed(
                net, patient, gateway_pb2.BlockEventsRequest(channel=net.profile.channel, start_block=0)),
                timeout=10)),
            "patient reads another member's transaction through Query.GetTransaction":
                lambda: query.GetTransaction(_signed(net, patient, other), timeout=10),
        }
        for name, call in calls.items():
            ok, told = _expect(call, {grpc.StatusCode.PERMISSION_DENIED}, "hospital/alice")
            cases.append(Case(name, ok, told[:200]))
    with net.channel(net.profile.orderers[0].id, patient) as ch, ledger_unchanged(net):
        seek = _signed(net, patient, orderer_pb2.SeekRequest(channel=net.profile.channel, start=0, stop=0))
        ok, told = _expect(lambda: next(orderer_pb2_grpc.OrdererStub(ch).Deliver(seek, timeout=10)),
                           {grpc.StatusCode.PERMISSION_DENIED}, "may not read full blocks through Deliver")
        cases.append(Case("patient reads full blocks through Orderer.Deliver", ok, told[:200]))
    return cases


_ABANDON = """
import os, sys, time
from pathlib import Path
import grpc
from careledger.network.config import Layout, Profile
from careledger.network.identity.signing import Signer
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc
directory, peer_id, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
layout, profile = Layout(directory), Profile.load(directory)
node = profile.node(peer_id)
signer = Signer.from_dir(layout.identity_dir(node.org, "admin"))
creds = grpc.ssl_channel_credentials(layout.ca_cert(node.org).read_bytes(),
    (layout.identity_dir(node.org, "admin") / "key.pem").read_bytes(), signer.cert_pem)
channels = [grpc.secure_channel(node.address, creds) for _ in range(10)]
calls = []
for i in range(count):
    payload = gateway_pb2.ChaincodeEventsRequest(channel=profile.channel, contract="basic",
                                                 identity=signer.cert_pem, start_block=0).SerializeToString()
    stub = gateway_pb2_grpc.GatewayStub(channels[i % len(channels)])
    calls.append(stub.ChaincodeEvents(common_pb2.Signed(payload=payload, signature=signer.sign(payload))))
print("opened", len(calls), flush=True)
sys.stdin.readline()
os._exit(0)  # gone without cancelling a single stream
"""


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def abandoned_streams(net: LocalNetwork, contract: Contract, count: int = 500) -> list[Case]:
    """A client opens `count` ChaincodeEvents streams and vanishes; the peer must serve afterwards."""
    node = net.profile.peers_of("hospital")[0]
    pid = next(s.pid or 0 for s in launcher.status(net.directory) if s.id == node.id)
    threads_before = _threads(pid)
    client = subprocess.Popen([sys.executable, "-c", _ABANDON, str(net.directory), node.id, str(count)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        opened = (client.stdout.readline() if client.stdout else "").strip()
        time.sleep(1.0)
        healthy_while_held = serving(net, node)
        threads_held = _threads(pid)
    finally:
        if client.stdin:
            client.stdin.close()
        client.wait(timeout=30)
    dropped = time.monotonic()
    while not serving(net, node) and time.monotonic() - dropped < 60:
        time.sleep(0.05)
    recovery = time.monotonic() - dropped
    try:
        served = contract.submit_async("create_asset", f"after-{uuid.uuid4().hex[:8]}", "x", "1").get_status()
        ok = served.successful
    except GatewayError:
        ok = False
    held = (f"{opened}; peer threads {threads_before} -> {threads_held}; health check "
            f"{'SERVING' if healthy_while_held else 'not answered'} while they were held")
    after = f"serving and committing again {recovery:.1f}s after the client vanished"
    return [Case(f"{count} ChaincodeEvents streams held open: peer stays healthy", healthy_while_held, held),
            Case(f"{count} ChaincodeEvents streams abandoned: peer serves afterwards", ok and recovery < 30,
                 after, recovery=recovery)]


def new_cases(net: LocalNetwork, streams: int = 500) -> list[Case]:
    """Every bad input the end-to-end suite did not cover, against `net`."""
    with net.connect("hospital:admin") as gw:
        contract = gw.get_network(net.profile.channel).get_contract("basic")
        return [*truncated_protobuf(net, contract), *rogue_endorsements(net, contract),
                *huge_arguments(net, contract), *control_character_keys(net, contract),
                *requests_out_of_shape(net, contract), *tls_without_a_member_certificate(net, contract),
                *patient_reads_full_blocks(net, contract), *abandoned_streams(net, contract, streams)]
