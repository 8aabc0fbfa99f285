"""Contract: the functions of one deployed contract, called by name with string or bytes args."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from careledger.gateway.client import GatewayClient
from careledger.gateway.commit import SubmittedTransaction
from careledger.gateway.errors import CommitError
from careledger.gateway.proposal import Arg, Proposal, new_proposal


class Contract:
    """A contract on one channel; submit to change the ledger, evaluate to read it."""

    def __init__(self, client: GatewayClient, channel: str, name: str) -> None:
        self._client = client
        self.channel = channel
        self.name = name

    def new_proposal(
        self,
        name: str,
        args: Sequence[Arg] = (),
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> Proposal:
        """A proposal to call function name; step through evaluate or endorse/submit yourself."""
        return new_proposal(
            self._client, self.channel, self.name, name, args, transient, endorsing_orgs
        )

    def evaluate_transaction(
        self,
        name: str,
        *args: Arg,
        transient: Mapping[str, Arg] | None = None,
        target_orgs: Sequence[str] | None = None,
    ) -> bytes:
        """Run a read-only function on one peer and return its result; nothing is ordered."""
        return self.new_proposal(name, args, transient, target_orgs).evaluate()

    def submit_async(
        self,
        name: str,
        *args: Arg,
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> SubmittedTransaction:
        """Endorse and submit; returns at once with the result, get_status() waits for the block."""
        transaction = self.new_proposal(name, args, transient, endorsing_orgs).endorse()
        return SubmittedTransaction(transaction.submit(), transaction.result)

    def submit_transaction(
        self,
        name: str,
        *args: Arg,
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> bytes:
        """Endorse, submit and wait for a VALID commit; returns the result or raises CommitError."""
        submitted = self.submit_async(
            name, *args, transient=transient, endorsing_orgs=endorsing_orgs
        )
        status = submitted.get_status()
        if not status.successful:
            raise CommitError(status.tx_id, status.code, status.block_number)
        return submitted.result
