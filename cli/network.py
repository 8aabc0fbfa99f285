"""`careledger network up|prepare|status|down`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import CliError, dir_option, emit, json_option, progress
from careledger.cli.errors import cli_error
from careledger.gateway import GatewayError, LocalNetworkError
from careledger.network.config import CONSENSUS_TYPES, PROFILE_NAME, ConfigError, Layout, Profile
from careledger.network.local import launcher, lifecycleclient
from careledger.network.local.etcdcluster import EtcdClusterError


@click.group()
def network() -> None:
    """Start, inspect and stop a local network (one process per node)."""


@network.command()
@dir_option
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Network config TOML (default: the built-in three-organisation network).")
@click.option("--peers-per-org", type=click.IntRange(1, 8), default=None,
              help="Peers in every organisation (overrides the config).")
@click.option("--orderers", type=click.IntRange(1, 9), default=None,
              help="Orderer processes (overrides the config); more than one needs --consensus etcd.")
@click.option("--consensus", type=click.Choice(CONSENSUS_TYPES), default=None,
              help="solo: one orderer; etcd: orderers share an etcd cluster (started locally unless "
                   "the config names its endpoints) and survive the loss of any minority.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for health.")
@click.option("--ca", is_flag=True,
              help="Run each organisation's CA service too (`careledger identity` finds it).")
@json_option
def up(directory: Path, config_path: Path | None, peers_per_org: int | None, orderers: int | None,
       consensus: str | None, timeout: float, ca: bool, as_json: bool) -> None:
    """Generate crypto, start etcd (if used), the orderer(s) and peers, wait until all are healthy."""
    try:
        profile = launcher.up(directory, config_path, progress(as_json), timeout, peers_per_org,
                              orderers, consensus, ca)
    except (launcher.LauncherError, ConfigError, EtcdClusterError) as exc:
        raise cli_error(exc) from exc
    etcd = f", etcd cluster of {len(profile.etcd_members)}" if profile.etcd_members else ""
    emit(as_json, asdict(profile),
         f"network up in {directory}: channel {profile.channel!r}, {profile.orderer.consensus} consensus, "
         f"{len(profile.orderers)} orderer(s), {len(profile.peers)} peer(s){etcd}")


@network.command()
@dir_option
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Network config TOML; give each org (and [orderer]) the `host` its nodes run on.")
@json_option
def prepare(directory: Path, config_path: Path | None, as_json: bool) -> None:
    """Write what `up` writes, start nothing: crypto, network.json and genesis.block, for a
    network whose nodes run on their own hosts (`careledger node peer|orderer` on each)."""
    try:
        profile = launcher.prepare(directory, config_path, progress(as_json))
    except (launcher.LauncherError, ConfigError, EtcdClusterError) as exc:
        raise cli_error(exc) from exc
    nodes = [{"id": n.id, "address": n.address, "ops_port": n.ops_port}
             for n in (*profile.orderers, *profile.peers)]
    emit(as_json, {"directory": str(directory), "channel": profile.channel, "nodes": nodes},
         lambda: "\n".join([f"network prepared in {directory}: channel {profile.channel!r}; start each node "
                            "on its host with `careledger node peer|orderer --dir DIR --name ID`:",
                            *(f"  {n['id']} on {n['address']}" for n in nodes)]))


def _contracts(directory: Path, profile: Profile, serving: bool) -> list[dict[str, Any]]:
    """The definitions on the ledger (the truth since the lifecycle, issue 12) when a peer serves,
    else what the TOML asks for."""
    if serving:
        try:
            defined = lifecycleclient.definitions(directory, (profile.orgs[0], "admin"))
            return [asdict(d) | {"source": "ledger"} for d in defined.values()]
        except (GatewayError, LocalNetworkError):
            pass  # the peers are starting or stopping: say what the TOML asks for instead
    return [{"name": c.name, "policy": c.policy, "source": "network TOML"} for c in profile.contracts]


@network.command()
@dir_option
@json_option
def status(directory: Path, as_json: bool) -> None:
    """Show each node's process, health and ledger height, and the deployed contracts."""
    nodes = launcher.status(directory)
    if not nodes:
        raise CliError(f"no network in {directory}; run `careledger network up`", "NO_NETWORK")
    profile = Profile.load(directory.resolve())
    heights = launcher.heights(directory, profile, [n for n in nodes if n.serving and n.kind == "peer"])
    ops = {n.id: f"{n.host}:{n.ops_port}" for n in (*profile.peers, *profile.orderers) if n.ops_port}
    rows = [{**asdict(n), "height": heights.get(n.id), "ops": ops.get(n.id)} for n in nodes]
    contracts = _contracts(directory, profile, any(n.serving and n.kind == "peer" for n in nodes))
    cluster = launcher.consensus_status(directory)
    consensus = {"type": profile.orderer.consensus,
                 **(asdict(cluster) if cluster else {})}

    def text() -> str:
        lines = [f"channel {profile.channel}"]
        for r in rows:
            state = "SERVING" if r["serving"] else ("RUNNING" if r["running"] else "STOPPED")
            height = "" if r["height"] is None else f" height {r['height']}"
            lines.append(f"  {r['kind']:8} {r['id']:20} {r['address']:22} {state}{height}"
                         + (f"  ops http://{r['ops']}" if r["ops"] else ""))
        lines.append(f"  consensus {profile.orderer.consensus}")
        if cluster:
            lines.append(f"    leader orderer: {cluster.leader or 'none (election under way or no cluster)'}"
                         + (f" ({cluster.error})" if cluster.error else ""))
            lines += [f"    etcd {m.endpoint:22} "
                      + (f"healthy, raft term {m.raft_term}{', raft leader' if m.is_raft_leader else ''}, "
                         f"db {m.db_size // 1024} KiB" if m.healthy else f"UNHEALTHY: {m.error}")
                      for m in cluster.members]
        lines += [f"  contract {c['name']}" + (f" {c['version']} sequence {c['sequence']}" if "version" in c
                                              else "") + f" ({c['source']}): policy {c['policy']}"
                  for c in contracts]
        return "\n".join(lines)

    emit(as_json, {"channel": profile.channel, "nodes": rows, "consensus": consensus,
                   "contracts": contracts}, text)


@network.command()
@dir_option
@json_option
def down(directory: Path, as_json: bool) -> None:
    """Stop the processes `network up` started (etcd included); ledgers and keys stay for the next `up`."""
    layout = Layout(directory.resolve())
    if not layout.root.is_dir():
        raise CliError(f"no folder {directory}: no network to stop (check --dir or $CARELEDGER_HOME)",
                       "NO_NETWORK")
    if not (layout.root / PROFILE_NAME).is_file() and not layout.pids.is_file():
        raise CliError(f"no network in {directory} (no {PROFILE_NAME}): nothing to stop (check --dir or "
                       "$CARELEDGER_HOME)", "NO_NETWORK")
    stopped = launcher.down(directory, progress(as_json))
    emit(as_json, {"stopped": stopped},
         f"stopped {len(stopped)} node(s) in {directory}" if stopped
         else f"nothing was running in {directory}")
