"""Commit for asyncio: the shared CommitBase with an awaitable get_status()."""

from __future__ import annotations

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.client import COMMIT_STATUS
from careledger.gateway.commit import CommitBase, Status, WithResult


class Commit(CommitBase[AsyncGatewayClient]):
    """A submitted transaction; await get_status() for its validation code."""

    async def get_status(self) -> Status:
        """Wait for the transaction's block and return its validation code."""
        return self._status(await self._client.call(COMMIT_STATUS, self._signed(), self.tx_id))


class SubmittedTransaction(WithResult[AsyncGatewayClient], Commit):
    """What Contract.submit_async gives: the contract's result now, the status when awaited."""
