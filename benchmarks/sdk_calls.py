"""Client CPU the asyncio SDK spends per request, without the network: µs to build and sign each.

    python benchmarks/sdk_calls.py [--count 3000] [--repeat 5]

benchmarks/throughput.py's clients share the cores with the servers, so the SDK's CPU per call
limits evaluate calls/s and committed tx/s; this times its own part with the real SDK objects and a
channel that answers at once (no gRPC, no I/O), so a change to building, signing or the call path
shows up here before it is lost in the noise of a full run. Each figure is process CPU time per
request, the minimum and median of --repeat runs of --count requests; "sign" is the ECDSA
signature alone, which every proposal and transaction needs once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from careledger.gateway import Identity, aio, signers
from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.client import Options, Peers
from careledger.protos import common_pb2, gateway_pb2

CHANNEL = "healthcare"


def _key_and_certificate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hospital"),
        x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _endorsed(certificate: bytes) -> gateway_pb2.EndorseResponse:
    """An EndorseResponse shaped like a gateway's: a prepared transaction with two endorsements."""
    proposal = common_pb2.Proposal(contract="basic", function="create_asset", args=[b"a1", b"alice", b"10"])
    proposal.header.channel = CHANNEL
    proposal.header.tx_id = "ab" * 32
    proposal.header.creator = certificate
    response = common_pb2.Response(status=200, payload=b"{}")
    payload = common_pb2.ProposalResponsePayload(
        proposal_hash=hashlib.sha256(proposal.SerializeToString()).digest(), response=response
    )
    transaction = common_pb2.Transaction(
        proposal=proposal.SerializeToString(), response_payload=payload.SerializeToString(),
        endorsements=[common_pb2.Endorsement(endorser=certificate, signature=b"s" * 71)] * 2,
    )
    return gateway_pb2.EndorseResponse(
        prepared_transaction=common_pb2.Envelope(payload=transaction.SerializeToString()), result=response
    )


class _AnsweringChannel:
    """Stands in for a grpc.aio channel: every unary call answers at once with a fixed response."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    def unary_unary(self, method: str, *args: object, **kwargs: object) -> Callable[..., Awaitable[Any]]:
        answer = self._answers.get(method.rsplit("/", 1)[1])  # None: a call no scenario makes

        async def call(request: object, timeout: float | None = None) -> Any:
            return answer

        return call

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None  # the stub's stream methods, never called here


def scenarios() -> dict[str, Callable[[], object]]:
    """Each scenario: one request (or signature) per call; coroutines are awaited by _time."""
    key_pem, certificate = _key_and_certificate()
    endorsed = _endorsed(certificate)
    committed = gateway_pb2.CommitStatusResponse(result=common_pb2.VALID)
    channel = _AnsweringChannel({
        "Evaluate": gateway_pb2.EvaluateResponse(result=common_pb2.Response(status=200, payload=b"{}")),
        "Endorse": endorsed,
        "Submit": gateway_pb2.SubmitResponse(commit=committed),
    })
    signer = signers.new_private_key_signer(key_pem)
    client = AsyncGatewayClient(
        Peers(["answering:0"], lambda address: channel), Identity("hospital", certificate), signer, Options()
    )
    contract = aio.Gateway(client).get_network(CHANNEL).get_contract("basic")
    digest = hashlib.sha256(b"digest").digest()
    args = ("a1", "alice", "10")

    def submit_request() -> None:
        proposal = contract.new_proposal("create_asset", args)
        aio.Transaction(client, proposal._endorsed(endorsed))._submit_call(wait_for_commit=True)

    return {
        "sign": lambda: signer(digest),
        "new_proposal": lambda: contract.new_proposal("read_asset", ("a1",)),
        "evaluate request": lambda: contract.new_proposal("read_asset", ("a1",))._evaluate_request(),
        "endorse request": lambda: contract.new_proposal("create_asset", args)._endorse_request(),
        "proposal+submit request": submit_request,
        "evaluate_transaction": lambda: contract.evaluate_transaction("read_asset", "a1"),
        "submit_transaction": lambda: contract.submit_transaction("create_asset", *args),
    }


async def _time(request: Callable[[], object], count: int) -> float:
    """Process CPU µs per request over count requests."""
    start = time.process_time()
    for _ in range(count):
        made = request()
        if asyncio.iscoroutine(made):
            await made
    return (time.process_time() - start) / count * 1e6


async def run(count: int, repeat: int) -> list[tuple[str, float, float]]:
    """(scenario, min µs, median µs) for every scenario."""
    rows = []
    for name, request in scenarios().items():
        times = [await _time(request, count) for _ in range(repeat)]
        rows.append((name, min(times), statistics.median(times)))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="requests per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario")
    args = parser.parse_args(argv)
    print(f"{'µs per request':26s} {'min':>7s} {'median':>7s}")
    for name, low, middle in asyncio.run(run(args.count, args.repeat)):
        print(f"{name:26s} {low:7.1f} {middle:7.1f}")


if __name__ == "__main__":
    main()
