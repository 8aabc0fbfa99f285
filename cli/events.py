"""`careledger events CONTRACT` and `careledger blocks`: replay and follow a contract's chaincode
events or the channel's committed blocks, resuming from a checkpoint file when given one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from careledger.cli.common import dir_option
from careledger.cli.tx import gateway_channel
from careledger.gateway import (
    ChaincodeEvent,
    FileCheckpointer,
    GatewayError,
    LocalNetworkError,
    Network,
    connect_local,
)
from careledger.gateway.eventstream import EventStream
from careledger.protos import common_pb2

_Item = TypeVar("_Item")
F = TypeVar("F", bound=Callable[..., object])


def stream_options(fn: F) -> F:
    """The options both commands take: where to start, when to stop, as whom, how to print."""
    for option in reversed((
        click.option("--from-block", type=int, default=None,
                     help="Replay from this block (default: new only; a checkpoint wins)."),
        click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Resume from this file and record each printed item in it."),
        click.option("--count", type=int, default=None, help="Stop after this many."),
        click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]"),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per line."),
    )):
        fn = option(fn)
    return fn


def follow(directory: Path, who: str, count: int | None,
           open_stream: Callable[[Network], EventStream[_Item]], handle: Callable[[_Item], None]) -> None:
    """Hand each item of the stream open_stream opens to handle until count or Ctrl-C."""
    seen = 0
    try:
        with connect_local(directory, who) as gateway:
            network = gateway.get_network(gateway_channel(directory))
            with open_stream(network) as stream:
                for item in stream:
                    handle(item)
                    seen += 1
                    if count is not None and seen >= count:
                        break
    except (GatewayError, LocalNetworkError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


@click.command()
@dir_option
@click.argument("contract")
@stream_options
def events(directory: Path, contract: str, from_block: int | None, checkpoint: Path | None,
           count: int | None, who: str, as_json: bool) -> None:
    """Print CONTRACT's events from committed transactions, then follow new ones (Ctrl-C stops)."""
    checkpointer = FileCheckpointer(checkpoint) if checkpoint else None

    def show(ev: ChaincodeEvent) -> None:
        payload = ev.payload.decode(errors="replace")
        if as_json:
            click.echo(json.dumps({"block": ev.block_number, "tx_id": ev.tx_id,
                                   "event": ev.event_name, "payload": payload}))
        else:
            click.echo(f"block {ev.block_number} {ev.tx_id} {ev.event_name} {payload}")
        if checkpointer:
            checkpointer.checkpoint_chaincode_event(ev)

    follow(directory, who, count,
           lambda network: network.get_chaincode_events(contract, from_block, checkpoint=checkpointer),
           show)


@click.command()
@dir_option
@stream_options
def blocks(directory: Path, from_block: int | None, checkpoint: Path | None, count: int | None,
           who: str, as_json: bool) -> None:
    """Print each committed block: its number, transaction count and validation codes; then
    follow new ones (Ctrl-C stops)."""
    checkpointer = FileCheckpointer(checkpoint) if checkpoint else None

    def show(block: common_pb2.Block) -> None:
        number = block.header.number
        codes = [common_pb2.ValidationCode.Name(c) for c in block.metadata.validation_codes]
        if as_json:
            click.echo(json.dumps({"block": number, "tx_count": len(block.data.envelopes),
                                   "validation_codes": codes}))
        else:
            click.echo(f"block {number} {len(block.data.envelopes)} tx {' '.join(codes)}".rstrip())
        if checkpointer:
            checkpointer.checkpoint_block(number)

    follow(directory, who, count,
           lambda network: network.get_block_events(from_block, checkpoint=checkpointer), show)
