"""Gateway for asyncio: connect and connect_local like the blocking SDK, over grpc.aio channels."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

import grpc

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.commit import Commit
from careledger.gateway.aio.network import Network
from careledger.gateway.aio.proposal import Proposal
from careledger.gateway.aio.transaction import Transaction
from careledger.gateway.client import ConnectSettings, GatewayOptions, secure_peers
from careledger.gateway.gateway import GatewayBase
from careledger.gateway.identity import Identity, Signer
from careledger.gateway.local import local_peer


class Gateway(GatewayBase[AsyncGatewayClient, Network, Proposal, Transaction, Commit]):
    """A connection to a peer's gateway; `await close()` it (or use `async with`)."""

    _network_class = Network
    _proposal_class = Proposal
    _transaction_class = Transaction
    _commit_class = Commit

    async def close(self) -> None:
        """Close the gRPC channels; open event streams end."""
        await self._client.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def connect(
    address: str, identity: Identity, signer: Signer | None = None, **settings: Unpack[ConnectSettings]
) -> Gateway:
    """Like careledger.gateway.connect, for asyncio; call it inside the running event loop."""
    peers, options = secure_peers(grpc.aio.secure_channel, address, settings)
    return Gateway(AsyncGatewayClient(peers, identity, signer, options))


def connect_local(
    directory: Path | str,
    who: str = "hospital:admin",
    *,
    peer: str | None = None,
    **options: Unpack[GatewayOptions],
) -> Gateway:
    """Like careledger.gateway.connect_local, for asyncio."""
    local = local_peer(directory, who, peer, options)
    return connect(local.address, local.identity, local.signer, **local.settings)
