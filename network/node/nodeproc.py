"""What every node process does the same way: find its config, log, and stop cleanly on a signal."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from careledger.network.config import Layout, NodeInfo, Profile


@dataclass(frozen=True)
class NodeContext:
    layout: Layout
    profile: Profile
    node: NodeInfo
    from_snapshot: Path | None = None  # a peer joining from a snapshot file

    @property
    def identity_dir(self) -> Path:
        return self.layout.identity_dir(self.node.org, self.node.name)

    @property
    def data_dir(self) -> Path:
        return self.layout.node_data(self.node)


def node_context(argv: list[str] | None, kind: str) -> NodeContext:
    parser = argparse.ArgumentParser(prog=f"careledger-{kind}")
    parser.add_argument("--dir", required=True, type=Path, help="network directory (holds network.json)")
    parser.add_argument("--name", required=True, help="node id, e.g. peer0.hospital")
    if kind == "peer":
        parser.add_argument("--from-snapshot", type=Path, default=None,
                            help="join from this snapshot (`careledger ledger snapshot`) if the "
                                 "peer's ledger is empty")
    args = parser.parse_args(argv)
    layout = Layout(args.dir.resolve())
    profile = Profile.load(layout.root)
    node = profile.node(args.name)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {node.id} %(name)s: %(message)s",
    )
    return NodeContext(layout, profile, node, getattr(args, "from_snapshot", None))


def run_until_signal(stop: Callable[[], None]) -> None:
    """Block until SIGTERM or SIGINT, then call stop()."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()
