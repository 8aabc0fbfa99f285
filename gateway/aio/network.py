"""Network for asyncio: contracts, chaincode events and blocks of one channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from careledger.gateway.aio.blockevents import BlockEvents, FilteredBlockEvents
from careledger.gateway.aio.chaincodeevents import ChaincodeEvents
from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.contract import Contract
from careledger.gateway.network import NetworkBase

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint
    from careledger.gateway.eventstream import EventCursor

_Item = TypeVar("_Item")


class Network(NetworkBase[AsyncGatewayClient, Contract]):
    """A channel reached through the gateway; its contracts' calls are awaited."""

    _contract_class = Contract

    async def get_chaincode_events(
        self, contract_name: str, start_block: int | None = None, after_tx_id: str | None = None,
        *, checkpoint: Checkpoint | None = None,
    ) -> ChaincodeEvents:
        """Await the events of contract_name, positioned like the blocking
        Network.get_chaincode_events; iterate them with `async for`."""
        return ChaincodeEvents(await self._pinned(self._chaincode_cursor(
            contract_name, start_block, after_tx_id, checkpoint)))

    async def get_block_events(
        self, start_block: int | None = None, *, checkpoint: Checkpoint | None = None
    ) -> BlockEvents:
        """Await the committed blocks, positioned like the blocking Network.get_block_events;
        iterate them with `async for`."""
        return BlockEvents(await self._pinned(self._block_cursor(start_block, checkpoint)))

    async def get_filtered_block_events(
        self, start_block: int | None = None, *, checkpoint: Checkpoint | None = None
    ) -> FilteredBlockEvents:
        """Await the filtered blocks, positioned like the blocking
        Network.get_filtered_block_events; iterate them with `async for`."""
        return FilteredBlockEvents(await self._pinned(self._filtered_block_cursor(start_block, checkpoint)))

    async def _pinned(self, cursor: EventCursor[_Item]) -> EventCursor[_Item]:
        if not cursor.pinned:
            cursor.pin(await self._client.call(cursor.height_stage, cursor.height_request(), ""))
        return cursor
