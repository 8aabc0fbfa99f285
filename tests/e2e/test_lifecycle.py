"""The contract lifecycle on a real network of its own, through the CLI: `network up` defined the
TOML's contracts on the ledger; basic is upgraded to a new version from a folder of source with a
changed endorsement policy while the peers run (same processes), and endorsements follow the new
policy from the block after the commit. Refused, each with a clear message and the ledger
unchanged: approve by a non-admin, commit without enough approvals, commit of a package whose hash
differs from the approved one, a sequence skip. board's peer never installs the new package: it
refuses to endorse naming contract, version, package id, peer and the install command, yet keeps
committing the same blocks (same height and commit hashes; `ledger verify --state` re-validates
every block, each with the definitions in force at it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clijson import cli, heights, ok, refused

from careledger.gateway import EndorseError, EvaluateError
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork, local_network
from careledger.protos import common_pb2

CONFIG = Path(__file__).with_name("network.toml")
V1_POLICY = "AND(hospital, insurer)"
V2_POLICY = "OR(hospital, insurer)"

BASIC_V2 = '''
from careledger.chaincode import Context, Contract, evaluate, submit

from .version import VERSION


class Basic(Contract):
    """basic, version 2: a key-value store that says its version."""

    name = "basic"

    @submit
    def put(self, ctx: Context, key: str, value: str) -> dict[str, str]:
        ctx.stub.put_state(key, value)
        return {"key": key, "value": value, "version": VERSION}

    @evaluate
    def version(self, ctx: Context) -> str:
        return VERSION
'''


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("lifecycle")) as network:
        yield network


def settled(net: LocalNetwork) -> dict[str, int]:
    """Every peer's height once they agree (a block just cut reaches all peers quickly)."""
    deadline = time.monotonic() + 10
    while True:
        view = heights(net)
        if len(set(view.values())) == 1 or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def definitions(net: LocalNetwork) -> dict[str, dict]:
    listed = ok(cli(net.directory, "contract", "list"))
    return {d["name"]: d for d in listed["definitions"]}  # type: ignore[index]


def package_v2(tmp: Path, version_text: str = "2.0") -> tuple[Path, str]:
    src = tmp / f"basic-{version_text}"
    (src / "basic2").mkdir(parents=True)
    (src / "basic2" / "__init__.py").write_text(BASIC_V2)
    (src / "basic2" / "version.py").write_text(f"VERSION = {version_text!r}\n")
    out = tmp / f"basic-{version_text}.tar.gz"
    made = ok(cli(tmp, "contract", "package", "--name", "basic", "--version", "2.0", "--path", str(src),
                  "--entry", "basic2:Basic", "--out", str(out)))
    return out, made["package_id"]  # type: ignore[index]


def test_network_up_defined_the_toml_contracts_on_the_ledger(net: LocalNetwork) -> None:
    defined = definitions(net)
    assert sorted(defined) == ["basic", "claims", "consent", "credentials"]
    basic = defined["basic"]
    assert (basic["version"], basic["sequence"], basic["policy"]) == ("1.0", 1, V1_POLICY)
    assert basic["approvals"] == ["board", "hospital", "insurer"]
    listed = ok(cli(net.directory, "contract", "list"))
    for peer in net.profile.peers:  # every peer has every definition's package
        assert {d["package_id"] for d in defined.values()} <= set(listed["installed"][peer.id])  # type: ignore[index]


