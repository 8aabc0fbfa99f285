"""`careledger network up --ca` runs each organisation's CA service with the network (issue 13):
`network status` shows it serving, `careledger identity` finds it without --ca, `network down` stops
it; a plain `network up` starts none, so the demo and the tests do not pay for it (each CA costs
0.25-0.4 s of CPU to start, measured on the shared 2-core machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from careledger.network.ca.server import endpoint
from careledger.network.config import Layout

ONE_ORG = """channel = "healthcare"

[orderer]
batch_timeout_ms = 100

[[orgs]]
name = "hospital"
"""


def cli(directory: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "careledger.cli", *args, "--dir", str(directory), "--json"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"careledger {' '.join(args)}: {done.stdout}{done.stderr}"
    return json.loads(done.stdout)


def cas(directory: Path) -> list[dict]:
    return [n for n in cli(directory, "network", "status")["nodes"] if n["kind"] == "ca"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_network_up_with_ca_runs_the_orgs_ca_until_network_down(tmp_path: Path) -> None:
    config = tmp_path / "network.toml"
    config.write_text(ONE_ORG)
    directory = tmp_path / "net"
    cli(directory, "network", "up", "--ca", "--config", str(config))
    try:
        (ca,) = cas(directory)
        assert (ca["id"], ca["serving"]) == ("ca.hospital", True), ca
        assert ca["address"] == endpoint(Layout(directory), "hospital")

        # the identity commands find it with no --ca: register, then enrol into crypto/hospital/NAME
        secret = cli(directory, "identity", "register", "drnet", "--as", "hospital:admin")["secret"]
        enrolled = cli(directory, "identity", "enroll", "drnet", "--org", "hospital", "--secret", secret)
        assert Path(enrolled["path"], "cert.pem").is_file()
    finally:
        stopped = cli(directory, "network", "down")["stopped"]
    assert "ca.hospital" in stopped
    assert not alive(ca["pid"])

    # resumed without --ca: no CA process, the rest as before
    cli(directory, "network", "up", "--config", str(config))
    try:
        assert cas(directory) == []
    finally:
        assert "ca.hospital" not in cli(directory, "network", "down")["stopped"]
