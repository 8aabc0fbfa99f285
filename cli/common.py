"""Options and output shared by every command: the network directory, --json, errors.

With --json a failure is JSON too: `{"error": {"code": CODE, "message": TEXT}}` on stdout (where a
script already reads), exit status 1 (2 for a usage error). CODE is a gRPC status name for a
refusal by a node (NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE, ...), a validation code for an
invalid transaction (ENDORSEMENT_POLICY_FAILURE, ...), or one of USAGE, NO_NETWORK, CONFIG,
CRYPTO, LAUNCH, INTERRUPTED, FAILED.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


JSON_ERRORS = "careledger.json_errors"  # ctx.meta key: the command line asked for --json


class CliError(click.ClickException):
    """A failure a command reports: a stable code for scripts and a message for people."""

    def __init__(self, message: str, code: str = "FAILED", tx_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.tx_id = tx_id

    def as_json(self) -> dict[str, Any]:
        """The `{"error": {...}}` object --json prints."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.tx_id:
            error["tx_id"] = self.tx_id
        return {"error": error}


class Interrupted(CliError):
    """The user pressed Ctrl-C: exit status 130, as a shell reports a command ended by SIGINT."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted (Ctrl-C)", "INTERRUPTED")


class JsonError(click.ClickException):
    """Any ClickException, shown as a JSON error object on stdout because --json was given."""

    def __init__(self, cause: click.ClickException) -> None:
        super().__init__(cause.format_message())
        self._exit_code = cause.exit_code
        if isinstance(cause, CliError):
            self.payload = cause.as_json()
        else:
            code = "USAGE" if isinstance(cause, click.UsageError) else "FAILED"
            self.payload = {"error": {"code": code, "message": cause.format_message()}}

    @property
    def exit_code(self) -> int:
        """The cause's exit status (click declares it per class; here it is per cause)."""
        return self._exit_code

    @exit_code.setter
    def exit_code(self, value: int) -> None:
        self._exit_code = value

    def show(self, file: Any = None) -> None:
        click.echo(json.dumps(self.payload, sort_keys=True))


def wants_json(args: list[str]) -> bool:
    """Whether a command line asks for --json (before any `--`)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def default_dir() -> Path:
    return Path(os.environ.get("CARELEDGER_HOME", ".careledger"))


def dir_option(fn: F) -> F:
    return click.option(
        "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=default_dir,
        show_default="$CARELEDGER_HOME or ./.careledger",
        help="Network directory: config, keys, ledgers and logs.",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    """Print `data` as JSON for scripts, or `text` for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(text() if callable(text) else text)


def progress(as_json: bool) -> Callable[[str], None]:
    """Progress of long work, one line a step, on stderr (also with --json: stdout stays parseable)."""
    return lambda message: click.echo(message, err=True)


def parse_attributes(attrs: tuple[str, ...]) -> dict[str, str]:
    """--attr KEY=VALUE options as a mapping."""
    attributes = {}
    for a in attrs:
        key, sep, value = a.partition("=")
        if not sep:
            raise click.BadParameter(f"{a!r} is not KEY=VALUE", param_hint="--attr")
        attributes[key] = value
    return attributes


def split_who(who: str) -> tuple[str, str]:
    org, _, user = who.partition(":")
    return org, user or "admin"


def invocation() -> str:
    """How to run this command again from the caller's shell: `careledger` when that name on PATH
    is this program (an activated venv), else the path it was started by (`.venv/bin/careledger`),
    else `python -m careledger.cli` with this interpreter."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is None or started.name != "careledger":
        return f"{_shell_path(Path(sys.executable))} -m careledger.cli"
    on_path = shutil.which("careledger")
    if on_path and Path(on_path).resolve() == started.resolve():
        return "careledger"
    return _shell_path(started)


def _shell_path(path: Path) -> str:
    """path as short as the shell accepts: relative to the working directory when below it."""
    try:
        relative = path.absolute().relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if len(relative.parts) > 1 else f"./{relative}"
