"""Network: one channel as the client sees it: its contracts and its chaincode events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from careledger.gateway.chaincodeevents import ChaincodeEvents, EventCursor
from careledger.gateway.client import CHAIN_HEIGHT, ClientBase, GatewayClient
from careledger.gateway.contract import Contract, ContractBase

if TYPE_CHECKING:
    from careledger.gateway.checkpointer import Checkpoint

_Client = TypeVar("_Client", bound=ClientBase[Any])
_Contract = TypeVar("_Contract", bound=ContractBase[Any, Any])


class NetworkBase(Generic[_Client, _Contract]):
    """A channel reached through the gateway."""

    _contract_class: type[_Contract]

    def __init__(self, client: _Client, name: str) -> None:
        self._client = client
        self.name = name

    def get_contract(self, name: str) -> _Contract:
        """The contract deployed on this channel under name."""
        return self._contract_class(self._client, self.name, name)

    def _cursor(
        self, contract: str, start_block: int | None, after_tx_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> EventCursor:
        return EventCursor(self._client, self.name, contract, start_block, after_tx_id, checkpoint)


class Network(NetworkBase[GatewayClient, Contract]):
    """A channel of the blocking SDK."""

    _contract_class = Contract

    def get_chaincode_events(
        self, contract_name: str, start_block: int | None = None, after_tx_id: str | None = None,
        *, checkpoint: Checkpoint | None = None,
    ) -> ChaincodeEvents:
        """Events of contract_name after the checkpoint if it has one, else from start_block
        (default: the next block) skipping those up to and including after_tx_id."""
        cursor = self._cursor(contract_name, start_block, after_tx_id, checkpoint)
        if not cursor.pinned:
            cursor.pin(self._client.call(CHAIN_HEIGHT, cursor.height_request(), ""))
        return ChaincodeEvents(cursor)
