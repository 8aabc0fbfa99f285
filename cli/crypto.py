"""`careledger crypto generate|issue`."""

from __future__ import annotations

from pathlib import Path

import click

from careledger.cli.common import dir_option, emit, json_option, parse_attributes
from careledger.cli.errors import cli_error
from careledger.network.config import ConfigError, Layout, NetworkConfig
from careledger.network.identity.certs import PSEUDONYM, IdentitySpec, issue_identity, new_pseudonym
from careledger.network.identity.errors import IdentityError
from careledger.network.local.launcher import generate_crypto


@click.group()
def crypto() -> None:
    """Certificate authorities and identities (X.509, ECDSA P-256)."""


@crypto.command()
@dir_option
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def generate(directory: Path, config_path: Path | None, as_json: bool) -> None:
    """Make a CA per organisation and certificates for nodes, admins and users (idempotent)."""
    layout = Layout(directory.resolve())
    try:
        generate_crypto(layout, NetworkConfig.load(config_path))
    except (ConfigError, IdentityError) as exc:
        raise cli_error(exc) from exc
    orgs = sorted(p.name for p in layout.crypto.iterdir() if p.is_dir())
    emit(as_json, {"crypto": str(layout.crypto), "orgs": orgs},
         f"crypto material for {', '.join(orgs)} in {layout.crypto}")


@crypto.command()
@dir_option
@click.argument("org")
@click.argument("name", required=False, default="")
@click.option("--role", default="client", show_default=True,
              type=click.Choice(["client", "admin", "peer", "orderer"]))
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="Attribute carried in the certificate, e.g. role=practitioner (repeatable).")
@json_option
def issue(directory: Path, org: str, name: str, role: str, attrs: tuple[str, ...], as_json: bool) -> None:
    """Issue a new identity from ORG's CA, e.g. a patient or a practitioner.

    A patient's NAME is their id on the ledger, so it is a pseudonym (pt- and 8 or more letters or
    digits), never a name: leave NAME out and one is made. Keep the link to the person in the
    hospital's own records, off the ledger.
    """
    attributes = parse_attributes(attrs)
    if attributes.get("role") == "patient":
        name = name or new_pseudonym()
        if not PSEUDONYM.fullmatch(name):
            raise click.BadParameter(
                f"{name!r} would put a patient's name on the ledger: a patient's identity is a pseudonym "
                "like pt-7f3a9c21e4b0; leave NAME out and one is made",
                param_hint="NAME",
            )
    elif not name:
        raise click.BadParameter("NAME is needed for any identity but a patient's", param_hint="NAME")
    try:
        path = issue_identity(Layout(directory.resolve()).crypto, org,
                              IdentitySpec(name, role, attributes))
    except IdentityError as exc:
        raise cli_error(exc) from exc
    emit(as_json, {"org": org, "name": name, "path": str(path)}, f"issued {org}/{name} in {path}")
