"""The asyncio SDK against the same fake gateway: same requests, errors, retries and resuming."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest
import test_gateway_sdk as sdk
from test_gateway_events import asked, block
from test_gateway_sdk import CHANNEL, FAST_RECONNECT, HOLD, IDENTITY, SIGNER

from careledger.gateway import (
    CommitError,
    EndorseError,
    EvaluateError,
    InMemoryCheckpointer,
    Timeouts,
    aio,
)
from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.client import Options, Peers
from careledger.protos import common_pb2, gateway_pb2

server, fake = sdk.server, sdk.fake  # the fake gateway's fixtures
_T = TypeVar("_T")


def run(address: str, body: Callable[[aio.Gateway], Awaitable[_T]], signer=SIGNER, **options) -> _T:
    """Run body with an asyncio gateway to address in a fresh event loop."""

    async def main() -> _T:
        peers = Peers([address], grpc.aio.insecure_channel)
        settings = Options(**({"reconnect": FAST_RECONNECT} | options))
        async with aio.Gateway(AsyncGatewayClient(peers, IDENTITY, signer, settings)) as gateway:
            return await body(gateway)

    return asyncio.run(main())


def test_offline_steps_send_the_same_requests_as_the_blocking_sdk(server, fake) -> None:
    with sdk._gateway(server[1]) as gw:
        proposal = gw.get_network(CHANNEL).get_contract("consent").new_proposal(
            "grant", args=("p1",), transient={"k": b"v"}, endorsing_orgs=["hospital"]
        )
        proposal.endorse().submit().get_status()
    blocking = list(fake.requests)
    fake.requests.clear()

    async def offline(gateway: aio.Gateway) -> None:
        signed = gateway.new_signed_proposal(proposal.bytes(), SIGNER(proposal.digest()))
        transaction = await signed.endorse()
        signed_tx = gateway.new_signed_transaction(transaction.bytes(), SIGNER(transaction.digest()))
        commit = await signed_tx.submit()
        status = await gateway.new_signed_commit(commit.bytes(), SIGNER(commit.digest())).get_status()
        assert status.successful and status.tx_id == proposal.tx_id

    run(server[1], offline, signer=None)
    assert fake.requests == blocking


def test_submit_and_evaluate_are_awaited(server, fake) -> None:
    async def calls(gateway: aio.Gateway) -> tuple[bytes, bytes]:
        contract = gateway.get_network(CHANNEL).get_contract("consent")
        return (
            await contract.submit_transaction("grant", "p1"),
            await contract.evaluate_transaction("read", "p1", target_orgs=["insurer"]),
        )

    assert run(server[1], calls) == (b"result:grant", b"p1")
    assert [stage for stage, _ in fake.requests] == ["Endorse", "Submit", "Evaluate"]
    assert fake.requests[1][1].wait_for_commit


@pytest.mark.parametrize("failures", [[grpc.StatusCode.DEADLINE_EXCEEDED], [grpc.StatusCode.UNAVAILABLE]])
def test_a_wait_that_ran_out_asks_commit_status_and_an_unavailable_one_is_sent_again(
    server, fake, failures
) -> None:
    fake.submit_failures = list(failures)
    fake.commit_code = common_pb2.ENDORSEMENT_POLICY_FAILURE

    async def submit(gateway: aio.Gateway) -> bytes:
        return await gateway.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")

    with pytest.raises(CommitError, match="ENDORSEMENT_POLICY_FAILURE"):
        run(server[1], submit)
    asked = "CommitStatus" if failures == [grpc.StatusCode.DEADLINE_EXCEEDED] else "Submit"
    assert [stage for stage, _ in fake.requests] == ["Endorse", "Submit", asked]


def test_retry_mvcc_re_endorses_with_new_tx_ids_and_stays_bounded(server, fake) -> None:
    fake.commit_codes = [common_pb2.MVCC_READ_CONFLICT] * 3

    async def submit(gateway: aio.Gateway) -> bytes:
        return await gateway.get_network(CHANNEL).get_contract("consent").submit_transaction("grant")

    with pytest.raises(CommitError, match="MVCC_READ_CONFLICT"):
        run(server[1], submit, retry_mvcc=2)
    tx_ids = [request.tx_id for stage, request in fake.requests if stage == "Endorse"]
    assert len(tx_ids) == len(set(tx_ids)) == 3


def test_errors_name_the_stage_tx_id_and_the_peers_answers(server, fake) -> None:
    fake.endorse_failure = gateway_pb2.ErrorDetails(
        details=[gateway_pb2.ErrorDetail(address="127.0.0.1:9051", org="insurer", message="denied")]
    )
    fake.evaluate_delay = 0.3

    async def endorse(gateway: aio.Gateway) -> None:
        await gateway.get_network(CHANNEL).get_contract("claims").new_proposal("approve").endorse()

    async def evaluate(gateway: aio.Gateway) -> bytes:
        return await gateway.get_network(CHANNEL).get_contract("consent").evaluate_transaction("r")

    with pytest.raises(EndorseError) as endorse_error:
        run(server[1], endorse)
    assert str(endorse_error.value).startswith("endorsement policy not satisfied")
    assert [(d.org, d.message) for d in endorse_error.value.details] == [("insurer", "denied")]
    with pytest.raises(EvaluateError, match=r"evaluate of transaction \w+ exceeded .*Timeouts\.evaluate"):
        run(server[1], evaluate, timeouts=Timeouts(evaluate=0.05))


def test_async_for_resumes_after_the_peer_goes_away_and_honours_the_checkpoint(server, fake) -> None:
    fake.streams = [[block(4, "t1", "t2"), grpc.StatusCode.UNAVAILABLE], [block(5, "t3")]]

    async def listen(gateway: aio.Gateway) -> list[str]:
        network = gateway.get_network(CHANNEL)
        checkpoint = InMemoryCheckpointer(4, "t0")
        async with await network.get_chaincode_events("basic", checkpoint=checkpoint) as events:
            return [event.tx_id async for event in events]

    assert run(server[1], listen) == ["t1", "t2", "t3"]
    assert asked(fake) == [(4, "t0"), (4, "t2")]


def test_close_ends_an_async_stream_waiting_for_blocks(server, fake) -> None:
    fake.streams = [[block(1, "t1"), HOLD]]
    fake.height = 1

    async def listen(gateway: aio.Gateway) -> list[str]:
        events = await gateway.get_network(CHANNEL).get_chaincode_events("basic")
        asyncio.get_running_loop().call_later(0.2, events.close)
        return [event.tx_id async for event in events]

    assert run(server[1], listen) == ["t1"]
    assert asked(fake) == [(1, "")]


def test_concurrent_calls_to_a_gateway_without_batch_go_one_by_one(server, fake) -> None:
    # The fake gateway has no Batch RPC (an older peer): UNIMPLEMENTED, then each call alone.
    async def many(gateway: aio.Gateway) -> list[bytes]:
        contract = gateway.get_network(CHANNEL).get_contract("consent")
        reads = [contract.evaluate_transaction("read", f"p{i}") for i in range(5)]
        writes = [contract.submit_transaction("grant", f"p{i}") for i in range(3)]
        return list(await asyncio.gather(*reads, *writes))

    answers = run(server[1], many)
    assert answers == [f"p{i}".encode() for i in range(5)] + [b"result:grant"] * 3
    stages = [stage for stage, _ in fake.requests]
    assert stages.count("Evaluate") == 5 and stages.count("Endorse") == 3 and stages.count("Submit") == 3
