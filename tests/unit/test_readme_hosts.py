"""README's "Run a network across hosts": every command of its blocks is a real command with real
options (parsed by the click commands themselves), so an option renamed later fails CI. The blocks
need several hosts, so they are `text`, which test_docs does not run; test_across_hosts runs the
same steps across network namespaces."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from careledger.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
FILES = re.compile(r"\.(toml|block|json|pb|tar\.gz)$")  # what the commands read must exist to parse


def section_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Run a network across hosts\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"^```text\n(.*?)^```", section, re.M | re.S)
    return [line.split(" #", 1)[0].strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def test_the_across_hosts_commands_are_real_commands_with_real_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = section_commands()
    assert len(lines) >= 14
    assert {"prepare", "join", "node", "submit", "approve"} <= {w for line in lines for w in line.split()}
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "careledger", line
        for arg in argv:
            if FILES.search(arg) and not arg.startswith("careledger."):
                (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / arg).touch()
        command: click.Command = cli
        args = argv[1:]
        while isinstance(command, click.Group):
            command = command.commands[args.pop(0)]
        command.make_context(argv[1], args)  # refuses an unknown option or a missing argument
