"""Network: one channel as the client sees it: its contracts and its chaincode events."""

from __future__ import annotations

from careledger.gateway.chaincodeevents import ChaincodeEvents, open_chaincode_events
from careledger.gateway.client import GatewayClient
from careledger.gateway.contract import Contract


class Network:
    """A channel reached through the gateway."""

    def __init__(self, client: GatewayClient, name: str) -> None:
        self._client = client
        self.name = name

    def get_contract(self, name: str) -> Contract:
        """The contract deployed on this channel under name."""
        return Contract(self._client, self.name, name)

    def get_chaincode_events(
        self,
        contract_name: str,
        start_block: int | None = None,
        after_tx_id: str | None = None,
    ) -> ChaincodeEvents:
        """Events of contract_name from start_block (default: new blocks only), skipping those
        up to and including after_tx_id, so a listener can resume where it stopped."""
        return open_chaincode_events(
            self._client, self.name, contract_name, start_block, after_tx_id
        )
