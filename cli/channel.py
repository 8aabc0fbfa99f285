"""`careledger channel config|update|sign|submit` and `careledger org define`.

A configuration update goes from admin to admin as a file (a SignedConfigUpdate): one admin makes
it from the configuration in force (`channel update`), each admin signs it (`channel sign`, offline,
on their own host), and one submits it (`channel submit`) once the admins policy is met. They call
the SDK's careledger.gateway.config, as an integrator's code would.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import click
from google.protobuf.json_format import MessageToDict

from careledger.cli.common import CliError, dir_option, emit, json_option
from careledger.gateway import config as sdkconfig
from careledger.gateway import connect_local
from careledger.gateway.identity import Identity, Signer, new_key_signer
from careledger.network.config import Layout
from careledger.network.identity.certs import CERT_FILE, IdentitySpec, generate_org
from careledger.network.identity.signing import load_identity_key
from careledger.protos import config_pb2


def _who(value: str) -> tuple[str, str]:
    """ORG/USER or ORG:USER (default user: admin)."""
    org, _, user = value.replace(":", "/").partition("/")
    if not org:
        raise click.BadParameter(f"{value!r} names no organisation; use ORG/USER, e.g. hospital/admin",
                                 param_hint="--as")
    return org, user or "admin"


def _identity(directory: Path, who: str) -> tuple[Identity, Signer]:
    """The admin's certificate and signer; its key is key.pem or in a PKCS#11 token (key.pkcs11),
    read by the loader every other command uses, so a token admin signs updates too."""
    org, user = _who(who)
    folder = Layout(directory.resolve()).identity_dir(org, user)
    try:
        return (Identity(org, (folder / CERT_FILE).read_bytes()),
                new_key_signer(load_identity_key(folder)))
    except OSError as exc:
        raise CliError(f"no identity {org}/{user} in {folder.parent}: {exc.strerror}; pass the --dir "
                       "that holds its crypto folder", "CRYPTO") from exc


def config_dict(config: config_pb2.ChannelConfig) -> dict[str, Any]:
    """The configuration as JSON: field names as in config.proto, CA certificates as PEM text."""
    data = MessageToDict(config, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    for raw, org in zip(config.orgs, data.get("orgs", []), strict=True):
        org["ca_cert"] = raw.ca_cert.decode()
    data["sequence"] = config.sequence
    return data


def _describe(config: config_pb2.ChannelConfig) -> str:
    lines = [f"channel {config.channel}, configuration sequence {config.sequence}"]
    for org in config.orgs:
        kind = "ordering org" if org.orderer_org else "member"
        peers = ", ".join(f"{p.name} {p.host}:{p.port}" for p in org.peers) or "no peers"
        revoked = f", {len(org.revoked_serials)} revoked certificate(s)" if org.revoked_serials else ""
        lines.append(f"  org {org.name} ({kind}): {peers}{revoked}")
    lines.append("  orderers: " + ", ".join(f"{o.name}.{o.org} {o.host}:{o.port}" for o in config.orderers))
    lines.append(f"  policies: admins {config.policies.admins}, lifecycle {config.policies.lifecycle}")
    access = config.access
    lines.append(f"  full blocks: query {', '.join(access.query)}; block_events "
                 f"{', '.join(access.block_events)}; deliver {', '.join(access.deliver)}")
    lines.append(f"  batches: {config.batch.max_tx} tx, {config.batch.max_bytes} bytes, "
                 f"{config.batch.timeout_ms} ms; clock skew {config.clock_skew_s:g} s")
    return "\n".join(lines)


def _current(directory: Path, who: str) -> config_pb2.ChannelConfig:
    org, user = _who(who)
    with connect_local(directory, f"{org}:{user}") as gateway:
        return gateway.get_network(_channel(directory)).get_channel_config()


def _channel(directory: Path) -> str:
    return str(json.loads((directory / "network.json").read_text())["channel"])


def _read(path: Path) -> config_pb2.SignedConfigUpdate:
    try:
        return config_pb2.SignedConfigUpdate.FromString(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read config update {path}: {exc}; make one with `careledger channel "
                       "update --out FILE`", "USAGE") from exc


def _write(path: Path, signed: config_pb2.SignedConfigUpdate) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(signed.SerializeToString(deterministic=True))
    tmp.replace(path)


def _signers(signed: config_pb2.SignedConfigUpdate) -> list[str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = []
    for s in signed.signatures:
        cert = x509.load_pem_x509_certificate(s.endorser)
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        names.append(f"{org!s}/{name!s}")
    return names


@click.group()
def channel() -> None:
    """The channel configuration on the ledger: read it, make, sign and submit updates."""


@channel.command("config")
@dir_option
@click.option("--as", "who", default="hospital/admin", show_default=True,
              help="Identity that asks a peer of its org (admins, peers and auditors may).")
@json_option
def show_config(directory: Path, who: str, as_json: bool) -> None:
    """Print the channel configuration in force."""
    config = _current(directory, who)
    emit(as_json, config_dict(config), lambda: _describe(config))


@channel.command()
@dir_option
@click.option("--as", "who", default="hospital/admin", show_default=True,
              help="Identity that reads the configuration in force from a peer of its org.")
@click.option("--add-org", "add", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Org definition JSON (`careledger org define` writes it).")
@click.option("--remove-org", "remove", metavar="NAME", help="Remove this organisation.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help=f"Change a setting: {', '.join([*sdkconfig.SETTABLE, *sdkconfig.ACCESS_KEYS])}.")
@click.option("--revoke", "revocations", multiple=True, metavar="ORG=SERIAL",
              help="Revoke the certificate with this hex serial in ORG (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the unsigned update.")
@json_option
def update(directory: Path, who: str, add: Path | None, remove: str | None, settings: tuple[str, ...],
           revocations: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Make an unsigned update from the configuration in force; admins sign it, one submits it."""
    if not (add or remove or settings or revocations):
        raise click.UsageError("say what to change: --add-org, --remove-org, --set or --revoke")
    current = _current(directory, who)
    new = current
    try:
        if add:
            new = sdkconfig.add_org(new, json.loads(add.read_text()))
        if remove:
            new = sdkconfig.remove_org(new, remove)
        for setting in settings:
            key, sep, value = setting.partition("=")
            if not sep:
                raise click.BadParameter(f"{setting!r} is not KEY=VALUE", param_hint="--set")
            new = sdkconfig.set_value(new, key, value)
        for revocation in revocations:
            org, sep, serial = revocation.partition("=")
            if not sep:
                raise click.BadParameter(f"{revocation!r} is not ORG=SERIAL", param_hint="--revoke")
            new = sdkconfig.revoke(new, org, serial)
    except (sdkconfig.ConfigEditError, json.JSONDecodeError) as exc:
        raise CliError(str(exc), "USAGE") from exc
    signed = sdkconfig.new_update(current, new)
    _write(out, signed)
    sequence = sdkconfig.read_update(signed).sequence
    emit(as_json, {"file": str(out), "sequence": sequence, "channel": current.channel},
         f"wrote config update {sequence} of channel {current.channel} to {out}; each admin signs it "
         f"with `careledger channel sign {out} --as ORG/admin`")


