"""`careledger events CONTRACT`: replay and follow a contract's chaincode events."""

from __future__ import annotations

import json
from pathlib import Path

import click

from careledger.cli.common import dir_option
from careledger.cli.tx import gateway_channel
from careledger.gateway import GatewayError, LocalNetworkError, connect_local


@click.command()
@dir_option
@click.argument("contract")
@click.option("--from-block", type=int, default=None, help="Replay from this block (default: new only).")
@click.option("--count", type=int, default=None, help="Stop after this many events.")
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(directory: Path, contract: str, from_block: int | None, count: int | None, who: str,
           as_json: bool) -> None:
    """Print CONTRACT's events from committed transactions, then follow new ones (Ctrl-C stops)."""

    seen = 0
    try:
        with connect_local(directory, who) as gateway:
            network = gateway.get_network(gateway_channel(directory))
            with network.get_chaincode_events(contract, start_block=from_block) as stream:
                for ev in stream:
                    payload = ev.payload.decode(errors="replace")
                    if as_json:
                        click.echo(json.dumps({"block": ev.block_number, "tx_id": ev.tx_id,
                                               "event": ev.event_name, "payload": payload}))
                    else:
                        click.echo(f"block {ev.block_number} {ev.tx_id} {ev.event_name} {payload}")
                    seen += 1
                    if count is not None and seen >= count:
                        break
    except (GatewayError, LocalNetworkError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
