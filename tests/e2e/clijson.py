"""Runs the `careledger` CLI as an operator does (a process, `--json`) and reads its answer, and reads
every peer's height: what e2e tests of CLI commands check a refusal and an unchanged ledger with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "careledger.cli", *args, "--dir", str(directory), "--json"],
                          capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode != 0, result.stdout
    return json.loads(result.stdout)["error"]


def heights(net: LocalNetwork) -> dict[str, int]:
    """Every peer's chain height, asked of the peer itself."""
    result = {}
    for peer in net.profile.peers:
        with QueryClient(net.directory, peer.org, peer=peer) as client:
            result[peer.id] = client.chain_info().height
    return result
