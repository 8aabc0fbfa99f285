"""Gateway: the client's connection to one peer's Gateway service, for one identity."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Generic, TypeVar, Unpack

import grpc

from careledger.gateway.client import ClientBase, ConnectSettings, GatewayClient, secure_peers
from careledger.gateway.commit import Commit, CommitBase
from careledger.gateway.identity import Identity, Signer
from careledger.gateway.network import Network, NetworkBase
from careledger.gateway.proposal import Proposal, ProposalBase
from careledger.gateway.transaction import Transaction, TransactionBase

_Client = TypeVar("_Client", bound=ClientBase[Any])
_Network = TypeVar("_Network", bound=NetworkBase[Any, Any])
_Proposal = TypeVar("_Proposal", bound=ProposalBase[Any])
_Transaction = TypeVar("_Transaction", bound=TransactionBase[Any])
_Commit = TypeVar("_Commit", bound=CommitBase[Any])


class GatewayBase(Generic[_Client, _Network, _Proposal, _Transaction, _Commit]):
    """A connection to a peer's gateway for one identity; each SDK names its step classes."""

    _network_class: type[_Network]
    _proposal_class: type[_Proposal]
    _transaction_class: type[_Transaction]
    _commit_class: type[_Commit]

    def __init__(self, client: _Client) -> None:
        self._client = client

    @property
    def identity(self) -> Identity:
        """The identity every request is made as."""
        return self._client.identity

    def get_network(self, name: str) -> _Network:
        """The channel called name."""
        return self._network_class(self._client, name)

    def new_signed_proposal(self, data: bytes, signature: bytes) -> _Proposal:
        """A Proposal from Proposal.bytes() with a signature made elsewhere over its digest()."""
        return self._proposal_class.from_bytes(self._client, data, signature)

    def new_signed_transaction(self, data: bytes, signature: bytes) -> _Transaction:
        """A Transaction from Transaction.bytes() with a signature made elsewhere."""
        return self._transaction_class.from_bytes(self._client, data, signature)

    def new_signed_commit(self, data: bytes, signature: bytes) -> _Commit:
        """A Commit from Commit.bytes() with a signature made elsewhere."""
        return self._commit_class.from_bytes(self._client, data, signature)


class Gateway(GatewayBase[GatewayClient, Network, Proposal, Transaction, Commit]):
    """A connection of the blocking SDK; close() it (or use `with`) to release the channels."""

    _network_class = Network
    _proposal_class = Proposal
    _transaction_class = Transaction
    _commit_class = Commit

    def close(self) -> None:
        """Close the gRPC channels; open event streams end."""
        self._client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    address: str, identity: Identity, signer: Signer | None = None, **settings: Unpack[ConnectSettings]
) -> Gateway:
    """Connect over TLS to the gateway at address; without a signer every step is signed offline.

    Keywords (ConnectSettings): tls_root_certificates (required), server_name, timeouts,
    fallback_addresses (peers event streams move to), retry_mvcc, reconnect.
    """
    peers, options = secure_peers(grpc.secure_channel, address, settings)
    return Gateway(GatewayClient(peers, identity, signer, options))

