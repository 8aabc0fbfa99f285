"""Transaction for asyncio: the shared TransactionBase with an awaitable submit()."""

from __future__ import annotations

import asyncio

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.commit import Commit
from careledger.gateway.client import SUBMIT
from careledger.gateway.errors import SubmitError
from careledger.gateway.transaction import SUBMIT_ATTEMPTS, TransactionBase


class Transaction(TransactionBase[AsyncGatewayClient]):
    """An endorsed transaction; await submit() to hand it to the orderer."""

    async def submit(self) -> Commit:
        """Send the signed transaction to the orderer (again, with the same tx id, when the
        outcome was ambiguous); the Commit tells how it was validated."""
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                await self._client.call(SUBMIT, self._submit_request(), self.tx_id)
                break
            except SubmitError as err:
                wait = self._retry_submit(err, attempt)
                if wait is None:
                    break
                await asyncio.sleep(wait)
        return Commit(self._client, self._commit_request())
