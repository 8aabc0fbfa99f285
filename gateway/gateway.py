"""Gateway: the client's connection to one peer's Gateway service, for one identity."""

from __future__ import annotations

from types import TracebackType

import grpc

from careledger.gateway.client import DEFAULT_TIMEOUTS, GatewayClient, Timeouts
from careledger.gateway.commit import Commit
from careledger.gateway.identity import Identity, Signer
from careledger.gateway.network import Network
from careledger.gateway.proposal import Proposal
from careledger.gateway.transaction import Transaction


class Gateway:
    """A connection to a peer's gateway; close() it (or use `with`) to release the channel."""

    def __init__(self, channel: grpc.Channel, client: GatewayClient) -> None:
        self._channel = channel
        self._client = client

    @property
    def identity(self) -> Identity:
        """The identity every request is made as."""
        return self._client.identity

    def get_network(self, name: str) -> Network:
        """The channel called name."""
        return Network(self._client, name)

    def new_signed_proposal(self, data: bytes, signature: bytes) -> Proposal:
        """A Proposal from Proposal.bytes() with a signature made elsewhere over its digest()."""
        return Proposal.from_bytes(self._client, data, signature)

    def new_signed_transaction(self, data: bytes, signature: bytes) -> Transaction:
        """A Transaction from Transaction.bytes() with a signature made elsewhere."""
        return Transaction.from_bytes(self._client, data, signature)

    def new_signed_commit(self, data: bytes, signature: bytes) -> Commit:
        """A Commit from Commit.bytes() with a signature made elsewhere."""
        return Commit.from_bytes(self._client, data, signature)

    def close(self) -> None:
        """Close the gRPC channel; open event streams end."""
        self._channel.close()

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
    address: str,
    identity: Identity,
    signer: Signer | None = None,
    *,
    tls_root_certificates: bytes,
    server_name: str | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> Gateway:
    """Connect over TLS to the gateway at address; without a signer every step is signed offline."""
    credentials = grpc.ssl_channel_credentials(root_certificates=tls_root_certificates)
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    channel = grpc.secure_channel(address, credentials, options=options)
    return _connect_channel(channel, address, identity, signer, timeouts)


def _connect_channel(
    channel: grpc.Channel,
    address: str,
    identity: Identity,
    signer: Signer | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> Gateway:
    """A Gateway over an existing channel; the seam the unit tests use with an insecure channel."""
    return Gateway(channel, GatewayClient(channel, address, identity, signer, timeouts))
