"""`careledger node peer|orderer`: run one node in the foreground, e.g. on its own host."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from careledger.cli.common import CliError, dir_option, emit, json_option
from careledger.network.config import PROFILE_NAME, ConfigError, Profile
from careledger.network.local.launcher import check_contracts

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
    @dir_option
    @click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, help=CONFIG_HELP + f" Default: {PROFILE_NAME} in --dir.")
    @click.option("--name", required=True, help=f"Node id in the profile, e.g. {example}.")
    @click.option("--from-snapshot", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, hidden=kind != "peer",
                  help="Peers: join from this snapshot (`careledger ledger snapshot`) instead of "
                       "replaying every block; the ledger folder must be empty.")
    @json_option
    def command(directory: Path, config: Path | None, name: str, from_snapshot: Path | None,
                as_json: bool) -> None:
        root = (config.resolve().parent if config else directory.resolve())
        try:
            profile = Profile.load(root)
        except ConfigError as exc:
            raise CliError(f"no network profile for the node: {exc}", "NO_NETWORK") from exc
        if kind == "peer":  # a bad policy or contract class, named before the peer starts
            try:
                check_contracts(str(root / PROFILE_NAME), profile.orgs, profile.contracts)
            except ConfigError as exc:
                raise CliError(str(exc), "CONFIG") from exc
        nodes = profile.orderers if kind == "orderer" else profile.peers
        node = next((n for n in nodes if n.id == name), None)
        if node is None:
            raise CliError(f"no {kind} {name!r} in {root / PROFILE_NAME}; {kind}s: "
                           f"{', '.join(n.id for n in nodes) or 'none'}", "NOT_FOUND")
        emit(as_json, {"node": node.id, "kind": kind, "address": node.address, "directory": str(root)},
             f"running {kind} {node.id} on {node.address} from {root} (logs on stderr; SIGTERM stops it)")
        server = importlib.import_module(f"careledger.network.{kind}.server")
        if from_snapshot is not None and kind != "peer":
            raise CliError("--from-snapshot is for peers", "USAGE")
        extra = ["--from-snapshot", str(from_snapshot.resolve())] if from_snapshot else []
        server.main(["--dir", str(root), "--name", name, *extra])

    return command


for _kind, (_help, _example) in KINDS.items():
    node.add_command(_node_command(_kind, _help, _example))
