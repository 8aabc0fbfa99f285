"""The CLI without a network: options every command has, errors as JSON, wording, small helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from careledger.cli import common
from careledger.cli.demo import money, short_reference
from careledger.cli.errors import cli_error, in_cli_words
from careledger.cli.events import reconnect_within
from careledger.cli.main import cli
from careledger.gateway import CommitError, LocalNetworkError, Reconnect
from careledger.gateway.local import local_peer
from careledger.protos import common_pb2


def leaf_commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        return [leaf for name, sub in command.commands.items() for leaf in leaf_commands(sub, (*path, name))]
    return [(" ".join(path), command)]


@pytest.mark.parametrize(("name", "command"), leaf_commands(cli),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_takes_dir_and_json(name: str, command: click.Command) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert {"--dir", "--json"} <= options, name


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_failure_with_json_is_a_json_error_object_with_a_code(tmp_path: Path) -> None:
    code, out = run("network", "status", "--dir", str(tmp_path / "none"), "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "NO_NETWORK" and "none" in error["message"]


def test_a_usage_error_with_json_is_json_too_and_exits_2() -> None:
    code, out = run("tx", "submit", "--json")
    assert code == 2
    assert json.loads(out)["error"]["code"] == "USAGE"


def test_without_json_a_failure_is_one_error_line(tmp_path: Path) -> None:
    code, out = run("network", "status", "--dir", str(tmp_path / "none"))
    assert code == 1 and out.startswith("Error: no network in")


def test_network_down_on_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    code, out = run("network", "down", "--dir", str(tmp_path / "typo"))
    assert code == 1 and "no folder" in out and "stopped 0" not in out
    code, out = run("network", "down", "--dir", str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "NO_NETWORK"


def test_a_policy_failure_names_the_cli_flag_not_the_sdk_parameter() -> None:
    error = CommitError("tx1", common_pb2.ENDORSEMENT_POLICY_FAILURE, 7)
    assert "endorsing_orgs" in str(error)  # the SDK's words, which the CLI must translate
    message = cli_error(error).message
    assert "endorsing_orgs" not in message and "--org ORG" in message
    assert cli_error(error).code == "ENDORSEMENT_POLICY_FAILURE"
    assert in_cli_words("plain") == "plain"


def _network_dir(tmp_path: Path) -> Path:
    (tmp_path / "network.json").write_text(json.dumps({"channel": "healthcare", "peers": [
        {"name": "peer0", "org": "hospital", "host": "127.0.0.1", "port": 7051}]}))
    for user in ("admin", "alice", "bob"):
        (tmp_path / "crypto" / "hospital" / user).mkdir(parents=True)
        (tmp_path / "crypto" / "hospital" / user / "cert.pem").write_text("")
    return tmp_path


def test_a_mistyped_user_is_shown_the_known_ones_not_told_to_start_the_network(tmp_path: Path) -> None:
    with pytest.raises(LocalNetworkError) as caught:
        local_peer(_network_dir(tmp_path), "hospital:alcie", None, {})
    message = str(caught.value)
    assert "network up" not in message
    assert "hospital:alcie" in message and "admin, alice, bob" in message


def test_a_mistyped_user_on_the_command_line_gets_the_list_as_json(tmp_path: Path) -> None:
    code, out = run("tx", "evaluate", "--dir", str(_network_dir(tmp_path)), "--as", "hospital:alcie",
                    "basic", "read_asset", "x", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "NO_NETWORK" and "alice" in error["message"]


def test_give_up_after_bounds_the_reconnect_attempts_by_their_back_off() -> None:
    policy = Reconnect(initial_delay=0.2, max_delay=5.0)
    assert reconnect_within(0, policy).max_attempts is None  # 0: forever
    bounded = reconnect_within(60, policy)
    attempts = bounded.max_attempts
    assert attempts is not None
    waits = [policy.delay(n) for n in range(1, attempts + 1)]
    assert sum(waits) >= 60 > sum(waits[:-1])


def test_the_stream_commands_say_how_a_replay_ends() -> None:
    for name in ("events", "blocks"):
        code, out = run(name, "--help")
        assert code == 0
        assert "--no-follow" in out and "--give-up-after" in out and "--count" in out


def test_the_demo_prints_amounts_as_money_and_short_references() -> None:
    assert money(8000, "USD") == "USD 80.00"
    assert money(123456789, "EUR") == "EUR 1,234,567.89"
    assert short_reference("BG", "e46142bcc0e95567" + "0" * 48) == "BG-E46142BC"


def test_the_next_command_is_spelled_as_the_shell_can_run_it(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "careledger"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/careledger", "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv is not activated
    assert common.invocation() == ".venv/bin/careledger"
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # source .venv/bin/activate
    assert common.invocation() == "careledger"
    monkeypatch.setattr(sys, "argv", ["/somewhere/careledger/cli/__main__.py"])
    assert common.invocation().endswith(" -m careledger.cli")


def test_verify_vc_finds_the_board_ca_in_dir_or_asks_for_it(tmp_path: Path) -> None:
    token = tmp_path / "vc.jwt"
    token.write_text("x")
    code, out = run("credentials", "verify-vc", str(token), "--dir", str(tmp_path), "--json")
    assert code == 2 and "--ca" in json.loads(out)["error"]["message"]
