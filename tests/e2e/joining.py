"""An organisation joining a running channel from its own host, told through the CLI: shared by
test_org_join (every host on loopback) and test_across_hosts (each host a network namespace).

A `Host` is a folder and the command prefix that runs a process "on" that host (empty on
loopback, `ip netns exec NS` across namespaces). Only public files pass between hosts, and the
story copies them explicitly: the genesis block, the org definition JSON, signed update files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from careledger.network.config import Profile
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

CLI = (sys.executable, "-m", "careledger.cli")
BASIC = "careledger.chaincode.contracts.basic:BasicContract"


@dataclass(frozen=True)
class Host:
    """Where an org's commands run: its folder, and the prefix that puts a process on its host."""

    name: str
    directory: Path
    prefix: tuple[str, ...] = ()

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A careledger command on this host, with --dir and --json."""
        return subprocess.run([*self.prefix, *CLI, *args, "--dir", str(self.directory), "--json"],
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str) -> dict:
        result = self.run(*args)
        assert result.returncode == 0, \
            f"{self.name}: careledger {' '.join(args)}\n{result.stdout}{result.stderr}"
        return json.loads(result.stdout)

    def refused(self, *args: str) -> dict:
        result = self.run(*args)
        assert result.returncode != 0, result.stdout
        return json.loads(result.stdout)["error"]

    def receive(self, source: Path, name: str | None = None) -> Path:
        """A public file handed to this host (what an admin would copy or mail)."""
        inbox = self.directory / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        target = inbox / (name or source.name)
        shutil.copyfile(source, target)
        return target

    @contextmanager
    def node(self, node_id: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """`careledger node peer|orderer` on this host, stopped (SIGTERM, then kill) at the end."""
        kind = "orderer" if node_id.startswith("orderer") else "peer"
        with open(log, "ab") as out:
            proc = subprocess.Popen([*self.prefix, *CLI, "node", kind, "--dir", str(self.directory),
                                     "--name", node_id], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = condition()
        except Exception as exc:  # a node still starting: connection refused, not found, ...
            found, last = None, exc
        else:
            last = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}"
                                 + (f" (last error: {last})" if last else ""))
        time.sleep(0.3)


def healthz(host: str, port: int) -> tuple[int, dict]:
    """The node's /healthz status and JSON body."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=3) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def heights(directory: Path, orgs: Mapping[str, str]) -> dict[str, int]:
    """Ledger height of each org's first peer of the profile in `directory`, asked as that org's
    `orgs[org]` identity (admin)."""
    result = {}
    for org, user in orgs.items():
        with QueryClient(directory, org, user) as client:
            result[org] = client.chain_info().height
    return result


def commit_info(directory: Path, org: str, block: int) -> tuple[bytes, bytes, bytes]:
    with QueryClient(directory, org) as client:
        info = client.commit_info(block)
    return info.commit_hash, info.state_digest, info.header_hash


def validation_code(directory: Path, org: str, tx_id: str) -> str:
    with QueryClient(directory, org) as client:
        code = client.transaction(tx_id).validation_code
    return common_pb2.ValidationCode.Name(code)


def endorsing_orgs(directory: Path, org: str, tx_id: str) -> list[str]:
    """The orgs whose peers endorsed a committed transaction (from their certificates)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    with QueryClient(directory, org) as client:
        envelope = client.transaction(tx_id).envelope
    tx = common_pb2.Transaction.FromString(envelope.payload)
    found = []
    for endorsement in tx.endorsements:
        cert = x509.load_pem_x509_certificate(endorsement.endorser)
        found.append(str(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value))
    return sorted(found)


def profile(directory: Path) -> Profile:
    return Profile.load(directory)


FOUNDERS = ("hospital", "insurer", "board")


def sign(update: Path, *signers: tuple[Host, str]) -> None:
    """Each admin signs the update file on their own host (the file travels, the keys stay)."""
    for host, who in signers:
        host.ok("channel", "sign", str(update), "--as", who)


def metric_height(address: str, ops_port: int) -> int:
    """A peer's ledger height from its /metrics (readable when its TLS no longer admits anyone)."""
    with urllib.request.urlopen(f"http://{address}:{ops_port}/metrics", timeout=3) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("careledger_ledger_height "):
                return int(float(line.split()[1]))
    raise AssertionError("no careledger_ledger_height in /metrics")


