"""`careledger crypto issue` gives a patient a pseudonym: their identity name is their id on the ledger."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from careledger.cli.crypto import PSEUDONYM, new_pseudonym
from careledger.cli.main import cli
from careledger.network.identity.certs import generate_org


def issue(directory: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["crypto", "issue", "--dir", str(directory), "--json", *args])
    return result.exit_code, result.output


def test_a_patient_without_a_name_gets_a_pseudonym_and_a_name_is_refused(tmp_path: Path) -> None:
    generate_org(tmp_path / "crypto", "hospital", [])
    code, output = issue(tmp_path, "hospital", "--attr", "role=patient")
    assert code == 0, output
    assert PSEUDONYM.fullmatch(json.loads(output)["name"])
    code, output = issue(tmp_path, "hospital", "jane-doe", "--attr", "role=patient")
    assert code == 2 and "would put a patient's name on the ledger" in output
    code, output = issue(tmp_path, "hospital", "drwho", "--attr", "role=practitioner")
    assert code == 0, output
    code, output = issue(tmp_path, "hospital", "--attr", "role=practitioner")
    assert code == 2 and "NAME is needed" in output
    assert new_pseudonym() != new_pseudonym()
