"""`careledger events CONTRACT` and `careledger blocks`: replay and follow a contract's chaincode
events or the channel's committed blocks, resuming from a checkpoint file when given one.

Like Fabric's event services they follow the chain: after the replay they wait for new blocks until
Ctrl-C or --count items. --no-follow makes them a replay that ends at the ledger height the command
started at. When the network goes away they retry, each retry reported on stderr, and give up after
--give-up-after seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click

from careledger.cli.common import CliError, dir_option, split_who
from careledger.cli.errors import cli_error
from careledger.cli.tx import gateway_channel
from careledger.gateway import (
    ChaincodeEvent,
    FileCheckpointer,
    GatewayError,
    LocalNetworkError,
    Network,
    Reconnect,
    connect_local,
)
from careledger.gateway.checkpointer import Checkpoint
from careledger.network.config import ConfigError
from careledger.network.ledger.blockevents import block_events
from careledger.network.local import lifecycleclient
from careledger.network.peer.definitions import LIFECYCLE
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

_Item = TypeVar("_Item")
F = TypeVar("F", bound=Callable[..., object])

DEFAULT_GIVE_UP_AFTER = 60.0


def stream_options(fn: F) -> F:
    """The options both commands take: where to start, when to stop, as whom, how to print."""
    for option in reversed((
        click.option("--from-block", type=click.IntRange(min=0), default=None,
                     help="Replay from this block (default: new blocks only; a checkpoint wins)."),
        click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Resume from this file and record each printed item in it."),
        click.option("--follow/--no-follow", default=True, show_default=True,
                     help="After the replay, wait for new blocks (Ctrl-C stops); --no-follow stops at the "
                          "ledger height when the command started."),
        click.option("--count", type=click.IntRange(min=1), default=None,
                     help="Stop after this many items (with --follow, waits until there are that many)."),
        click.option("--give-up-after", type=click.FloatRange(min=0), default=DEFAULT_GIVE_UP_AFTER,
                     show_default=True, metavar="SECONDS",
                     help="When the network goes away, retry (each retry on stderr) for this long, then "
                          "fail; 0 retries forever."),
        click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]"),
        click.option("--json", "as_json", is_flag=True,
                     help="One JSON object per line; a failure as {\"error\": {...}}."),
    )):
        fn = option(fn)
    return fn


def reconnect_within(seconds: float, policy: Reconnect | None = None) -> Reconnect:
    """policy (default: the SDK's) with as many attempts as its back-off spends in `seconds`
    (0: unbounded)."""
    policy = policy or Reconnect()
    if seconds <= 0:
        return policy
    attempts, waited = 0, 0.0
    while waited < seconds:
        attempts += 1
        waited += policy.delay(attempts)
    return Reconnect(policy.initial_delay, policy.max_delay, attempts)


class _RetriesToStderr(logging.Handler):
    """Shows the SDK's stream-resumption warnings on stderr while a command follows a stream."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"retrying: {record.getMessage()}", err=True)


def run_stream(directory: Path, who: str, count: int | None, give_up_after: float,
           open_stream: Callable[[Network], Iterator[_Item]], handle: Callable[[_Item], None]) -> None:
    """Hand each item of the stream open_stream opens to handle until count, the stream's end, or
    Ctrl-C; a network gone for longer than give_up_after seconds is an error."""
    seen = 0
    retries = logging.getLogger("careledger.gateway.eventstream")
    shown = _RetriesToStderr(logging.WARNING)
    retries.addHandler(shown)
    try:
        with connect_local(directory, who, reconnect=reconnect_within(give_up_after)) as gateway:
            network = gateway.get_network(gateway_channel(directory))
            stream = open_stream(network)
            try:
                for item in stream:
                    handle(item)
                    seen += 1
                    if count is not None and seen >= count:
                        break
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
    except GatewayError as exc:
        error = cli_error(exc)
        if exc.code.name == "UNAVAILABLE" and give_up_after > 0:
            error = CliError(f"gave up after retrying for {give_up_after:g}s: {error.message}", error.code,
                             error.tx_id)
        raise error from exc
    except LocalNetworkError as exc:
        raise cli_error(exc) from exc
    except KeyboardInterrupt:
        pass
    finally:
        retries.removeHandler(shown)


def _replay_end(directory: Path, who: str, follow_on: bool) -> int | None:
    """With --no-follow, the ledger height now (the replay stops before it); else None."""
    if follow_on:
        return None
    org, user = split_who(who)
    try:
        with QueryClient(directory, org, user) as client:
            return client.chain_info().height
    except Exception as exc:  # noqa: BLE001 - any failure to reach the peer ends the command the same way
        raise cli_error(exc) if isinstance(exc, (ConfigError, LocalNetworkError)) else CliError(
            f"cannot read the ledger height as {who}: {exc}", "UNAVAILABLE") from exc


def _start(from_block: int | None, checkpoint: Checkpoint | None) -> int | None:
    if checkpoint is not None and checkpoint.block_number is not None:
        return checkpoint.block_number
    return from_block


def _check_contract(directory: Path, contract: str, who: str) -> None:
    """Refuse a contract the ledger does not define before waiting for its events."""
    try:
        deployed = [LIFECYCLE, *lifecycleclient.definitions(directory, split_who(who))]
    except (GatewayError, LocalNetworkError, ConfigError):
        return  # the connection reports an unreachable or missing network in its own words
    if contract not in deployed:
        raise CliError(f"contract {contract!r} is not deployed; deployed: {', '.join(sorted(deployed))}",
                       "NOT_FOUND")


def replayed_events(network: Network, contract: str, start: int, end: int,
                    after_tx_id: str | None) -> Iterator[ChaincodeEvent]:
    """The events of contract in blocks [start, end), after after_tx_id in block start; read from the
    blocks themselves, so the replay knows when it has reached the end."""
    if start >= end:
        return
    with network.get_block_events(start) as stream:
        for block in stream:
            number = block.header.number
            events = [e for e in block_events(block) if e.contract == contract]
            ids = [e.tx_id for e in events]
            if number == start and after_tx_id in ids:
                events = events[ids.index(after_tx_id) + 1:]
            for e in events:
                yield ChaincodeEvent(number, e.tx_id, e.contract, e.event_name, e.payload)
            if number >= end - 1:
                return


def replayed_blocks(network: Network, start: int, end: int) -> Iterator[common_pb2.Block]:
    """Blocks [start, end)."""
    if start >= end:
        return
    with network.get_block_events(start) as stream:
        for block in stream:
            yield block
            if block.header.number >= end - 1:
                return


@click.command()
@dir_option
@click.argument("contract")
@stream_options
def events(directory: Path, contract: str, from_block: int | None, checkpoint: Path | None, follow: bool,
           count: int | None, give_up_after: float, who: str, as_json: bool) -> None:
    """Print CONTRACT's events from committed (VALID) transactions: from --from-block or the
    checkpoint, then new ones as they commit (Ctrl-C stops), or with --no-follow only those
    committed when the command started."""
    _check_contract(directory, contract, who)
    checkpointer = FileCheckpointer(checkpoint) if checkpoint else None
    end = _replay_end(directory, who, follow)

    def show(ev: ChaincodeEvent) -> None:
        payload = ev.payload.decode(errors="replace")
        if as_json:
            click.echo(json.dumps({"block": ev.block_number, "tx_id": ev.tx_id,
                                   "event": ev.event_name, "payload": payload}))
        else:
            click.echo(f"block {ev.block_number} {ev.tx_id} {ev.event_name} {payload}")
        if checkpointer:
            checkpointer.checkpoint_chaincode_event(ev)

    def open_stream(network: Network) -> Iterator[ChaincodeEvent]:
        if end is None:
            return network.get_chaincode_events(contract, from_block, checkpoint=checkpointer)
        start = _start(from_block, checkpointer)
        after = checkpointer.transaction_id if checkpointer else None
        return replayed_events(network, contract, end if start is None else start, end, after)

    run_stream(directory, who, count, give_up_after, open_stream, show)


@click.command()
@dir_option
@stream_options
def blocks(directory: Path, from_block: int | None, checkpoint: Path | None, follow: bool,
           count: int | None, give_up_after: float, who: str, as_json: bool) -> None:
    """Print each committed block: its number, transaction count and validation codes; from
    --from-block or the checkpoint, then new ones (Ctrl-C stops), or with --no-follow only those
    committed when the command started."""
    checkpointer = FileCheckpointer(checkpoint) if checkpoint else None
    end = _replay_end(directory, who, follow)

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

    def open_stream(network: Network) -> Iterator[common_pb2.Block]:
        if end is None:
            return network.get_block_events(from_block, checkpoint=checkpointer)
        start = _start(from_block, checkpointer)
        return replayed_blocks(network, end if start is None else start, end)

    run_stream(directory, who, count, give_up_after, open_stream, show)
