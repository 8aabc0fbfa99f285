"""Options and output shared by every command: the network directory, --json, errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


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
    """Progress lines go to stderr so that --json output on stdout stays parseable."""
    return lambda message: click.echo(message, err=True) if not as_json else None


def split_who(who: str) -> tuple[str, str]:
    org, _, user = who.partition(":")
    return org, user or "admin"
