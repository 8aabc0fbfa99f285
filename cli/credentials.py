"""`careledger credentials export-vc|export-status-list|verify-vc`: licences as signed W3C VCs.

Export reads the licence through the SDK and signs it with the registrar's own key on this
machine; verify needs no network at all, only the board CA's certificate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import dir_option, emit, json_option, split_who
from careledger.cli.errors import cli_error
from careledger.cli.tx import gateway_channel
from careledger.gateway import GatewayError, LocalNetworkError, connect_local
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.signing import Signer
from careledger.network.identity.vc import (
    ISSUER_PREFIX,
    VerificationError,
    VerifiedCredential,
    issue_credential,
    status_list_credential,
)
from careledger.network.identity.vc import verify_credential as verify_vc_token

CONTRACT = "credentials"
PURPOSES = ("revocation", "suspension")


def _evaluate(directory: Path, who: str, function: str, *args: str) -> dict[str, Any]:
    """One evaluate of the credentials contract as `who`, decoded from JSON."""
    try:
        with connect_local(directory, who) as gateway:
            contract = gateway.get_network(gateway_channel(directory)).get_contract(CONTRACT)
            return json.loads(contract.evaluate_transaction(function, *args))
    except (GatewayError, LocalNetworkError) as exc:
        raise cli_error(exc) from exc


def _signer(directory: Path, who: str) -> Signer:
    org, user = split_who(who)
    try:
        return Signer.from_dir(directory / "crypto" / org / user)
    except IdentityError as exc:
        raise cli_error(exc) from exc


def _write(token: str, out: Path | None, what: str, as_json: bool) -> None:
    """The compact JWS to `out`, or to stdout when no file is named; with --json, an object
    saying what was written (the token itself when no file is named)."""
    if out is not None:
        out.write_text(token + "\n")
    if as_json:
        click.echo(json.dumps({"what": what, "path": str(out)} if out else {"what": what, "token": token}))
    elif out is None:
        click.echo(token)
    else:
        click.echo(f"wrote {what} to {out}", err=True)


def _as_option(fn: Any) -> Any:
    return click.option("--as", "who", required=True, metavar="ORG:USER",
                        help="Board registrar whose key signs, e.g. board:rita.")(fn)


def _out_option(fn: Any) -> Any:
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write the compact JWS here (default: stdout).")(fn)


@click.group()
def credentials() -> None:
    """Export licences as signed W3C Verifiable Credentials and verify them off-line."""


@credentials.command("export-vc")
@dir_option
@_as_option
@_out_option
@click.argument("practitioner")
@json_option
def export_vc(directory: Path, who: str, out: Path | None, practitioner: str, as_json: bool) -> None:
    """Sign PRACTITIONER's (org/name) licence as a VC 2.0 JWS (application/vc+jwt)."""
    document = _evaluate(directory, who, "credential_document", practitioner)
    try:
        token = issue_credential(document, _signer(directory, who))
    except IdentityError as exc:
        raise cli_error(exc) from exc
    _write(token, out, f"licence credential of {practitioner}", as_json)


@credentials.command("export-status-list")
@dir_option
@_as_option
@_out_option
@click.option("--purpose", type=click.Choice(PURPOSES), default="revocation", show_default=True)
@json_option
def export_status_list(directory: Path, who: str, out: Path | None, purpose: str, as_json: bool) -> None:
    """Sign the current BitstringStatusListCredential for PURPOSE (GZIP, 16 KiB minimum)."""
    listing = _evaluate(directory, who, "status_list", purpose)
    signer = _signer(directory, who)
    document = status_list_credential(
        listing["statusListCredential"], purpose, listing["indices"],
        f"{ISSUER_PREFIX}{signer.org}", datetime.now(UTC),
    )
    try:
        token = issue_credential(document, signer)
    except IdentityError as exc:
        raise cli_error(exc) from exc
    _write(token, out, f"{purpose} status list ({len(listing['indices'])} set)", as_json)


@credentials.command("verify-vc")
@dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca", "ca", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The board CA's certificate (PEM): the only thing trusted. Default: the board CA "
                   "of the network in --dir (crypto/board/ca/cert.pem).")
@click.option("--status-list", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A status list credential from export-status-list; checks the licence's bit.")
@click.option("--at", default=None, metavar="ISO",
              help="Judge validity at this ISO 8601 time (default: now); a date means 00:00Z.")
@json_option
def verify_vc(directory: Path, file: Path, ca: Path | None, status_list: Path | None, at: str | None,
              as_json: bool) -> None:
    """Check FILE off-line; exit 0 when valid, 1 naming the check that failed."""
    moment = _parse_at(at)
    if ca is None:
        ca = directory / "crypto" / "board" / "ca" / "cert.pem"
        if not ca.is_file():
            raise click.UsageError(f"no board CA certificate at {ca}; give --ca FILE or the network's --dir")
    try:
        verified = verify_vc_token(
            file.read_text(), ca.read_bytes(), at=moment,
            status_list=status_list.read_text() if status_list else None,
        )
    except VerificationError as exc:
        emit(as_json, {"valid": False, "failure": str(exc.failure), "reason": exc.detail},
             f"INVALID ({exc.failure}): {exc.detail}")
        click.get_current_context().exit(1)
    except (IdentityError, OSError, UnicodeDecodeError) as exc:
        raise cli_error(exc) from exc
    emit(as_json, _summary(verified), lambda: _text(verified))


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 date or date-time", param_hint="--at") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _summary(verified: VerifiedCredential) -> dict[str, Any]:
    status = verified.status
    return {
        "valid": True,
        "signer": verified.signer.id,
        "checked_at": verified.checked_at.isoformat().replace("+00:00", "Z"),
        "status": None if status is None else {
            "purpose": status.purpose, "list": status.list_id, "index": status.index,
            "list_valid_from": status.list_valid_from,
        },
        "credential": verified.credential,
    }


def _text(verified: VerifiedCredential) -> str:
    credential, status = verified.credential, verified.status
    subject = credential["credentialSubject"]
    window = f"{credential.get('validFrom', '-')} to {credential.get('validUntil', '-')}"
    checked = (f"not {'suspended' if status.purpose == 'suspension' else 'revoked'} "
               f"per list of {status.list_valid_from}" if status else "no status list given")
    return (f"VALID: {subject.get('id')} licence {subject.get('license', '?')}, signed by "
            f"{verified.signer.id}, valid {window}; status: {checked}")
