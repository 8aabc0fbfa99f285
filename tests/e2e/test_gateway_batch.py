"""Concurrent calls of one application share Batch RPCs, and each call keeps its own answer.

The asyncio SDK sends the calls that pile up while an earlier one is unanswered in one Batch; the
gateway peer must answer each exactly as its own RPC: a refused call refuses only itself, with
the same status and message, and never changes the ledger for the others.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import grpc
import pytest
from test_bad_input import ledger_unchanged
from test_operations import metric

from careledger.gateway import Contract, EndorseError, EvaluateError, aio
from careledger.network.local.testing import LocalNetwork
from careledger.protos import common_pb2, gateway_pb2, gateway_pb2_grpc


def new_id() -> str:
    return f"batch-{uuid.uuid4().hex[:12]}"


def batched(net: LocalNetwork, kind: str) -> float:
    """How many calls of kind the hospital's gateway has received inside a Batch so far."""
    peer = net.profile.peers_of("hospital")[0]
    with urllib.request.urlopen(f"http://{peer.host}:{peer.ops_port}/metrics", timeout=5) as reply:
        return metric(reply.read().decode(), "careledger_gateway_batched_calls_total", f'kind="{kind}"')


def run_aio(net: LocalNetwork, body):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with aio.connect_local(net.directory, "hospital:admin") as gateway:
            return await body(gateway.get_network(net.profile.channel).get_contract("basic"))

    return asyncio.run(main())


def test_concurrent_evaluates_share_batches_and_a_refused_one_fails_alone(
    net: LocalNetwork, hospital: Contract
) -> None:
    present, missing = new_id(), new_id()
    hospital.submit_transaction("create_asset", present, "batched", "1")
    with pytest.raises(EvaluateError) as alone:
        hospital.evaluate_transaction("read_asset", missing)
    before = batched(net, "evaluate")

    async def body(contract: aio.Contract) -> list[object]:
        calls = [contract.evaluate_transaction("read_asset", missing if i % 5 == 4 else present)
                 for i in range(20)]
        return await asyncio.gather(*calls, return_exceptions=True)

    answers = run_aio(net, body)
    assert batched(net, "evaluate") >= before + 2  # some calls went together
    for i, answer in enumerate(answers):
        if i % 5 == 4:  # refused exactly as the lone call was
            assert isinstance(answer, EvaluateError)
            assert answer.code == alone.value.code
            assert f"asset {missing} does not exist" in str(answer)
            assert answer.tx_id and answer.tx_id != alone.value.tx_id
        else:
            assert json.loads(answer)["owner"] == "batched"  # type: ignore[arg-type]


def test_concurrent_submits_share_batches_and_a_failed_endorsement_fails_alone(
    net: LocalNetwork, hospital: Contract
) -> None:
    taken = new_id()
    hospital.submit_transaction("create_asset", taken, "first", "1")
    ids = [new_id() for _ in range(12)]
    before = batched(net, "endorse")

    async def body(contract: aio.Contract) -> list[object]:
        calls = [contract.submit_transaction("create_asset", key, "batched", "2") for key in ids]
        calls.append(contract.submit_transaction("create_asset", taken, "second", "2"))
        return await asyncio.gather(*calls, return_exceptions=True)

    answers = run_aio(net, body)
    assert all(not isinstance(a, BaseException) for a in answers[:-1]), answers
    assert isinstance(answers[-1], EndorseError) and "already exists" in str(answers[-1])
    assert batched(net, "endorse") >= before + 2
    for key in ids:
        assert json.loads(hospital.evaluate_transaction("read_asset", key))["owner"] == "batched"
    assert json.loads(hospital.evaluate_transaction("read_asset", taken))["owner"] == "first"


def test_a_batch_answers_each_call_as_its_own_rpc_and_bad_calls_change_nothing(
    net: LocalNetwork, hospital: Contract
) -> None:
    present = new_id()
    hospital.submit_transaction("create_asset", present, "raw", "1")
    good = hospital.new_proposal("read_asset", [present])._evaluate_request()
    forged = gateway_pb2.EvaluateRequest()
    forged.CopyFrom(good)
    forged.proposed_transaction.signature = bytes(64)
    prepared = hospital.new_proposal("create_asset", [new_id(), "raw", "2"]).endorse()
    unsigned = gateway_pb2.SubmitRequest(
        tx_id=prepared.tx_id, channel=net.profile.channel,
        prepared_transaction=common_pb2.Envelope(payload=prepared.bytes(), signature=b"not a signature"))

    with net.channel("peer0.hospital") as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        singles = []
        for rpc, request in ((stub.Evaluate, forged), (stub.Submit, unsigned)):
            with pytest.raises(grpc.RpcError) as err:
                rpc(request, timeout=10)
            singles.append((err.value.code().value[0], err.value.details()))
        with ledger_unchanged(net):
            reply = stub.Batch(gateway_pb2.GatewayBatch(calls=[
                gateway_pb2.GatewayCall(evaluate=good),
                gateway_pb2.GatewayCall(),
                gateway_pb2.GatewayCall(evaluate=forged),
                gateway_pb2.GatewayCall(submit=unsigned),
            ]), timeout=10)
            outcomes = list(reply.outcomes)
            assert len(outcomes) == 4
            assert outcomes[0].code == 0
            assert json.loads(outcomes[0].evaluate.result.payload)["owner"] == "raw"
            assert outcomes[1].code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert "carries no request" in outcomes[1].message
            assert [(o.code, o.message) for o in outcomes[2:]] == singles
            assert all(not o.WhichOneof("response") for o in outcomes[1:])

            with pytest.raises(grpc.RpcError) as err:  # more calls than a batch may hold
                stub.Batch(gateway_pb2.GatewayBatch(calls=[gateway_pb2.GatewayCall()] * 257), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "at most 256" in err.value.details()
