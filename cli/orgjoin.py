"""`careledger org join`: prepare a new organisation's host to run its peers on a running channel.

The org's folder (from `careledger org define`) gains the channel's genesis block and a
`network.json` naming the channel, the orderers and the org's own peers; then `careledger node
peer --dir FOLDER --name peer0.ORG` starts a peer there, and the org admin's commands (`contract
install`, `tx submit --as ORG:USER`, ...) work from the same folder. Only public material comes
from the other hosts: the genesis block.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from careledger.cli.channel import _free_port
from careledger.cli.common import CliError, dir_option, emit, json_option
from careledger.network.config import PROFILE_NAME, Layout, NodeInfo
from careledger.network.node.liveconfig import GenesisError, genesis_config, read_genesis
from careledger.network.node.orgjoin import JoinError, joining_profile, read_definition


@click.command()
@click.argument("name")
@dir_option
@click.option("--genesis", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The channel's genesis block, copied from any member (public: configuration and CA "
                   "certificates, no key).")
@click.option("--ops-port", "ops_ports", multiple=True, type=int,
              help="Operations (/healthz, /metrics) port of each peer in order (default: a free port "
                   "each on the peer's host).")
@json_option
def join(name: str, directory: Path, genesis: Path, ops_ports: tuple[int, ...], as_json: bool) -> None:
    """Write the profile of org NAME's host (in --dir, beside `org define`'s output) from the
    channel's genesis block, for `careledger node peer --dir DIR --name peer0.NAME`."""
    layout = Layout(directory.resolve())
    try:
        org, endpoints = read_definition(layout.root / f"{name}.json")
        if org != name:
            raise JoinError(f"{layout.root / f'{name}.json'} defines org {org!r}, not {name!r}")
        block = read_genesis(genesis)
        config = genesis_config(block)
        missing = [e.name for e in endpoints if not layout.identity_dir(name, e.name).is_dir()]
        if missing:
            raise JoinError(f"no identity for peer(s) {', '.join(missing)} in {layout.crypto / name}; "
                            f"run `careledger org define {name} --dir {layout.root}` on this host")
        if layout.genesis.is_file() and layout.genesis.read_bytes() != genesis.read_bytes():
            raise JoinError(f"{layout.genesis} holds another genesis block than {genesis}; a folder "
                            "joins one channel, once: define the org in a new --dir for another")
        peers = [NodeInfo(e.name, name, e.host, e.port,
                          ops_ports[i] if i < len(ops_ports) else _free_port(e.host))
                 for i, e in enumerate(endpoints)]
        profile = joining_profile(config, name, peers)
    except (JoinError, GenesisError, OSError) as exc:
        raise CliError(str(exc), "CONFIG") from exc
    if genesis.resolve() != layout.genesis:
        shutil.copyfile(genesis, layout.genesis)
    # the ordering org's CA (from the genesis block) lets this host's tools check orderer TLS
    orderer_ca = layout.ca_cert(profile.orderer_org)
    orderer_ca.parent.mkdir(parents=True, exist_ok=True)
    orderer_ca.write_bytes(config.org(profile.orderer_org).ca_cert)  # type: ignore[union-attr]
    profile.save(layout.root)
    first = peers[0].id
    emit(as_json, {"org": name, "channel": profile.channel, "profile": str(layout.root / PROFILE_NAME),
                   "genesis": str(layout.genesis), "orderers": [o.address for o in profile.orderers],
                   "peers": [{"id": p.id, "address": p.address, "ops_port": p.ops_port} for p in peers]},
         f"org {name} ready to join channel {profile.channel} (orderers "
         f"{', '.join(o.address for o in profile.orderers)}): start its peer with `careledger node peer "
         f"--dir {layout.root} --name {first}`; it waits until the channel's admins add {name} "
         f"(`careledger channel update --add-org {name}.json`), then pulls the chain from block 0")
