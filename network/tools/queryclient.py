"""A client for a peer's Query service: chain info, blocks and transactions, signed as an identity."""

from __future__ import annotations

from pathlib import Path

import grpc

from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.identity.tls import channel_credentials
from careledger.protos import common_pb2, query_pb2, query_pb2_grpc


class QueryClient:
    def __init__(self, directory: Path, org: str, user: str = "admin", peer: NodeInfo | None = None,
                 timeout: float = 10.0) -> None:
        layout = Layout(directory.resolve())
        self.profile = Profile.load(layout.root)
        self.peer = peer or self.profile.peers_of(org)[0]
        self._signer = Signer.from_dir(layout.identity_dir(org, user))
        roots = Membership.from_crypto_dir(layout.crypto, self.profile.orgs).ca_pems()
        # peers require mutual TLS: the identity's certificate is its TLS client certificate too
        self._channel = grpc.secure_channel(
            self.peer.address, channel_credentials(roots, layout.identity_dir(org, user)))
        self._stub = query_pb2_grpc.QueryStub(self._channel)
        self._timeout = timeout

    def _signed(self, **fields: object) -> common_pb2.Signed:
        req = query_pb2.QueryRequest(channel=self.profile.channel, creator=self._signer.cert_pem,
                                     **fields)  # type: ignore[arg-type]
        payload = req.SerializeToString()
        return common_pb2.Signed(payload=payload, signature=self._signer.sign(payload))

    def chain_info(self) -> query_pb2.ChainInfo:
        return self._stub.GetChainInfo(self._signed(), timeout=self._timeout)

    def block(self, number: int) -> common_pb2.Block:
        return self._stub.GetBlock(self._signed(block_number=number), timeout=self._timeout)

    def transaction(self, tx_id: str) -> query_pb2.ProcessedTransaction:
        return self._stub.GetTransaction(self._signed(tx_id=tx_id), timeout=self._timeout)

    def commit_info(self, number: int) -> query_pb2.CommitInfo:
        """The peer's commit hash, state digest and header hash at block `number`: peers that
        validated the same blocks alike agree on all three."""
        return self._stub.GetCommitInfo(self._signed(block_number=number), timeout=self._timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> QueryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
