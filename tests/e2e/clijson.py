"""Runs the `careledger` CLI as an operator does (a process, `--json`) and reads its answer, and reads
every peer's height and the orderer's first block as a given identity: what e2e tests check a
refusal and an unchanged ledger with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from careledger.network.identity.signing import Signer
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc


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


def deliver(net: LocalNetwork, who: str) -> common_pb2.Block:
    """Block 0 from the orderer's Deliver, asked as ORG:USER."""
    org, _, user = who.partition(":")
    signer = Signer.from_dir(net.layout.identity_dir(org, user))
    payload = orderer_pb2.SeekRequest(channel=net.profile.channel, creator=signer.cert_pem, start=0,
                                      follow=False, stop=0).SerializeToString()
    with net.channel(net.profile.orderers[0].id, who) as channel:
        stub = orderer_pb2_grpc.OrdererStub(channel)
        return next(stub.Deliver(common_pb2.Signed(payload=payload, signature=signer.sign(payload)),
                                 timeout=20))
