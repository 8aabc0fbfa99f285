"""Hosts on one machine: Linux network namespaces on one bridge, each with an address of its own.

What a test of a network across hosts needs without several machines: a node started with
`ip netns exec NS ...` sees only its namespace's interfaces, so it listens on its host's address
and reaches the others over the bridge, as across a LAN. The bridge stays in the caller's
namespace with an address too, so the caller (a test, an admin's workstation) reaches every host.
Needs root and iproute2; `unavailable()` says why not. Every name carries a tag unique to the
caller's process, and `hosts()` removes what it made even when the body fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SUBNET = "10.77"  # hosts get 10.77.N.1, .2, ...; the bridge 10.77.N.254


class NetnsError(Exception):
    """A namespace, link or address could not be made; the message has iproute2's words."""


@dataclass(frozen=True)
class Host:
    """One namespace: its name, its address, and the prefix that runs a command on it."""

    namespace: str
    address: str

    @property
    def prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace)


def unavailable() -> str:
    """Why namespaces cannot be made here ("" when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); run the test as root, as CI does"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) to make network namespaces"
    probe = f"careledger-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return ""


def _ip(*args: str, namespace: str | None = None) -> None:
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip()}")


def _free_subnet(start: int) -> int:
    """N of a 10.77.N.0/24 no interface of this namespace uses yet (another run's bridge)."""
    shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    for step in range(200):
        third = 20 + (start + step) % 200
        if f" {SUBNET}.{third}." not in shown:
            return third
    raise NetnsError(f"every {SUBNET}.N.0/24 (N 20..219) is in use here")


@contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """`count` namespaces on a new bridge, each with its address (10.77.N.1..count, N free
    here); all removed afterwards. Names carry the pid, apart from other runs'."""
    tag = f"{os.getpid() % 100000}"
    third = _free_subnet(os.getpid())
    bridge = f"clb{tag}"  # interface names have at most 15 characters
    made: list[Host] = []
    links: list[str] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        links.append(bridge)
        _ip("addr", "add", f"{SUBNET}.{third}.254/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i in range(1, count + 1):
            host = Host(f"careledger-{tag}-{i}", f"{SUBNET}.{third}.{i}")
            _ip("netns", "add", host.namespace)
            made.append(host)
            outside, inside = f"clv{tag}-{i}", f"clp{tag}-{i}"
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            links.append(outside)
            _ip("link", "set", outside, "master", bridge)
            _ip("link", "set", outside, "up")
            _ip("link", "set", inside, "netns", host.namespace)
            _ip("addr", "add", f"{host.address}/24", "dev", inside, namespace=host.namespace)
            _ip("link", "set", inside, "up", namespace=host.namespace)
            _ip("link", "set", "lo", "up", namespace=host.namespace)
        yield made
    finally:
        for host in made:  # deleting a namespace deletes its end of the veth pair, and so the pair
            subprocess.run(["ip", "netns", "delete", host.namespace], capture_output=True)
        for link in reversed(links):
            subprocess.run(["ip", "link", "delete", link], capture_output=True)
