"""Entry point of the `careledger` command."""

import click

from careledger.cli.credentials import credentials
from careledger.cli.crypto import crypto
from careledger.cli.demo import demo
from careledger.cli.events import blocks, events
from careledger.cli.ledger import ledger
from careledger.cli.network import network
from careledger.cli.node import node
from careledger.cli.records import records
from careledger.cli.tx import tx


@click.group()
@click.version_option(package_name="careledger")
def cli() -> None:
    """CareLedger: a permissioned ledger for healthcare data."""


for command in (network, node, crypto, tx, ledger, events, blocks, records, credentials, demo):
    cli.add_command(command)
