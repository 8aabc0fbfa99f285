"""Transaction for asyncio: the shared TransactionBase with an awaitable submit()."""

from __future__ import annotations

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.commit import Commit
from careledger.gateway.client import SUBMIT
from careledger.gateway.transaction import TransactionBase


class Transaction(TransactionBase[AsyncGatewayClient]):
    """An endorsed transaction; await submit() to hand it to the orderer."""

    async def submit(self) -> Commit:
        """Send the signed transaction to the orderer; the Commit tells how it was validated."""
        await self._client.call(SUBMIT, self._submit_request(), self.tx_id)
        return Commit(self._client, self._commit_request())
