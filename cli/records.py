"""`careledger records put|get|erase`: the off-ledger record store, through the same SDK calls an
application makes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from careledger.cli.common import CliError, dir_option, emit, json_option, split_who
from careledger.cli.errors import cli_error
from careledger.cli.tx import gateway_channel
from careledger.gateway import CommitError, GatewayError, LocalNetworkError, connect_local
from careledger.gateway.records import RecordStore, connect_local_records
from careledger.network.config import ConfigError, Profile

F = TypeVar("F", bound=Callable[..., Any])


def _identity_options(fn: F) -> F:
    fn = click.option("--peer", default=None, metavar="NAME.ORG",
                      help="Peer hosting the store (default: the records host_org's first peer).")(fn)
    fn = click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
                      help="Identity to sign with.")(fn)
    return dir_option(fn)


def _patient_option(fn: F) -> F:
    return click.option("--patient", default="", metavar="ORG/NAME",
                        help="Whose record it is (default: yourself).")(fn)


def _patient_or_me(patient: str, who: str) -> str:
    """The patient named, else the signing identity's own id (org/user)."""
    org, user = split_who(who)
    return patient or f"{org}/{user}"


def _store(directory: Path, who: str, peer: str | None) -> RecordStore:
    try:
        return connect_local_records(directory, who, peer=peer)
    except LocalNetworkError as exc:
        raise cli_error(exc) from exc


def _host_peer(directory: Path, peer: str | None) -> str:
    """The store's peer as `name.org`, so that access is submitted where the store will check it."""
    if peer:
        return peer
    try:
        profile = Profile.load(directory.resolve())
    except ConfigError as exc:
        raise CliError(f"no network to host the record store: {exc}", "NO_NETWORK") from exc
    hosts = profile.peers_of(profile.records_org)
    if not hosts:
        raise CliError(f"no {profile.records_org} peer to host the record store", "NO_NETWORK")
    return hosts[0].id


@click.group()
def records() -> None:
    """Store, read and erase encrypted off-ledger records on the peer of the network's records host_org."""


@records.command()
@_identity_options
@_patient_option
@click.option("--access-tx", default="", metavar="TX_ID",
              help="For someone else's record: your granted consent access_record tx id.")
@click.argument("record_id")
@click.argument("file", type=click.File("rb"))
@json_option
def put(directory: Path, who: str, peer: str | None, patient: str, access_tx: str, record_id: str,
        file: IO[bytes], as_json: bool) -> None:
    """Encrypt FILE ('-' for stdin) and store it as RECORD_ID.

    Prints the document's SHA-256, which the patient registers on the ledger.
    """
    content = file.read()
    try:
        with _store(directory, who, peer) as store:
            stored = store.put(record_id, content, patient=patient, access_tx_id=access_tx)
    except GatewayError as exc:
        raise cli_error(exc) from exc
    data = {"patient": stored.patient, "record_id": stored.record_id,
            "content_hash": stored.content_hash, "size": stored.size}
    emit(as_json, data, f"stored record {stored.record_id} of {stored.patient} ({stored.size} bytes)\n"
                        f"content_hash {stored.content_hash}\n"
                        "(the patient registers it with consent register_record, transient content_hash)")


@records.command()
@_identity_options
@_patient_option
@click.option("--access-tx", default="", metavar="TX_ID",
              help="Your committed, granted consent access_record tx id for this record.")
@click.option("--purpose", default="", metavar="CODE",
              help="Instead of --access-tx: submit consent access_record for this purpose (e.g. TREAT) "
                   "first; the access is audited on the ledger either way.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the document here (default: stdout).")
@click.argument("record_id")
@json_option
def get(directory: Path, who: str, peer: str | None, patient: str, access_tx: str, purpose: str,
        out: Path | None, record_id: str, as_json: bool) -> None:
    """Read RECORD_ID under a granted consent access_record transaction.

    Give the transaction's id, or a purpose to submit one first.
    """
    if bool(access_tx) == bool(purpose):
        raise click.UsageError("give exactly one of --access-tx TX_ID and --purpose CODE")
    try:
        if purpose:
            access_tx = _access(directory, who, _host_peer(directory, peer), patient, record_id, purpose)
        with _store(directory, who, peer) as store:
            record = store.get(record_id, access_tx, patient=patient)
    except (GatewayError, CommitError, LocalNetworkError) as exc:
        raise cli_error(exc) from exc
    data: dict[str, object] = {"patient": record.patient, "record_id": record.record_id,
                               "content_hash": record.content_hash, "size": len(record.content),
                               "access_tx_id": access_tx}
    if out is not None:
        out.write_bytes(record.content)
        data["path"] = str(out)
        emit(as_json, data, f"wrote record {record_id} of {record.patient} ({len(record.content)} "
                            f"bytes, sha256 {record.content_hash}) to {out}")
    elif as_json:
        emit(True, data | {"content_base64": base64.b64encode(record.content).decode()}, "")
    else:
        click.echo(record.content, nl=False)


def _access(directory: Path, who: str, host_peer: str, patient: str, record_id: str, purpose: str) -> str:
    """Submit consent access_record through the store's own peer; its tx id once granted and committed."""
    patient = _patient_or_me(patient, who)
    with connect_local(directory, who, peer=host_peer) as gateway:
        consent = gateway.get_network(gateway_channel(directory)).get_contract("consent")
        submitted = consent.submit_async("access_record", patient, record_id, purpose)
        status = submitted.get_status()
    if not status.successful:
        raise CommitError(status.tx_id, status.code, status.block_number)
    answer = json.loads(submitted.result)
    if not answer.get("granted"):
        raise CliError(
            f"access to record {record_id} of {patient} refused: {answer.get('reason')} "
            f"(audited as {status.tx_id})", "PERMISSION_DENIED", status.tx_id,
        )
    return status.tx_id


@records.command()
@_identity_options
@_patient_option
@click.argument("record_id")
@json_option
def erase(directory: Path, who: str, peer: str | None, patient: str, record_id: str, as_json: bool) -> None:
    """Destroy RECORD_ID's content and key (the patient, or an admin of the patient's org)."""
    patient = _patient_or_me(patient, who)
    try:
        with _store(directory, who, peer) as store:
            store.erase(record_id, patient=patient)
    except GatewayError as exc:
        raise cli_error(exc) from exc
    emit(as_json, {"patient": patient, "record_id": record_id, "erased": True},
         f"erased record {record_id} of {patient} from the store; tombstone it on the ledger with "
         "consent erase_record")
