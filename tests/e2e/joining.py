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
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        return target

    @contextmanager
    def node(self, node_id: str, log: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
        """`careledger node peer|orderer` on this host, stopped (SIGTERM, then kill) at the end."""
        kind = "orderer" if node_id.startswith("orderer") else "peer"
        with open(log, "ab") as out:
            proc = subprocess.Popen([*self.prefix, *CLI, "node", kind, "--dir", str(self.directory),
                                     "--name", node_id, *options], stdout=out, stderr=subprocess.STDOUT,
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


def height(host: Host) -> int:
    """The height of the host's org's first peer, asked as its admin from the host's folder."""
    return heights(host.directory, {host.name: "admin"})[host.name]


def commit_info(host: Host, block: int) -> tuple[bytes, bytes, bytes]:
    with QueryClient(host.directory, host.name) as client:
        info = client.commit_info(block)
    return info.commit_hash, info.state_digest, info.header_hash


def validation_code(host: Host, tx_id: str) -> str:
    with QueryClient(host.directory, host.name) as client:
        code = client.transaction(tx_id).validation_code
    return common_pb2.ValidationCode.Name(code)


def endorsing_orgs(host: Host, tx_id: str) -> list[str]:
    """The orgs whose peers endorsed a committed transaction (from their certificates)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    with QueryClient(host.directory, host.name) as client:
        envelope = client.transaction(tx_id).envelope
    tx = common_pb2.Transaction.FromString(envelope.payload)
    found = []
    for endorsement in tx.endorsements:
        cert = x509.load_pem_x509_certificate(endorsement.endorser)
        found.append(str(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value))
    return sorted(found)


FOUNDERS = ("hospital", "insurer", "board")


def sign(update: Path, *signers: tuple[Host, str]) -> Path:
    """Each admin signs the update file on their own host, in turn: the file travels from one to
    the next (the keys stay); the last signer's copy is returned."""
    for host, who in signers:
        update = host.receive(update)
        host.ok("channel", "sign", str(update), "--as", who)
    return update


def metric_height(address: str, ops_port: int) -> int:
    """A peer's ledger height from its /metrics (readable when its TLS no longer admits anyone)."""
    with urllib.request.urlopen(f"http://{address}:{ops_port}/metrics", timeout=3) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("careledger_ledger_height "):
                return int(float(line.split()[1]))
    raise AssertionError("no careledger_ledger_height in /metrics")


def prepare_pharmacy(net_dir: Path, pharmacy: Host, address: str, peers: int = 1) -> int:
    """On the pharmacy host: its keys and definition, then its profile from the genesis block
    (the one file it gets from the channel); returns peer0's operations port."""
    defined = pharmacy.ok("org", "define", "pharmacy", "--host", address, "--user", "phil",
                          "--peers", str(peers))
    assert defined["peers"][0]["host"] == address
    genesis = pharmacy.receive(net_dir / "genesis.block")
    joined = pharmacy.ok("org", "join", "pharmacy", "--genesis", str(genesis))
    return int(joined["peers"][0]["ops_port"])


def join_and_endorse(founders: Mapping[str, Host], pharmacy: Host, address: str, ops_port: int) -> None:
    """With peer0.pharmacy running: refused until a majority adds pharmacy, then it catches up
    from block 0, and endorses under a definition that includes it; every peer agrees. Each
    founder's commands run in its own folder (they may share one)."""
    hospital, insurer, board = (founders[o] for o in FOUNDERS)
    # not a member yet: the orderers refuse its TLS certificate; it waits, saying so
    refused = wait_until(lambda: "refuses this peer's TLS" in json.dumps(
        healthz(address, ops_port)[1]) and healthz(address, ops_port), 40, "the refusal in /healthz")
    assert refused[0] == 503  # type: ignore[index]

    definition = hospital.receive(pharmacy.directory / "pharmacy.json")
    add = hospital.directory / "add-pharmacy.pb"
    hospital.ok("channel", "update", "--add-org", str(definition), "--out", str(add))
    signed = sign(add, (hospital, "hospital/admin"), (insurer, "insurer/admin"))
    added = board.ok("channel", "submit", str(board.receive(signed)), "--as", "board/admin")

    # it pulls the chain from block 0, validating each block itself, and serves
    wait_until(lambda: height(pharmacy) > added["block"], 60, "peer0.pharmacy to catch up")
    wait_until(lambda: healthz(address, ops_port)[0] == 200, 20, "peer0.pharmacy healthy")
    assert commit_info(pharmacy, added["block"]) == commit_info(hospital, added["block"])

    # a definition that includes pharmacy: each org packages the same source to the same id
    ours = hospital.ok("contract", "package", "--name", "basic", "--version", "2.0", "--module", BASIC,
                       "--out", str(hospital.directory / "basic-2.0.tar.gz"))
    theirs = pharmacy.ok("contract", "package", "--name", "basic", "--version", "2.0", "--module", BASIC,
                         "--out", str(pharmacy.directory / "basic-2.0.tar.gz"))
    assert ours["package_id"] == theirs["package_id"]
    packages = {host.name: host.receive(Path(ours["file"])) for host in (hospital, insurer, board)}
    packages["pharmacy"] = Path(theirs["file"])
    for host in (hospital, insurer, board):
        host.ok("contract", "install", str(packages[host.name]), "--as", f"{host.name}/admin")
    pharmacy.ok("contract", "install", str(packages["pharmacy"]), "--as", "pharmacy/admin",
                "--peer", "peer0.pharmacy")  # the one running
    policy = "AND(hospital, pharmacy)"
    for host in (hospital, insurer, pharmacy):  # 3 of 4 orgs: the lifecycle's MAJORITY
        host.ok("contract", "approve", "--name", "basic", "--policy", policy, "--package",
                str(packages[host.name]), "--as", f"{host.name}/admin")
    hospital.ok("contract", "commit", "--name", "basic", "--policy", policy, "--package",
                str(packages["hospital"]), "--as", "hospital/admin")

    # a pharmacy client submits through peer0.pharmacy, which asks hospital's peer too; a
    # hospital client through hospital's peer, whose gateway reaches peer0.pharmacy
    mine = pharmacy.ok("tx", "submit", "--as", "pharmacy:phil", "basic", "create_asset", "rx-1",
                       "pharmacy", "5")
    other = hospital.ok("tx", "submit", "--as", "hospital:alice", "basic", "create_asset", "rx-2",
                        "hospital", "7")
    everyone = (hospital, insurer, board, pharmacy)
    wait_until(lambda: all(height(h) > other["block"] for h in everyone), 20, "every peer to commit")
    for tx in (mine, other):
        for host in everyone:
            assert validation_code(host, tx["tx_id"]) == "VALID", (host.name, tx)
        assert endorsing_orgs(hospital, tx["tx_id"]) == ["hospital", "pharmacy"]
    last = other["block"]
    assert len({commit_info(host, last) for host in everyone}) == 1  # same codes, writes and state
    for host in {h.directory: h for h in everyone}.values():  # each host re-validates its own nodes
        report = host.ok("ledger", "verify", "--state")
        assert report and all(e["ok"] and not e.get("state_problems") for e in report.values()), report
