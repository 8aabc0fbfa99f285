"""Contract: the functions of one deployed contract, called by name with string or bytes args."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from careledger.gateway.client import ClientBase, GatewayClient
from careledger.gateway.commit import MvccRetries, SubmittedTransaction
from careledger.gateway.proposal import (
    Arg,
    Orgs,
    Proposal,
    ProposalBase,
    Transient,
    new_endorse_request,
)

_Client = TypeVar("_Client", bound=ClientBase[Any])
_Proposal = TypeVar("_Proposal", bound=ProposalBase[Any])


class ContractBase(Generic[_Client, _Proposal]):
    """A contract on one channel; submit to change the ledger, evaluate to read it."""

    _proposal_class: type[_Proposal]

    def __init__(self, client: _Client, channel: str, name: str) -> None:
        self._client = client
        self.channel = channel
        self.name = name

    def new_proposal(
        self, name: str, args: Sequence[Arg] = (), transient: Transient = None,
        endorsing_orgs: Orgs = None,
    ) -> _Proposal:
        """A proposal to call function name; step through evaluate or endorse/submit yourself."""
        request = new_endorse_request(
            self._client.identity, self.channel, self.name, name, args, transient, endorsing_orgs
        )
        return self._proposal_class(self._client, request)

    def _retries(self, retry_mvcc: int | None) -> MvccRetries:
        return MvccRetries(self._client.options.retry_mvcc if retry_mvcc is None else retry_mvcc)


class Contract(ContractBase[GatewayClient, Proposal]):
    """A contract of the blocking SDK."""

    _proposal_class = Proposal

    def evaluate_transaction(
        self, name: str, *args: Arg, transient: Transient = None, target_orgs: Orgs = None
    ) -> bytes:
        """Run a read-only function on one peer and return its result; nothing is ordered."""
        return self.new_proposal(name, args, transient, target_orgs).evaluate()

    def submit_async(
        self, name: str, *args: Arg, transient: Transient = None, endorsing_orgs: Orgs = None
    ) -> SubmittedTransaction:
        """Endorse and submit; returns at once with the result, get_status() waits for the block."""
        transaction = self.new_proposal(name, args, transient, endorsing_orgs).endorse()
        return SubmittedTransaction(transaction.submit(), transaction.result)

    def submit_transaction(
        self, name: str, *args: Arg, transient: Transient = None, endorsing_orgs: Orgs = None,
        retry_mvcc: int | None = None,
    ) -> bytes:
        """Endorse, submit and wait for a VALID commit; returns the result or raises CommitError.

        The submit waits for the commit in the same call (Timeouts.commit_status), so a
        transaction takes two calls, not three. After an MVCC or phantom read conflict it
        endorses a new proposal (new tx id) up to retry_mvcc more times (default: the gateway's
        retry_mvcc option, which is 0).
        """
        retries = self._retries(retry_mvcc)
        while True:
            transaction = self.new_proposal(name, args, transient, endorsing_orgs).endorse()
            result = retries.outcome(transaction.result, transaction._submit_and_wait())
            if result is not None:
                return result
