"""A certificate revoked by a channel configuration update is refused by every service that takes a
signed request, even though TLS still accepts it (gRPC's TLS checks only the issuing CA): an extra
hospital admin, which every service would serve, works before the update and afterwards is refused
PERMISSION_DENIED, naming the identity and its serial, by the gateway (Evaluate, also when sent on
to another org's peer; Endorse; Submit of a transaction it endorsed before; CommitStatus;
ChaincodeEvents; BlockEvents), the peer's Query, Lifecycle install and record store, and the
orderer's Broadcast and Deliver; its ChaincodeEvents, BlockEvents and Deliver streams opened before
the update end at the next block the same way; the ledger is unchanged by all of it (issue 13).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from clijson import cli as run_cli
from clijson import deliver, heights, ok
from cryptography import x509

from careledger.gateway import Gateway, GatewayError, Transaction
from careledger.gateway.commit import Commit
from careledger.gateway.records import connect_local_records
from careledger.network.identity.signing import Signer
from careledger.network.local import lifecycleclient
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc


def cli(net: LocalNetwork, *args: str) -> dict:
    return ok(run_cli(net.directory, *args))


def broadcast(net: LocalNetwork, who: str, envelope: bytes) -> orderer_pb2.BroadcastResponse:
    """Send a transaction straight to the orderer, signed as ORG:USER."""
    org, _, user = who.partition(":")
    signer = Signer.from_dir(net.layout.identity_dir(org, user))
    env = common_pb2.Envelope.FromString(envelope)
    signed = common_pb2.Envelope(payload=env.payload, signature=signer.sign(env.payload))
    with net.channel(net.profile.orderers[0].id, who) as channel:
        response: orderer_pb2.BroadcastResponse = orderer_pb2_grpc.OrdererStub(channel).Broadcast(
            signed, timeout=20)
        return response


def follow(items: Iterable[object]) -> queue.Queue[object]:
    """What a stream yields, read on a thread of its own, ending with the exception that ended it."""
    found: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            for item in items:
                found.put(item)
        except (GatewayError, grpc.RpcError) as exc:
            found.put(exc)

    threading.Thread(target=read, daemon=True).start()
    return found


def followed_until(found: queue.Queue[object], done: Callable[[object], bool],
                   seconds: float) -> list[object]:
    """What a followed stream gave until `done` held of an item, or `seconds` passed."""
    seen: list[object] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            seen.append(found.get(timeout=0.2))
        except queue.Empty:
            continue
        if done(seen[-1]):
            break
    return seen


@dataclass(frozen=True)
class Revoked:
    """An admin of hospital revoked by a committed configuration update, and what it did before."""

    who: str  # ORG:USER
    name: str
    gateway: Gateway  # connected before the update, as a long-running client would be
    serial: str
    asset: str  # an asset it created, committed VALID
    commit: Commit  # that transaction's commit, signed by it
    kept: Transaction  # a transaction it endorsed before the update but did not submit
    heights: dict[str, int]  # every peer's height once the update committed
    events: queue.Queue[object]  # its ChaincodeEvents stream of basic, opened before the update
    block_events: queue.Queue[object]  # its BlockEvents stream (block numbers), opened before the update
    blocks: queue.Queue[object]  # its Deliver stream from the orderer, opened before the update

    def refused(self, call: Callable[[], object], where: str) -> None:
        """`call` is refused PERMISSION_DENIED naming the identity, its serial and the revocation."""
        with pytest.raises((GatewayError, grpc.RpcError)) as err:
            call()
        self.names_the_revocation(err.value, where)

    def names_the_revocation(self, exc: BaseException, where: str) -> None:
        """exc is PERMISSION_DENIED naming the identity, its serial and the revocation."""
        assert isinstance(exc, (GatewayError, grpc.RpcError)), f"{where}: {exc!r}"
        code, text = (exc.code, str(exc)) if isinstance(exc, GatewayError) else (exc.code(), exc.details())
        assert code == grpc.StatusCode.PERMISSION_DENIED, f"{where}: {code} {text}"
        assert f"hospital/{self.name} (serial {self.serial}) was revoked" in text, f"{where}: {text}"


@pytest.fixture(scope="module")
def revoked(net: LocalNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Revoked]:
    name = f"opsadmin-{uuid.uuid4().hex[:6]}"
    who = f"hospital:{name}"
    cli(net, "crypto", "issue", "hospital", name, "--role", "admin")
    serial = format(x509.load_pem_x509_certificate(
        (net.identity_dir(who) / "cert.pem").read_bytes()).serial_number, "x")
    hospital_peer = net.profile.peers_of("hospital")[0].id

    # before the update the admin is served everywhere; it endorses one transaction it keeps
    gateway = net.connect(who)
    basic = gateway.get_network(net.profile.channel).get_contract("basic")
    asset = f"revoked-{uuid.uuid4().hex[:8]}"
    commit = basic.new_proposal("create_asset", [asset, "ward", "1"]).endorse().submit()
    assert commit.get_status().successful
    kept = basic.new_proposal("create_asset", [f"revoked-{uuid.uuid4().hex[:8]}", "ward", "2"]).endorse()
    assert json.loads(basic.evaluate_transaction("read_asset", asset))["owner"] == "ward"
    assert json.loads(basic.evaluate_transaction("read_asset", asset, target_orgs=["insurer"]))
    with QueryClient(net.directory, "hospital", name) as query:
        query.chain_info()
    assert deliver(net, who).header.number == 0
    lifecycleclient.installed(net.directory, hospital_peer, ("hospital", name))
    # streams it opened before the update, as a long-running listener would
    channel = gateway.get_network(net.profile.channel)
    events = follow(e.tx_id for e in channel.get_chaincode_events("basic"))
    block_events = follow(b.header.number for b in channel.get_block_events())
    signer = Signer.from_dir(net.identity_dir(who))
    seek = orderer_pb2.SeekRequest(channel=net.profile.channel, creator=signer.cert_pem, start=0,
                                   follow=True, stop=0).SerializeToString()
    orderer = net.channel(net.profile.orderers[0].id, who)
    blocks = follow(b.header.number for b in orderer_pb2_grpc.OrdererStub(orderer).Deliver(
        common_pb2.Signed(payload=seek, signature=signer.sign(seek))))

    # hospital revokes it by a configuration update signed by 2 of the 3 admins
    update = tmp_path_factory.mktemp("revoke") / "revoke.update"
    cli(net, "channel", "update", "--revoke", f"hospital={serial}", "--out", str(update))
    cli(net, "channel", "sign", str(update), "--as", "hospital/admin")
    cli(net, "channel", "sign", str(update), "--as", "insurer/admin")
    block = cli(net, "channel", "submit", str(update), "--as", "hospital/admin")["block"]
    deadline = time.monotonic() + 30
    while min(heights(net).values()) <= block:  # every peer has committed the update
        assert time.monotonic() < deadline, heights(net)
        time.sleep(0.2)
    yield Revoked(who, name, gateway, serial, asset, commit, kept, heights(net), events, block_events, blocks)
    gateway.close()
    orderer.close()


def test_a_revoked_certificate_is_refused_by_every_signed_request_path(
    net: LocalNetwork, revoked: Revoked
) -> None:
    refused, name = revoked.refused, revoked.name
    hospital_peer = net.profile.peers_of("hospital")[0].id
    network = revoked.gateway.get_network(net.profile.channel)
    basic = network.get_contract("basic")
    refused(lambda: basic.evaluate_transaction("read_asset", revoked.asset), "gateway Evaluate")
    refused(lambda: basic.submit_transaction("create_asset", f"revoked-{uuid.uuid4().hex[:8]}", "w", "3"),
            "gateway Endorse")
    refused(revoked.kept.submit, "gateway Submit of a transaction endorsed before the revocation")
    refused(revoked.commit.get_status, "gateway CommitStatus")
    refused(lambda: next(iter(network.get_chaincode_events("basic", start_block=0))),
            "gateway ChaincodeEvents")
    refused(lambda: next(iter(network.get_block_events(0))), "gateway BlockEvents")
    with net.connect(revoked.who) as gw:  # a connection made after the update: TLS still accepts it
        refused(lambda: gw.get_network(net.profile.channel).get_contract("basic").evaluate_transaction(
            "read_asset", revoked.asset), "gateway Evaluate on a new connection")
    with QueryClient(net.directory, "hospital", name) as query:
        refused(query.chain_info, "Query")
    refused(lambda: lifecycleclient.installed(net.directory, hospital_peer, ("hospital", name)),
            "Lifecycle QueryInstalled")
    refused(lambda: lifecycleclient.install(net.directory, hospital_peer, ("hospital", name), b"not read"),
            "Lifecycle install")
    with connect_local_records(net.directory, revoked.who) as records:
        refused(lambda: records.get("any-record", "any-access-tx"), "record store")
    refused(lambda: deliver(net, revoked.who), "orderer Deliver")
    refused(lambda: broadcast(net, revoked.who, revoked.kept.bytes()), "orderer Broadcast")

    # nothing the revoked identity sent reached the ledger; what it did before still verifies
    assert heights(net) == revoked.heights
    with QueryClient(net.directory, "hospital") as admin:
        assert admin.transaction(revoked.commit.tx_id).validation_code == common_pb2.VALID


def test_an_evaluate_sent_on_to_another_orgs_peer_keeps_that_peers_refusal(
    net: LocalNetwork, revoked: Revoked
) -> None:
    basic = revoked.gateway.get_network(net.profile.channel).get_contract("basic")
    revoked.refused(lambda: basic.evaluate_transaction("read_asset", revoked.asset, target_orgs=["insurer"]),
                    "Evaluate at insurer's peer")


def test_streams_the_revoked_identity_opened_before_the_update_end_with_it(
    net: LocalNetwork, revoked: Revoked
) -> None:
    with net.connect("hospital:admin") as admin:
        basic = admin.get_network(net.profile.channel).get_contract("basic")
        after = basic.submit_async("create_asset", f"revoked-{uuid.uuid4().hex[:8]}", "ward", "4")
        block = after.get_status().block_number

    def ended(item: object) -> bool:
        return isinstance(item, Exception)

    events = followed_until(revoked.events, lambda e: ended(e) or e == after.tx_id, 10)
    block_events = followed_until(revoked.block_events, lambda b: ended(b) or b == block, 10)
    blocks = followed_until(revoked.blocks, lambda b: ended(b) or b == block, 10)
    assert after.tx_id not in events and block not in block_events and block not in blocks, (
        events, block_events, blocks)
    for stream in (events, block_events, blocks):
        assert stream and isinstance(stream[-1], Exception), stream
        revoked.names_the_revocation(stream[-1], "a stream opened before the update")