@channel.command()
@dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "who", required=True, help="The admin who signs, ORG/admin.")
@json_option
def sign(directory: Path, file: Path, who: str, as_json: bool) -> None:
    """Add an admin's signature to an update file (offline: no node is asked)."""
    signed = sdkconfig.sign_update(_read(file), *_identity(directory, who))
    _write(file, signed)
    signers = _signers(signed)
    emit(as_json, {"file": str(file), "signed_by": signers},
         f"signed {file}; signatures: {', '.join(signers)}")


@channel.command()
@dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "who", required=True, help="The admin who submits, ORG/admin.")
@json_option
def submit(directory: Path, file: Path, who: str, as_json: bool) -> None:
    """Submit a signed update; prints the block it committed in, or why it was refused."""
    signed = _read(file)
    identity, signer = _identity(directory, who)
    org, user = _who(who)
    with connect_local(directory, f"{org}:{user}") as gateway:
        status = sdkconfig.submit_update(gateway, signed, signer)
    sequence = sdkconfig.read_update(signed).sequence
    if not status.successful:
        raise CliError(f"config update {sequence} (tx {status.tx_id}) was not applied: it committed in "
                       f"block {status.block_number} as {status.code_name}; see the peer's log for why",
                       status.code_name, status.tx_id)
    emit(as_json, {"tx_id": status.tx_id, "block": status.block_number, "sequence": sequence},
         f"config update {sequence} committed in block {status.block_number} (tx {status.tx_id})")


@click.group()
def org() -> None:
    """Organisations that join a channel from their own host."""


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@org.command()
@click.argument("name")
@dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the org's peers listen.")
@click.option("--peers", default=1, show_default=True, type=click.IntRange(1), help="Peers to make.")
@click.option("--port", "ports", multiple=True, type=int,
              help="Port of each peer in order (default: a free port each).")
@click.option("--user", "users", multiple=True, help="Client identities to issue too (repeatable).")
@json_option
def define(name: str, directory: Path, host: str, peers: int, ports: tuple[int, ...],
           users: tuple[str, ...], as_json: bool) -> None:
    """Make a new org's CA, admin, peer and user identities in --dir, and its definition JSON
    (NAME.json there) for the channel's admins: `channel update --add-org NAME.json`."""
    layout = Layout(directory.resolve())
    specs = ([IdentitySpec("admin", "admin")]
             + [IdentitySpec(f"peer{i}", "peer", hosts=(host,)) for i in range(peers)]
             + [IdentitySpec(u, "client") for u in users])
    generate_org(layout.crypto, name, specs)
    endpoints = [(f"peer{i}", host, ports[i] if i < len(ports) else _free_port(host)) for i in range(peers)]
    definition = sdkconfig.org_definition_json(name, layout.ca_cert(name).read_bytes(), endpoints)
    path = layout.root / f"{name}.json"
    path.write_text(json.dumps(definition, indent=2) + "\n")
    emit(as_json, {"definition": str(path), "crypto": str(layout.crypto / name), **definition},
         f"organisation {name}: CA, admin, {peers} peer(s) in {layout.crypto / name}; give {path} to the "
         "channel's admins (`careledger channel update --add-org`)")
