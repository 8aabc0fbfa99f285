"""The asyncio RPC layer: ClientBase's signing, stubs and error mapping over grpc.aio channels."""

from __future__ import annotations

from typing import TypeVar

import grpc

from careledger.gateway.client import ClientBase, Stage

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


class AsyncGatewayClient(ClientBase[grpc.aio.Channel]):
    """The asyncio client: each call is awaited."""

    async def call(self, stage: Stage[_Request, _Response], request: _Request, tx_id: str) -> _Response:
        """Await the unary call of stage and return its answer, or raise the stage's error."""
        method, timeout = self._start(stage, tx_id)
        try:
            response: _Response = await method(request, timeout=timeout)
        except grpc.RpcError as err:
            raise self.rpc_error(err, stage, tx_id, timeout) from err
        return response

    async def close(self) -> None:
        """Close every channel; open event streams end."""
        for channel in self.peers.opened():
            await channel.close()