def prepare_pharmacy(net_dir: Path, pharmacy: Host, address: str) -> int:
    """On the pharmacy host: its keys and definition, then its profile from the genesis block
    (the one file it gets from the channel); returns its peer's operations port."""
    defined = pharmacy.ok("org", "define", "pharmacy", "--host", address, "--user", "phil")
    assert defined["peers"][0]["host"] == address
    genesis = pharmacy.receive(net_dir / "genesis.block")
    joined = pharmacy.ok("org", "join", "pharmacy", "--genesis", str(genesis))
    return int(joined["peers"][0]["ops_port"])


def join_and_endorse(founders: Mapping[str, Host], pharmacy: Host, address: str, ops_port: int) -> None:
    """With peer0.pharmacy running: refused until a majority adds pharmacy, then it catches up
    from block 0, and endorses under a definition that includes it; every peer agrees."""
    hospital, insurer, board = (founders[o] for o in FOUNDERS)
    net_dir = hospital.directory
    # not a member yet: the orderers refuse its TLS certificate; it waits, saying so
    refused = wait_until(lambda: "refuses this peer's TLS" in json.dumps(
        healthz(address, ops_port)[1]) and healthz(address, ops_port), 40, "the refusal in /healthz")
    assert refused[0] == 503  # type: ignore[index]

    definition = hospital.receive(pharmacy.directory / "pharmacy.json")
    add = net_dir / "add-pharmacy.pb"
    hospital.ok("channel", "update", "--add-org", str(definition), "--out", str(add))
    sign(add, (hospital, "hospital/admin"), (insurer, "insurer/admin"))
    added = board.ok("channel", "submit", str(add), "--as", "board/admin")

    # it pulls the chain from block 0, validating each block itself, and serves
    wait_until(lambda: heights(pharmacy.directory, {"pharmacy": "admin"})["pharmacy"] > added["block"],
               60, "peer0.pharmacy to catch up")
    wait_until(lambda: healthz(address, ops_port)[0] == 200, 20, "peer0.pharmacy healthy")
    assert commit_info(pharmacy.directory, "pharmacy", added["block"]) == \
        commit_info(net_dir, "hospital", added["block"])

    # a definition that includes pharmacy: each org packages the same source to the same id
    ours = hospital.ok("contract", "package", "--name", "basic", "--version", "2.0", "--module", BASIC,
                       "--out", str(net_dir / "basic-2.0.tar.gz"))
    theirs = pharmacy.ok("contract", "package", "--name", "basic", "--version", "2.0", "--module", BASIC,
                         "--out", str(pharmacy.directory / "basic-2.0.tar.gz"))
    assert ours["package_id"] == theirs["package_id"]
    for host in (hospital, insurer, board):
        host.ok("contract", "install", ours["file"], "--as", f"{host.name}/admin")
    pharmacy.ok("contract", "install", theirs["file"], "--as", "pharmacy/admin")
    policy = "AND(hospital, pharmacy)"
    for host, package in ((hospital, ours), (insurer, ours), (pharmacy, theirs)):  # 3 of 4 orgs
        host.ok("contract", "approve", "--name", "basic", "--policy", policy, "--package", package["file"],
                "--as", f"{host.name}/admin")
    hospital.ok("contract", "commit", "--name", "basic", "--policy", policy, "--package", ours["file"],
                "--as", "hospital/admin")

    # a pharmacy client submits through peer0.pharmacy, which asks hospital's peer too; a
    # hospital client through hospital's peer, whose gateway reaches peer0.pharmacy
    mine = pharmacy.ok("tx", "submit", "--as", "pharmacy:phil", "basic", "create_asset", "rx-1",
                       "pharmacy", "5")
    other = hospital.ok("tx", "submit", "--as", "hospital:alice", "basic", "create_asset", "rx-2",
                        "hospital", "7")
    peers = ((net_dir, "hospital"), (net_dir, "insurer"), (net_dir, "board"),
             (pharmacy.directory, "pharmacy"))
    wait_until(lambda: all(heights(d, {o: "admin"})[o] > other["block"] for d, o in peers), 20,
               "every peer to commit the block")
    for tx in (mine, other):
        for directory, org in peers:
            assert validation_code(directory, org, tx["tx_id"]) == "VALID", (org, tx)
        assert endorsing_orgs(net_dir, "hospital", tx["tx_id"]) == ["hospital", "pharmacy"]
    last = other["block"]
    assert commit_info(pharmacy.directory, "pharmacy", last) == commit_info(net_dir, "insurer", last)
    report = hospital.ok("ledger", "verify", "--state")
    assert all(entry["ok"] and not entry.get("state_problems") for entry in report.values()), report