def test_an_upgrade_with_a_new_policy_takes_effect_without_a_restart(net: LocalNetwork,
                                                                     tmp_path: Path) -> None:
    pids = {n.id: n.pid for n in launcher.status(net.directory)}
    package, package_id = package_v2(tmp_path)
    assert package_v2(tmp_path / "again")[1] == package_id  # the same source, the same id
    for org in ("hospital", "insurer"):  # board's peer never gets the package
        installed = ok(cli(net.directory, "contract", "install", str(package), "--as", f"{org}/admin"))
        assert installed == [{"peer": f"peer0.{org}", "package_id": package_id, "already_installed": False}]
    # an org admin manages only its own org's peers
    error = refused(cli(net.directory, "contract", "install", str(package), "--peer", "peer0.board",
                        "--as", "hospital/admin"))
    assert error["code"] == "PERMISSION_DENIED"
    assert "hospital/admin is not an admin of board" in error["message"]
    v2 = ["--name", "basic", "--version", "2.0", "--policy", V2_POLICY, "--package-id", package_id]

    # refused, the ledger unchanged: a non-admin's approval
    before = settled(net)
    error = refused(cli(net.directory, "contract", "approve", *v2, "--as", "hospital/drsmith"))
    assert error["code"] == "PERMISSION_DENIED"
    assert "hospital/drsmith may not approve contract definitions (of basic)" in error["message"]
    assert "only an org admin may" in error["message"]
    assert settled(net) == before

    # refused: a commit with hospital's approval alone
    ok(cli(net.directory, "contract", "approve", *v2, "--as", "hospital/admin"))
    before = settled(net)
    error = refused(cli(net.directory, "contract", "commit", *v2, "--as", "hospital/admin"))
    assert ("commit of basic sequence 2 has approvals from hospital only of that definition; the "
            "lifecycle policy MAJORITY of board, hospital, insurer needs 2; ask insurer or board to "
            "approve") in error["message"]
    # refused: a commit of a package other than the approved one (same label, another hash)
    ok(cli(net.directory, "contract", "approve", *v2, "--as", "insurer/admin"))
    _, other_id = package_v2(tmp_path / "other", "2.0-other")
    assert other_id != package_id and other_id.split(":")[0] == package_id.split(":")[0]
    before = settled(net)
    error = refused(cli(net.directory, "contract", "commit", *v2[:-1], other_id, "--as", "hospital/admin"))
    assert f"hospital approved package {package_id}" in error["message"]
    assert f"not package {other_id}" in error["message"]
    # refused: a sequence skip
    error = refused(cli(net.directory, "contract", "commit", *v2, "--sequence", "3",
                        "--as", "hospital/admin"))
    assert ("commit of basic sequence 3 refused: basic is at sequence 1 (version 1.0); the next "
            "definition must be sequence 2") in error["message"]
    assert settled(net) == before
    assert definitions(net)["basic"]["version"] == "1.0"

    with net.connect("hospital:admin") as gateway:
        basic = gateway.get_network(net.profile.channel).get_contract("basic")
        # under version 1's policy, hospital's endorsement alone does not suffice
        alone = basic.new_proposal("create_asset", ["lc-1", "ward", "1"], endorsing_orgs=["hospital"])
        status = alone.endorse().submit().get_status()
        assert status.code == common_pb2.ENDORSEMENT_POLICY_FAILURE

        committed = ok(cli(net.directory, "contract", "commit", *v2, "--as", "board/admin"))
        assert committed["sequence"] == 2 and committed["approvals"] == ["hospital", "insurer"]  # type: ignore[index]
        settled(net)
        # from the next block: version 2's code and policy (hospital alone now suffices)
        assert basic.evaluate_transaction("version") == b"2.0"
        put = basic.new_proposal("put", ["lc-2", "v"], endorsing_orgs=["hospital"]).endorse()
        status = put.submit().get_status()
        assert status.successful and json.loads(put.result)["version"] == "2.0"
        assert status.block_number > committed["block"]  # type: ignore[index]
        with pytest.raises(EndorseError):  # version 1's function is gone
            basic.submit_transaction("create_asset", "lc-3", "ward", "1")

    # board's peer lacks the package: it refuses to endorse, naming what to do
    with net.connect("board:admin") as gateway:
        on_board = gateway.get_network(net.profile.channel).get_contract("basic")
        with pytest.raises(EvaluateError) as caught:
            on_board.evaluate_transaction("version")
        message = str(caught.value)
        for part in ("contract basic version 2.0", package_id, "peer0.board", "careledger contract install"):
            assert part in message
        assert caught.value.code.name == "FAILED_PRECONDITION"

    # ... yet it committed the same blocks as the others, and nobody restarted
    assert len(set(settled(net).values())) == 1
    assert {n.id: n.pid for n in launcher.status(net.directory)} == pids
    ok(cli(net.directory, "ledger", "verify", "--state"))  # every block re-validated alike
    listed = ok(cli(net.directory, "contract", "list"))
    assert package_id not in listed["installed"]["peer0.board"]  # type: ignore[index]
    assert package_id in listed["installed"]["peer0.hospital"]  # type: ignore[index]
    assert listed["definitions"][0]["version"] == "2.0"  # type: ignore[index]
