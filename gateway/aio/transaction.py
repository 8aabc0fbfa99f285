"""Transaction for asyncio: the shared TransactionBase with an awaitable submit()."""

from __future__ import annotations

import asyncio

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.commit import Commit
from careledger.gateway.commit import Status
from careledger.gateway.errors import SubmitError
from careledger.gateway.transaction import TransactionBase
from careledger.protos import gateway_pb2


class Transaction(TransactionBase[AsyncGatewayClient]):
    """An endorsed transaction; await submit() to hand it to the orderer."""

    async def submit(self) -> Commit:
        """Send the signed transaction to the orderer (again, with the same tx id, when the
        outcome was ambiguous); the Commit tells how it was validated."""
        await self._send(wait_for_commit=False)
        return Commit(self._client, self._commit_request())

    async def _submit_and_wait(self) -> Status:
        """Submit and wait for the commit in one call, as Contract.submit_transaction does; asks
        CommitStatus, as get_status() does, when that wait ran out or the gateway does not wait."""
        commit = Commit(self._client, self._commit_request())
        status = commit._answered(await self._send(wait_for_commit=True))
        return status if status is not None else await commit.get_status()

    async def _send(self, wait_for_commit: bool) -> gateway_pb2.SubmitResponse | None:
        """Submit's answer, the same envelope sent again while the outcome is ambiguous; None
        when CommitStatus must tell (see _retry_submit)."""
        stage, request = self._submit_call(wait_for_commit)
        attempt = 0
        while True:
            try:
                return await self._client.call(stage, request, self.tx_id)
            except SubmitError as err:
                wait = self._retry_submit(err, attempt, wait_for_commit)
                if wait is None:
                    return None
                await asyncio.sleep(wait)
                attempt += 1
