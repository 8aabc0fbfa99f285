"""`careledger node peer|orderer`: run one node in the foreground, e.g. on its own host."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from careledger.network.config import PROFILE_NAME

CONFIG_HELP = (f"The network profile ({PROFILE_NAME}) the node reads; its folder holds crypto/ and "
               "data/. Copy it with the node's crypto folder to run the node on another host.")
KINDS = {
    "peer": ("Run a peer: endorser, gateway, query and committer.", "peer0.hospital"),
    "orderer": ("Run an orderer: broadcast, block cutting and deliver.", "orderer0.orderer"),
}


@click.group()
def node() -> None:
    """Run a single node process in the foreground (logs to stderr; SIGTERM stops it)."""


def _node_command(kind: str, help_text: str, example: str) -> click.Command:
    @click.command(name=kind, help=help_text)
    @click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  required=True, help=CONFIG_HELP)
    @click.option("--name", required=True, help=f"Node id in the profile, e.g. {example}.")
    def command(config: Path, name: str) -> None:
        server = importlib.import_module(f"careledger.network.{kind}.server")
        server.main(["--dir", str(config.resolve().parent), "--name", name])

    return command


for _kind, (_help, _example) in KINDS.items():
    node.add_command(_node_command(_kind, _help, _example))
