"""`careledger node peer|orderer`: run one node in the foreground, e.g. on its own host."""

from __future__ import annotations

from pathlib import Path

import click

from careledger.network.config import PROFILE_NAME

CONFIG_HELP = (f"The network profile ({PROFILE_NAME}) the node reads; its folder holds crypto/ and "
               "data/. Copy it with the node's crypto folder to run the node on another host.")


def _run(kind: str, config: Path, name: str) -> None:
    if kind == "peer":
        from careledger.network.peer.server import main
    else:
        from careledger.network.orderer.server import main
    main(["--dir", str(config.resolve().parent), "--name", name])


@click.group()
def node() -> None:
    """Run a single node process in the foreground (logs to stderr; SIGTERM stops it)."""


@node.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help=CONFIG_HELP)
@click.option("--name", required=True, help="Node id in the profile, e.g. peer0.hospital.")
def peer(config: Path, name: str) -> None:
    """Run a peer: endorser, gateway, query and committer."""
    _run("peer", config, name)


@node.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help=CONFIG_HELP)
@click.option("--name", required=True, help="Node id in the profile, e.g. orderer0.orderer.")
def orderer(config: Path, name: str) -> None:
    """Run an orderer: broadcast, block cutting and deliver."""
    _run("orderer", config, name)
