"""Network for asyncio: contracts and chaincode events of one channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from careledger.gateway.aio.chaincodeevents import ChaincodeEvents
from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.contract import Contract
from careledger.gateway.client import CHAIN_HEIGHT
from careledger.gateway.network import NetworkBase

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint


class Network(NetworkBase[AsyncGatewayClient, Contract]):
    """A channel reached through the gateway; its contracts' calls are awaited."""

    _contract_class = Contract

    async def get_chaincode_events(
        self, contract_name: str, start_block: int | None = None, after_tx_id: str | None = None,
        *, checkpoint: Checkpoint | None = None,
    ) -> ChaincodeEvents:
        """Await the events of contract_name, positioned like the blocking
        Network.get_chaincode_events; iterate them with `async for`."""
        cursor = self._cursor(contract_name, start_block, after_tx_id, checkpoint)
        if not cursor.pinned:
            cursor.pin(await self._client.call(CHAIN_HEIGHT, cursor.height_request(), ""))
        return ChaincodeEvents(cursor)
