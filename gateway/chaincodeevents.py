"""Chaincode events: a stream of the events that committed (VALID) transactions of a contract emitted."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from types import TracebackType

import grpc

from careledger.gateway.client import GatewayClient
from careledger.gateway.identity import sha256
from careledger.protos import common_pb2, gateway_pb2


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a contract emitted, with the block and transaction that committed it."""

    block_number: int
    tx_id: str
    contract: str
    event_name: str
    payload: bytes


class ChaincodeEvents:
    """An iterator of ChaincodeEvent that blocks for new blocks; close() ends it."""

    def __init__(self, client: GatewayClient, call: grpc.Call) -> None:
        self._client = client
        self._call = call
        self._pending: deque[ChaincodeEvent] = deque()
        self._closed = False

    def __iter__(self) -> ChaincodeEvents:
        return self

    def __next__(self) -> ChaincodeEvent:
        while not self._pending:
            if self._closed:
                raise StopIteration
            try:
                response = next(self._call)
            except grpc.RpcError as err:
                if self._closed:
                    raise StopIteration from None
                raise self._client.events_error(err) from err
            self._pending.extend(
                ChaincodeEvent(
                    block_number=response.block_number,
                    tx_id=e.tx_id,
                    contract=e.contract,
                    event_name=e.event_name,
                    payload=e.payload,
                )
                for e in response.events
            )
        return self._pending.popleft()

    def close(self) -> None:
        """Cancel the stream; iteration then stops."""
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> ChaincodeEvents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_chaincode_events(
    client: GatewayClient,
    channel: str,
    contract: str,
    start_block: int | None = None,
    after_tx_id: str | None = None,
) -> ChaincodeEvents:
    """Sign a ChaincodeEventsRequest with the client's signer and open the stream."""
    request = gateway_pb2.ChaincodeEventsRequest(
        channel=channel,
        contract=contract,
        identity=client.identity.certificate,
        after_transaction_id=after_tx_id or "",
    )
    if start_block is not None:
        request.start_block = start_block
    payload = request.SerializeToString(deterministic=True)
    signature = client.sign_request(sha256(payload), f"chaincode events request for {contract}")
    call = client.chaincode_events(common_pb2.Signed(payload=payload, signature=signature))
    return ChaincodeEvents(client, call)
