"""Entry point of the `careledger` command."""

import click


@click.group()
def cli() -> None:
    """CareLedger: a permissioned ledger for healthcare data."""
