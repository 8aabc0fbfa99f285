"""The first hour of a new user, against real networks: commands that give up, replays that end,
errors that say what to do (as JSON for scripts), Ctrl-C during `network up`, the demo's data."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cryptography import x509

from careledger.gateway import ChaincodeEventsError, Contract
from careledger.network.identity.certs import certificate_attributes
from careledger.network.local.testing import LocalNetwork

ROOT = Path(__file__).resolve().parents[2]


def careledger(net_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "careledger.cli", *args, "--dir", str(net_dir)],
                          capture_output=True, text=True, timeout=timeout)


def json_error(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert done.returncode != 0, done.stdout
    return json.loads(done.stdout)["error"]


def test_events_of_an_unknown_contract_are_refused_naming_the_deployed_ones(net: LocalNetwork) -> None:
    done = careledger(net.directory, "events", "nosuch", "--json", timeout=30)
    error = json_error(done)
    assert error["code"] == "NOT_FOUND"
    assert "'nosuch'" in error["message"] and "basic" in error["message"]


def test_the_peer_refuses_a_chaincode_event_stream_for_an_unknown_contract(net: LocalNetwork) -> None:
    with net.connect("hospital:admin") as gateway:
        stream = gateway.get_network(net.profile.channel).get_chaincode_events("nosuch", start_block=0)
        with pytest.raises(ChaincodeEventsError) as caught, stream:
            next(iter(stream))
    assert caught.value.code.name == "NOT_FOUND"
    assert "'nosuch'" in str(caught.value) and "claims" in str(caught.value)


def test_no_follow_replays_what_is_committed_and_exits(net: LocalNetwork, hospital: Contract) -> None:
    asset = f"replay-{uuid.uuid4().hex[:8]}"
    hospital.submit_transaction("create_asset", asset, "ward-1", "1")
    done = careledger(net.directory, "events", "basic", "--from-block", "0", "--no-follow",
                      "--count", "100000", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert any(asset in e["payload"] for e in printed)
    assert [e["block"] for e in printed] == sorted(e["block"] for e in printed)

    height = json.loads(careledger(net.directory, "ledger", "info", "--json").stdout)["height"]
    done = careledger(net.directory, "blocks", "--from-block", "0", "--no-follow", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    numbers = [json.loads(line)["block"] for line in done.stdout.splitlines()]
    assert numbers[: height] == list(range(height)) and height >= 1


def test_a_listener_gives_up_when_its_peer_stays_down(net: LocalNetwork) -> None:
    listener = subprocess.Popen(
        [sys.executable, "-m", "careledger.cli", "blocks", "--as", "board:admin", "--give-up-after", "2",
         "--dir", str(net.directory)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # connected and waiting for new blocks
        assert listener.poll() is None, listener.communicate()
        net.stop("peer0.board")
        out, err = listener.communicate(timeout=60)
    finally:
        if listener.poll() is None:
            listener.kill()
        net.start("peer0.board")
    assert listener.returncode == 1
    assert "retrying:" in err and "gave up after retrying for 2s" in err


def test_a_policy_failure_names_the_cli_flag(net: LocalNetwork) -> None:
    done = careledger(net.directory, "tx", "submit", "--org", "hospital", "basic", "create_asset",
                      f"one-org-{uuid.uuid4().hex[:8]}", "ward-1", "1", "--json")
    error = json_error(done)
    assert error["code"] == "ENDORSEMENT_POLICY_FAILURE" and error["tx_id"]
    assert "--org ORG" in error["message"] and "endorsing_orgs" not in error["message"]


def test_a_mistyped_user_is_shown_the_known_identities(net: LocalNetwork) -> None:
    for command in (["ledger", "info"], ["tx", "evaluate", "basic", "read_asset", "x"]):
        done = careledger(net.directory, *command, "--as", "hospital:alcie")
        assert done.returncode == 1
        assert "alice" in done.stderr and "drsmith" in done.stderr and "network up" not in done.stderr


def test_a_refusal_by_a_node_is_a_json_error_with_its_status(net: LocalNetwork) -> None:
    error = json_error(careledger(net.directory, "tx", "evaluate", "nosuch", "f", "--json"))
    assert error["code"] == "NOT_FOUND" and "nosuch" in error["message"]


def test_the_demo_tells_a_coherent_story_in_readable_units(net: LocalNetwork) -> None:
    done = careledger(net.directory, "demo", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    chapters = story["chapters"]
    issued = [s for s in chapters[0]["steps"] if s["step"].startswith("licence ")]
    licences = {s["detail"].split(":")[0]: s["step"].split()[1] for s in issued}
    assert len(set(licences.values())) == 2
    for who, licence in licences.items():
        org, name = who.split("/")
        cert = x509.load_pem_x509_certificate((net.layout.crypto / org / name / "cert.pem").read_bytes())
        assert certificate_attributes(cert)["license"] == licence
    text = json.dumps(chapters)
    assert "USD 80.00" in text and "CARC 18 Exact duplicate" in text and "CARC B7 " in text
    assert re.search(r"BG-[0-9A-F]{8}", text) and not re.search(r"[0-9a-f]{64}", text)
    steps = {s["step"]: s["detail"] for c in chapters for s in c["steps"]}
    paid_visit = next(k for k in steps if k.startswith("claim 1 (visit of "))
    denied_visit = next(k for k in steps if k.startswith("claim 3 (visit of "))
    assert paid_visit < denied_visit  # the paid visit is dated before the revocation, the denied one after
    assert steps[denied_visit].startswith("denied")
    assert all(f"--dir {net.directory}" in step for step in story["next"])


def test_ctrl_c_during_network_up_leaves_no_process_behind(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    up = subprocess.Popen([sys.executable, "-m", "careledger.cli", "network", "up", "--dir", str(directory),
                           "--config", str(ROOT / "tests/e2e/network.toml")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids_file = directory / "pids.json"
    seen: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline and up.poll() is None:
            try:
                seen = json.loads(pids_file.read_text())
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        assert len(seen) >= 2, "network up did not start two nodes"
        up.send_signal(signal.SIGINT)
        _, err = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 130, err
    assert "stopping what was started" in err
    left = [pid for pid in seen.values() if _alive(pid)] + _processes_mentioning(str(directory))
    assert left == []


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found
