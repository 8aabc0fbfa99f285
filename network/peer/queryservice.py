"""Read-only ledger queries for admins and tools: chain info, a block, a transaction by id.

Chain info is for every member; whole blocks only for the roles in access.query (readers.py);
a transaction for those roles, and for every member that created it.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from careledger.network.config import FULL_BLOCK_READERS
from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import protoutil
from careledger.network.ledger.channelconfig import CONFIG_KEY, CONFIG_NAMESPACE
from careledger.network.node import readers as access
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.network.peer.ledger import Ledger
from careledger.protos import common_pb2, config_pb2, query_pb2, query_pb2_grpc


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(self, channel: str, membership: Membership, ledger: Ledger,
                 readers: Sequence[str] = FULL_BLOCK_READERS) -> None:
        self._channel = channel
        self._membership = membership
        self._ledger = ledger
        self._readers = readers  # may follow the channel configuration in force (LiveRoles)

    def _open(self, request: common_pb2.Signed) -> tuple[query_pb2.QueryRequest, Identity]:
        req, who = open_signed(request, query_pb2.QueryRequest, self._membership)
        if req.channel != self._channel:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"no channel {req.channel!r} on this peer; it serves {self._channel!r}",
            )
        return req, who

    @unary
    def GetChainInfo(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> query_pb2.ChainInfo:
        self._open(request)
        height = self._ledger.height
        info = query_pb2.ChainInfo(height=height)
        if height:
            header = self._ledger.header(height - 1)
            info.current_block_hash = protoutil.header_hash(header)
            info.previous_block_hash = header.previous_hash
        return info

    @unary
    def GetCommitInfo(self, request: common_pb2.Signed,
                      context: grpc.ServicerContext) -> query_pb2.CommitInfo:
        """This peer's commit hash, state digest and header hash at a block (any member may ask:
        hashes only); a peer joining from a snapshot checks the snapshot against them."""
        req, _ = self._open(request)
        record = self._ledger.state.commit_record(req.block_number)
        if req.block_number >= self._ledger.height or record is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"no commit record for block {req.block_number} on this peer; its height is "
                               f"{self._ledger.height}")
        return query_pb2.CommitInfo(block_number=req.block_number, commit_hash=record.commit_hash,
                                    state_digest=record.state_digest,
                                    header_hash=protoutil.header_hash(self._ledger.header(req.block_number)))

    @unary
    def GetChannelConfig(self, request: common_pb2.Signed,
                         context: grpc.ServicerContext) -> config_pb2.ChannelConfig:
        """The channel configuration in force on this peer (for the roles of access.query)."""
        _, who = self._open(request)
        access.require_full_blocks(
            self._readers, who, "Query.GetChannelConfig", "query",
            "Ask an organisation admin for the channel configuration.")
        found = self._ledger.state.get_state(CONFIG_NAMESPACE, CONFIG_KEY)
        if found is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"no channel configuration committed on this peer yet (height "
                               f"{self._ledger.height}); it commits the genesis block first")
        return config_pb2.ChannelConfig.FromString(found[0])

    @unary
    def GetBlock(self, request: common_pb2.Signed, context: grpc.ServicerContext) -> common_pb2.Block:
        req, who = self._open(request)
        access.require_full_blocks(
            self._readers, who, "Query.GetBlock", "query",
            "Ask the gateway for filtered block events (block number, tx ids, validation codes), "
            "or GetTransaction for a transaction you created.")
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
        req, who = self._open(request)
        found = self._ledger.tx_status(req.tx_id)
        if found is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"transaction {req.tx_id} is not in the ledger of this peer"
            )
        code, block_num = found
        tx = protoutil.find_transaction(self._ledger.get_block(block_num), req.tx_id, code)
        if tx is not None:
            creator = tx[2].header.creator
            if creator != who.cert_pem and not access.reads_full_blocks(self._readers, who):
                raise RequestError(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"transaction {req.tx_id} was not created by {access.describe(who)}; a member "
                    f"reads only its own transactions in full (others: {', '.join(self._readers)}"
                    "; access.query in the network config)",
                )
            return query_pb2.ProcessedTransaction(envelope=tx[0], validation_code=code,
                                                  block_number=block_num)
        raise RequestError(
            grpc.StatusCode.DATA_LOSS,
            f"transaction {req.tx_id} is indexed in block {block_num} but not found "
            "there; run `careledger ledger verify`",
        )

