"""`careledger tx submit|evaluate`: the same SDK calls an application makes."""

from __future__ import annotations

import json
from pathlib import Path

import click

from careledger.cli.common import dir_option, emit, json_option
from careledger.cli.errors import cli_error
from careledger.gateway import CommitError, GatewayError, ListPage, LocalNetworkError, connect_local, pages


def _parse_transient(items: tuple[str, ...]) -> dict[str, bytes]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--transient")
        out[key] = value.encode()
    return out


def _show(result: bytes) -> object:
    try:
        return json.loads(result)
    except ValueError:
        return result.decode(errors="replace")


def _tx_command(submit: bool) -> click.Command:
    verb = "submit" if submit else "evaluate"

    @click.command(name=verb)
    @dir_option
    @click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
                  help="Identity to sign with.")
    @click.option("--channel", default=None, help="Channel (default: the network's).")
    @click.option("--transient", multiple=True, metavar="KEY=VALUE",
                  help="Private input: signed but never written to the ledger (repeatable).")
    @click.option("--org", "orgs", multiple=True,
                  help=("Endorsing organisation (repeatable; default: what the policy needs)." if submit
                        else "Organisation to evaluate at (default: the connected peer's)."))
    @click.argument("contract")
    @click.argument("function")
    @click.argument("args", nargs=-1)
    @json_option
    def command(directory: Path, who: str, channel: str | None, transient: tuple[str, ...],
                orgs: tuple[str, ...], contract: str, function: str, args: tuple[str, ...],
                as_json: bool) -> None:
        try:
            with connect_local(directory, who) as gateway:
                network = gateway.get_network(channel or gateway_channel(directory))
                c = network.get_contract(contract)
                proposal = c.new_proposal(function, args, _parse_transient(transient), list(orgs) or None)
                if submit:
                    tx = proposal.endorse()
                    status = tx.submit().get_status()
                    if not status.successful:
                        raise CommitError(status.tx_id, status.code, status.block_number)
                    data = {"tx_id": status.tx_id, "block": status.block_number,
                            "result": _show(tx.result)}
                    text = (f"{_display(tx.result)}\n"
                            f"(tx {status.tx_id} committed in block {status.block_number})")
                else:
                    result = proposal.evaluate()
                    data, text = {"tx_id": proposal.tx_id, "result": _show(result)}, _display(result)
        except (GatewayError, CommitError, LocalNetworkError) as exc:
            raise cli_error(exc) from exc
        emit(as_json, data, text)

    command.help = (f"{verb.capitalize()} CONTRACT FUNCTION [ARG...] through the gateway"
                    + (" and wait for commit." if submit else " (no ledger write)."))
    return command


def _display(result: bytes) -> str:
    shown = _show(result)
    return json.dumps(shown, indent=2) if not isinstance(shown, str) else shown


def gateway_channel(directory: Path) -> str:
    from careledger.network.config import Profile

    return Profile.load(directory.resolve()).channel


@click.command(name="list")
@dir_option
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
              help="Identity to sign with.")
@click.option("--channel", default=None, help="Channel (default: the network's).")
@click.option("--page-size", type=click.IntRange(min=1), default=None,
              help="Entries a page (default: the contract's, 100; at most 1000).")
@click.option("--bookmark", default="", help="Where to go on: the bookmark a previous page printed.")
@click.option("--all", "every", is_flag=True, help="Follow the bookmarks to the last page.")
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@json_option
def list_command(directory: Path, who: str, channel: str | None, page_size: int | None, bookmark: str,
                 every: bool, contract: str, function: str, args: tuple[str, ...], as_json: bool) -> None:
    """Evaluate a list FUNCTION of CONTRACT (patient_records, disclosures START END, my_claims,
    get_all_assets, ...) one page at a time, printing the bookmark of the next page; --all reads
    every page. A page of a filtering function may hold fewer items than --page-size, even none."""
    read: list[ListPage] = []
    try:
        with connect_local(directory, who) as gateway:
            c = gateway.get_network(channel or gateway_channel(directory)).get_contract(contract)
            for page in pages(c, function, *args, page_size=page_size, bookmark=bookmark):
                read.append(page)
                if not every:
                    break
    except (GatewayError, LocalNetworkError) as exc:
        raise cli_error(exc) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    found = [item for page in read for item in page.items]
    last = read[-1].bookmark
    data = {"items": found, "bookmark": last, "fetched": sum(page.fetched for page in read),
            "pages": len(read)}
    more = f"next page: --bookmark {last}" if last else "(last page)"
    emit(as_json, data, "\n".join([*(json.dumps(item) for item in found),
                                    f"{len(found)} item(s) in {len(read)} page(s); {more}"]))


@click.group()
def tx() -> None:
    """Submit or evaluate a contract function as an identity of the local network."""


tx.add_command(_tx_command(submit=True))
tx.add_command(_tx_command(submit=False))
tx.add_command(list_command)
