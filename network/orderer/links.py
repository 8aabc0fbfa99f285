"""How an orderer reaches the other orderers of its channel: forward envelopes, fetch old blocks."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc

from careledger.network.config import NodeInfo, Profile
from careledger.network.identity.signing import Signer
from careledger.network.node.connections import Connections
from careledger.network.node.grpcutil import RequestError
from careledger.network.orderer.consensus.base import OrderingUnavailable
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc

log = logging.getLogger(__name__)

FORWARD_TIMEOUT = 20.0  # the leader answers once the block is in etcd (at most ORDER_WAIT)


class OrdererLinks:
    """gRPC to the other orderers, as this orderer's identity (mutual TLS, signed seeks)."""

    def __init__(self, profile: Profile, me: NodeInfo, signer: Signer, connections: Connections) -> None:
        self._profile = profile
        self._others = [n for n in profile.orderers if n.id != me.id]
        self._signer = signer
        self._conn = connections

    def _stub(self, node: NodeInfo) -> orderer_pb2_grpc.OrdererStub:
        return orderer_pb2_grpc.OrdererStub(self._conn.get(node.address))

    def forward(self, orderer_id: str, envelope: bytes) -> None:
        """Broadcast on the leader: its refusals pass through, unreachability is OrderingUnavailable."""
        node = self._profile.node(orderer_id)
        try:
            self._stub(node).Broadcast(common_pb2.Envelope.FromString(envelope), timeout=FORWARD_TIMEOUT)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise OrderingUnavailable(f"leader {orderer_id} at {node.address}: {exc.details()}") from exc
            raise RequestError(exc.code(), f"leader {orderer_id}: {exc.details()}") from exc

    def fetch(self, start: int, stop: int) -> Iterator[common_pb2.Block]:
        """Blocks start..stop-1 over Deliver, moving to the next orderer when one fails."""
        for node in self._others:
            if start >= stop:
                return
            seek = orderer_pb2.SeekRequest(channel=self._profile.channel, creator=self._signer.cert_pem,
                                           start=start, stop=stop - 1, follow=False)
            payload = seek.SerializeToString()
            request = common_pb2.Signed(payload=payload, signature=self._signer.sign(payload))
            try:
                for block in self._stub(node).Deliver(request, timeout=60):
                    yield block
                    start = block.header.number + 1
            except grpc.RpcError as exc:
                log.warning("fetching blocks %d..%d from orderer %s: %s %s", start, stop - 1, node.id,
                            exc.code().name, exc.details())
