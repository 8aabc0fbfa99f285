"""Network: one channel as the client sees it: its contracts, its chaincode events and its blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from careledger.gateway.blockevents import (
    BlockEvents,
    BlockFeed,
    FilteredBlockEvents,
    FilteredBlockFeed,
)
from careledger.gateway.chaincodeevents import ChaincodeEvent, ChaincodeEventFeed, ChaincodeEvents
from careledger.gateway.client import ClientBase, GatewayClient, Stage
from careledger.gateway.contract import Contract, ContractBase
from careledger.gateway.errors import EvaluateError
from careledger.gateway.eventstream import EventCursor
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, config_pb2, gateway_pb2, query_pb2

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint

_Client = TypeVar("_Client", bound=ClientBase[Any])
_Contract = TypeVar("_Contract", bound=ContractBase[Any, Any])
_Item = TypeVar("_Item")

CHANNEL_CONFIG: Stage[common_pb2.Signed, config_pb2.ChannelConfig] = Stage(
    "channel config", "GetChannelConfig", EvaluateError, "evaluate", query=True
)


class NetworkBase(Generic[_Client, _Contract]):
    """A channel reached through the gateway."""

    _contract_class: type[_Contract]

    def __init__(self, client: _Client, name: str) -> None:
        self._client = client
        self.name = name

    def get_contract(self, name: str) -> _Contract:
        """The contract deployed on this channel under name."""
        return self._contract_class(self._client, self.name, name)

    def _chaincode_cursor(
        self, contract_name: str, start_block: int | None, after_tx_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> EventCursor[ChaincodeEvent]:
        feed = ChaincodeEventFeed(contract_name)
        return EventCursor(self._client, self.name, feed, start_block, after_tx_id, checkpoint)

    def _block_cursor(
        self, start_block: int | None, checkpoint: Checkpoint | None
    ) -> EventCursor[common_pb2.Block]:
        return EventCursor(self._client, self.name, BlockFeed(self.name), start_block, None, checkpoint)

    def _filtered_block_cursor(
        self, start_block: int | None, checkpoint: Checkpoint | None
    ) -> EventCursor[gateway_pb2.FilteredBlock]:
        feed = FilteredBlockFeed(self.name)
        return EventCursor(self._client, self.name, feed, start_block, None, checkpoint)  # type: ignore[arg-type]

class Network(NetworkBase[GatewayClient, Contract]):
    """A channel of the blocking SDK."""

    _contract_class = Contract

    def get_chaincode_events(
        self, contract_name: str, start_block: int | None = None, after_tx_id: str | None = None,
        *, checkpoint: Checkpoint | None = None,
    ) -> ChaincodeEvents:
        """Events of contract_name after the checkpoint if it has one, else from start_block
        (default: the next block) skipping those up to and including after_tx_id."""
        return ChaincodeEvents(self._pinned(self._chaincode_cursor(
            contract_name, start_block, after_tx_id, checkpoint)))

    def get_block_events(
        self, start_block: int | None = None, *, checkpoint: Checkpoint | None = None
    ) -> BlockEvents:
        """Committed blocks from the checkpoint's block if it has one, else from start_block
        (default: the next block); record each processed one with checkpoint_block."""
        return BlockEvents(self._pinned(self._block_cursor(start_block, checkpoint)))

    def get_filtered_block_events(
        self, start_block: int | None = None, *, checkpoint: Checkpoint | None = None
    ) -> FilteredBlockEvents:
        """Like get_block_events, but each block as every member may read it: its number and
        each transaction's id and validation code (full blocks need a reader role)."""
        return FilteredBlockEvents(self._pinned(self._filtered_block_cursor(start_block, checkpoint)))

    def get_channel_config(self) -> config_pb2.ChannelConfig:
        """The channel configuration in force on the gateway's peer; for the roles that read
        full blocks (access.query: by default peers, orderers, admins, auditors)."""
        request = query_pb2.QueryRequest(channel=self.name, creator=self._client.identity.certificate)
        payload = request.SerializeToString(deterministic=True)
        sign = self._client.require_signer("a channel configuration query")
        signed = common_pb2.Signed(payload=payload, signature=sign(sha256(payload)))
        return self._client.call(CHANNEL_CONFIG, signed, "")

    def _pinned(self, cursor: EventCursor[_Item]) -> EventCursor[_Item]:
        if not cursor.pinned:
            cursor.pin(self._client.call(cursor.height_stage, cursor.height_request(), ""))
        return cursor
