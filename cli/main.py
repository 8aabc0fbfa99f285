"""Entry point of the `careledger` command."""

from __future__ import annotations

from typing import Any

import click

from careledger.cli.channel import channel, org
from careledger.cli.common import JSON_ERRORS, Interrupted, JsonError, wants_json
from careledger.cli.contract import contract
from careledger.cli.credentials import credentials
from careledger.cli.crypto import crypto
from careledger.cli.demo import demo
from careledger.cli.errors import REPORTED, cli_error
from careledger.cli.events import blocks, events
from careledger.cli.explorer import explorer
from careledger.cli.identity import ca, identity
from careledger.cli.ledger import ledger
from careledger.cli.network import network
from careledger.cli.node import node
from careledger.cli.orgjoin import join
from careledger.cli.records import records
from careledger.cli.tx import tx


class CareLedgerGroup(click.Group):
    """The root command: every failure of a subcommand becomes one error line, or with --json a
    JSON error object on stdout (see careledger.cli.common)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_ERRORS] = wants_json(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except REPORTED as exc:
                raise cli_error(exc) from exc
            except KeyboardInterrupt:
                raise Interrupted() from None
        except click.ClickException as exc:
            if ctx.meta.get(JSON_ERRORS):
                raise JsonError(exc) from exc
            raise


@click.group(cls=CareLedgerGroup)
@click.version_option(package_name="careledger")
def cli() -> None:
    """CareLedger: a permissioned ledger for healthcare data.

    Every command takes --dir (the network directory) and --json (machine-readable output; a
    failure then prints {"error": {"code": ..., "message": ...}} on stdout and exits non-zero).
    """


for command in (network, node, crypto, ca, identity, tx, ledger, events, blocks, explorer, records,
                credentials, demo, channel, org, contract):
    cli.add_command(command)
org.add_command(join)  # org define (cli/channel.py) and org join
