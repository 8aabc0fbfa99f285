"""A gateway peer sends proposals and envelopes in batches; a node of an older version, without the
batch calls (UNIMPLEMENTED), gets them one by one with the same per-item answers (a rolling upgrade)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import grpc

from careledger.network.peer.endorser import HEIGHT_KEY
from careledger.network.peer.gatewayservice import GatewayService
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc, peer_pb2_grpc


class OldEndorser(peer_pb2_grpc.EndorserServicer):
    """Only ProcessProposal: refuses proposals whose bytes say "bad", endorses the others."""

    async def ProcessProposal(self, request: common_pb2.SignedProposal, context: Any) -> Any:
        if request.proposal_bytes == b"bad":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not allowed")
        context.set_trailing_metadata(((HEIGHT_KEY, "7"),))
        return common_pb2.ProposalResponse(payload=b"endorsed " + request.proposal_bytes)


class OldOrderer(orderer_pb2_grpc.OrdererServicer):
    """Only Broadcast: refuses envelopes whose payload says "replay"."""

    async def Broadcast(self, request: common_pb2.Envelope, context: Any) -> Any:
        if request.payload == b"replay":
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "already in a block")
        return orderer_pb2.BroadcastResponse(status=200)


def test_an_old_node_gets_the_batch_one_by_one() -> None:
    async def run() -> None:
        server = grpc.aio.server()
        peer_pb2_grpc.add_EndorserServicer_to_server(OldEndorser(), server)
        orderer_pb2_grpc.add_OrdererServicer_to_server(OldOrderer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        gateway: Any = types.SimpleNamespace(
            _conn=types.SimpleNamespace(aio=lambda address: channel),
            _ledger=types.SimpleNamespace(height=5))
        try:
            answers = await GatewayService._send_proposals(gateway, "old-peer", [
                common_pb2.SignedProposal(proposal_bytes=b"good"),
                common_pb2.SignedProposal(proposal_bytes=b"bad")])
            (good, good_height), (bad, _) = answers
            assert (good.code, good.response.payload, good_height) == (0, b"endorsed good", 7)
            assert (grpc.StatusCode.PERMISSION_DENIED.value[0], "not allowed") == (bad.code, bad.message)
            outcomes = await GatewayService._send_envelopes(gateway, "old-orderer", [
                common_pb2.Envelope(payload=b"fresh"), common_pb2.Envelope(payload=b"replay")])
            assert [o.code for o in outcomes] == [0, grpc.StatusCode.ALREADY_EXISTS.value[0]]
            assert outcomes[1].message == "already in a block"
        finally:
            await channel.close()
            await server.stop(None)

    asyncio.run(run())
