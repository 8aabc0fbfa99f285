"""The README's examples run against a real network, so the docs cannot rot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from careledger.network.local.testing import LocalNetwork

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


SDK_EXAMPLES = [b for b in blocks("python") if "def test_" not in b]


def test_readme_has_the_examples_this_file_runs() -> None:
    assert len(SDK_EXAMPLES) >= 3
    assert blocks("bash")


@pytest.mark.parametrize("example", SDK_EXAMPLES, ids=lambda b: b.splitlines()[-1].strip()[:40])
def test_sdk_example_runs(net: LocalNetwork, example: str) -> None:
    code = example.replace('".careledger"', repr(str(net.directory)))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})  # noqa: S102


def test_pytest_example_is_the_one_ci_runs() -> None:
    (example,) = [b for b in blocks("python") if "def test_" in b]
    assert example == (ROOT / "tests/e2e/test_integrator_example.py").read_text().split('"""\n\n', 1)[1]


def test_admin_commands_run(net: LocalNetwork) -> None:
    env = {**os.environ, "CARELEDGER_HOME": str(net.directory)}
    for line in blocks("bash")[0].splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("source "):  # the venv the README's first command makes
            assert line == "source .venv/bin/activate"
            assert README.split("```sh\n", 1)[1].startswith("python3 -m venv .venv && ")
            continue
        argv = shlex.split(line)
        assert argv[0] == "careledger"
        done = subprocess.run([sys.executable, "-m", "careledger.cli", *argv[1:]], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
