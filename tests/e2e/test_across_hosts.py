"""A network across hosts: every organisation on a host of its own (a Linux network namespace
with its own address on one bridge, network/local/netns.py), each node started there with
`ip netns exec` and listening on that host's address, with TLS certificates naming it.

The founding admins prepare the network on one machine (`network prepare`: crypto, network.json,
genesis.block for the TOML's hosts) and each host gets its own org's folder plus public material
only (network.json, genesis.block, the CA certificates); the orderer and the three founding peers
start on their hosts. A fourth org, pharmacy, makes its keys on a fifth host (they never leave
it), gets only the genesis block, is added by a majority, and its peer catches up from block 0,
gets the package installed and endorses under a definition that includes it; a pharmacy client's
transaction is VALID on every host and `ledger verify --state` passes on each (joining.py tells
the story, test_org_join the same on loopback). Needs root; skipped with the reason otherwise.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

import pytest
from joining import FOUNDERS, Host, height, join_and_endorse, prepare_pharmacy, wait_until

from careledger.network.config import PROFILE_NAME, Layout
from careledger.network.local import netns

WHY_NOT = netns.unavailable()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)

ORGS = ("orderer", *FOUNDERS)  # hosts 1..4; pharmacy is host 5


def network_toml(addresses: dict[str, str]) -> str:
    orgs = "\n".join(f'[[orgs]]\nname = "{org}"\nhost = "{addresses[org]}"\n'
                     + ('users = ["alice"]\n' if org == "hospital" else "") for org in FOUNDERS)
    return (f'channel = "healthcare"\n\n[orderer]\nhost = "{addresses["orderer"]}"\n'
            f"batch_timeout_ms = 300\n\n{orgs}")


def host_folder(setup: Layout, org: str, target: Path) -> None:
    """What one host gets from the setup machine: its org's folder, and public files only."""
    (target / "crypto").mkdir(parents=True)
    for name in (PROFILE_NAME, "genesis.block"):
        shutil.copyfile(setup.root / name, target / name)
    for ca in setup.crypto.glob("*/ca/cert.pem"):
        (target / "crypto" / ca.parent.parent.name / "ca").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, target / "crypto" / ca.parent.parent.name / "ca" / "cert.pem")
    shutil.copytree(setup.crypto / org, target / "crypto" / org, dirs_exist_ok=True)


def private_keys(folder: Path) -> set[str]:
    """The orgs whose private keys (key.pem) a folder holds."""
    return {key.relative_to(folder / "crypto").parts[0] for key in (folder / "crypto").rglob("key.pem")}


def test_a_network_across_hosts_and_an_org_joining_from_a_fifth(tmp_path: Path) -> None:
    with netns.hosts(5) as machines, ExitStack() as running:
        addresses = {org: m.address for org, m in zip((*ORGS, "pharmacy"), machines, strict=True)}
        config = tmp_path / "hosts.toml"
        config.write_text(network_toml(addresses))
        setup = Host("setup", tmp_path / "setup")
        prepared = setup.ok("network", "prepare", "--config", str(config))
        assert {n["address"].split(":")[0] for n in prepared["nodes"]} == {addresses[o] for o in ORGS}

        hosts = {}
        for org, machine in zip(ORGS, machines[:4], strict=True):
            host_folder(Layout(setup.directory), org, tmp_path / org)
            assert private_keys(tmp_path / org) == {org}  # no other org's key travelled there
            hosts[org] = Host(org, tmp_path / org, machine.prefix)
            node = "orderer0.orderer" if org == "orderer" else f"peer0.{org}"
            running.enter_context(hosts[org].node(node, tmp_path / f"{node}.log"))
        founders = {org: hosts[org] for org in FOUNDERS}
        wait_until(lambda: all(height(h) >= 1 for h in founders.values()), 40, "the founders' peers")

        pharmacy = Host("pharmacy", tmp_path / "pharmacy", machines[4].prefix)
        pharmacy.directory.mkdir()
        ops_port = prepare_pharmacy(hosts["hospital"].directory, pharmacy, addresses["pharmacy"])
        running.enter_context(pharmacy.node("peer0.pharmacy", tmp_path / "peer0.pharmacy.log"))
        join_and_endorse(founders, pharmacy, addresses["pharmacy"], ops_port)

        # pharmacy's keys are on its host only; it holds no other org's
        assert private_keys(pharmacy.directory) == {"pharmacy"}
        assert all("pharmacy" not in private_keys(h.directory) for h in hosts.values())
        assert "pharmacy" not in private_keys(setup.directory)
