"""Proposal for asyncio: the shared ProposalBase with awaitable evaluate() and endorse()."""

from __future__ import annotations

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.transaction import Transaction
from careledger.gateway.client import ENDORSE, EVALUATE
from careledger.gateway.proposal import ProposalBase


class Proposal(ProposalBase[AsyncGatewayClient]):
    """A proposal; await evaluate() to query, or endorse() to get a Transaction to submit."""

    async def evaluate(self) -> bytes:
        """Run the function on one peer of the target orgs and return its result; no ledger write."""
        response = await self._client.call(EVALUATE, self._evaluate_request(), self.tx_id)
        return self._evaluated(response)

    async def endorse(self) -> Transaction:
        """Have the policy's orgs endorse the proposal; returns the transaction to sign and submit."""
        endorsed = self._endorsed(await self._client.call(ENDORSE, self._endorse_request(), self.tx_id))
        return Transaction(self._client, endorsed)
