"""`careledger explorer`: a local web page for admins, auditors and patients over one identity's view.

The page shows the nodes and their health, heights, blocks, transactions with validation codes, the
contract definitions, charts of transactions per second and latency from the nodes' metrics, and
for a patient their accounting of disclosures. It follows new blocks live (Server-Sent Events).
The explorer is a client like any integrator's: it reads as --user, signed, so the peers' access
rules decide what it shows. aiohttp serves it; the page is plain JS and SVG served from the
package, so nothing is fetched from elsewhere at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
from pathlib import Path

import click
from aiohttp import web
from cryptography import x509

from careledger.cli.common import CliError, dir_option, json_option
from careledger.cli.errors import cli_error
from careledger.gateway import LocalNetworkError
from careledger.gateway.local import local_peer
from careledger.network.config import ConfigError, Layout, Profile
from careledger.network.identity.certs import certificate_attributes
from careledger.network.identity.errors import IdentityError

DEFAULT_PORT = 8800


def default_user(directory: Path) -> str:
    """The first identity with role=auditor in the network's crypto folder (`crypto issue ORG NAME
    --attr role=auditor`), else the admin of the first organisation with a peer."""
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
    except ConfigError as exc:
        raise cli_error(exc) from exc
    orgs = list(dict.fromkeys(p.org for p in profile.peers))
    for org in orgs:
        folder = layout.crypto / org
        for cert in sorted(folder.glob("*/cert.pem")) if folder.is_dir() else ():
            try:
                attributes = certificate_attributes(x509.load_pem_x509_certificate(cert.read_bytes()))
            except (ValueError, IdentityError):
                continue
            if attributes.get("role") == "auditor":
                return f"{org}:{cert.parent.name}"
    if not orgs:
        raise CliError(f"the network in {directory} has no peers to ask", "CONFIG")
    return f"{orgs[0]}:admin"


async def serve(directory: Path, who: str, host: str, port: int, interval: float, as_json: bool) -> None:
    """Serve the explorer until SIGINT or SIGTERM; print its URL once it listens."""
    from careledger.cli.explorer.ledgerview import LedgerView
    from careledger.cli.explorer.operations import NodeWatch
    from careledger.cli.explorer.server import make_app

    view = LedgerView(directory, who)
    token = secrets.token_urlsafe(18)
    runner = web.AppRunner(make_app(view, NodeWatch(view.profile, interval), token), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=1.0)
        try:
            await site.start()
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
                           "--port (0 picks a free one)", "USAGE") from exc
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}/?token={token}"
        if as_json:
            click.echo(json.dumps({"url": url, "user": who, "peer": view.peer_id}), nl=True)
        else:
            click.echo(f"explorer for {who} (reads through {view.peer_id}): {url}\nCtrl-C stops it.")
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


@click.command()
@dir_option
@click.option("--user", "who", default=None, metavar="ORG:NAME",
              help="The identity the explorer reads as (default: an identity with role=auditor if one "
                   "was issued, else the first org's admin); the peers' access rules for it apply.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (0: a free one).")
@click.option("--interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Seconds between polls of the nodes' /healthz and /metrics.")
@json_option
def explorer(directory: Path, who: str | None, host: str, port: int, interval: float, as_json: bool) -> None:
    """Serve a web page over the ledger as --user sees it; prints its URL (with a session token).

    Nodes and their health, heights, blocks and transactions with validation codes, contract
    definitions, charts of tx/s and latency, and for a patient the accounting of disclosures.
    New blocks appear without a reload. Ctrl-C stops it.
    """
    who = who or default_user(directory)
    try:
        local_peer(directory, who, None, {})  # says which network, org or identity is missing
    except LocalNetworkError as exc:
        raise cli_error(exc) from exc
    try:
        asyncio.run(serve(directory, who, host, port, interval, as_json))
    except (ConfigError, IdentityError) as exc:
        raise cli_error(exc) from exc
    with contextlib.suppress(Exception):
        click.echo("explorer stopped", err=True)
