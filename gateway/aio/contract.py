"""Contract for asyncio: the same calls as the blocking Contract, each awaited."""

from __future__ import annotations

from careledger.gateway.aio.client import AsyncGatewayClient
from careledger.gateway.aio.commit import SubmittedTransaction
from careledger.gateway.aio.proposal import Proposal
from careledger.gateway.contract import ContractBase
from careledger.gateway.proposal import Arg, Orgs, Transient


class Contract(ContractBase[AsyncGatewayClient, Proposal]):
    """A contract on one channel; await submit_transaction to change the ledger, evaluate to read."""

    _proposal_class = Proposal

    async def evaluate_transaction(
        self, name: str, *args: Arg, transient: Transient = None, target_orgs: Orgs = None
    ) -> bytes:
        """The result of a read-only function run on one peer; nothing is ordered."""
        return await self.new_proposal(name, args, transient, target_orgs).evaluate()

    async def submit_async(
        self, name: str, *args: Arg, transient: Transient = None, endorsing_orgs: Orgs = None
    ) -> SubmittedTransaction:
        """Endorse and submit; await get_status() of the answer for the block's verdict."""
        transaction = await self.new_proposal(name, args, transient, endorsing_orgs).endorse()
        return SubmittedTransaction(await transaction.submit(), transaction.result)

    async def submit_transaction(
        self, name: str, *args: Arg, transient: Transient = None, endorsing_orgs: Orgs = None,
        retry_mvcc: int | None = None,
    ) -> bytes:
        """The result once committed VALID, else CommitError; the submit waits for the commit in
        the same call, like the blocking SDK's; read conflicts are retried with a new proposal up
        to retry_mvcc times (default: the gateway's option, 0)."""
        retries = self._retries(retry_mvcc)
        while True:
            transaction = await self.new_proposal(name, args, transient, endorsing_orgs).endorse()
            result = retries.outcome(transaction.result, await transaction._submit_and_wait())
            if result is not None:
                return result
