"""Read-only ledger queries for admins and tools: chain info, a block, a transaction by id."""

from __future__ import annotations

import grpc

from careledger.network.identity.membership import Membership
from careledger.network.ledger import protoutil
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.network.peer.ledger import Ledger
from careledger.protos import common_pb2, query_pb2, query_pb2_grpc


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(self, channel: str, membership: Membership, ledger: Ledger) -> None:
        self._channel = channel
        self._membership = membership
        self._ledger = ledger

    def _open(self, request: common_pb2.Signed) -> query_pb2.QueryRequest:
        req, _ = open_signed(request, query_pb2.QueryRequest, self._membership)
        if req.channel != self._channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"no channel {req.channel!r} on this peer; it serves {self._channel!r}",
            )
        return req

    @unary
    def GetChainInfo(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> query_pb2.ChainInfo:
        self._open(request)
        height = self._ledger.height
        info = query_pb2.ChainInfo(height=height)
        if height:
            header = self._ledger.get_block(height - 1).header
            info.current_block_hash = protoutil.header_hash(header)
            info.previous_block_hash = header.previous_hash
        return info

    @unary
    def GetBlock(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> common_pb2.Block:
        req = self._open(request)
        if req.block_number >= self._ledger.height:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"block {req.block_number} does not exist yet; height is {self._ledger.height}",
            )
        return self._ledger.get_block(req.block_number)

    @unary
    def GetTransaction(
        self, request: common_pb2.Signed, context: grpc.ServicerContext
    ) -> query_pb2.ProcessedTransaction:
        req = self._open(request)
        found = self._ledger.tx_status(req.tx_id)
        if found is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"transaction {req.tx_id} is not in the ledger of this peer"
            )
        code, block_num = found
        tx = protoutil.find_transaction(self._ledger.get_block(block_num), req.tx_id, code)
        if tx is not None:
            return query_pb2.ProcessedTransaction(envelope=tx[0], validation_code=code,
                                                  block_number=block_num)
        raise RequestError(
            grpc.StatusCode.DATA_LOSS,
            f"transaction {req.tx_id} is indexed in block {block_num} but not found "
            "there; run `careledger ledger verify`",
        )
