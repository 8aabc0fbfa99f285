"""`careledger ca serve` and `careledger identity register|enroll|reenroll|revoke|list|crl`.

The identity commands talk to an organisation's running CA service (its address from --ca, else
from data/ca/ORG/endpoint, which `ca serve` writes) over TLS trusting the org's CA certificate.
Signed calls sign as --as ORG[:USER]; enrol writes crypto/ORG/NAME, the folder --as reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509

from careledger.cli.common import CliError, dir_option, emit, json_option, parse_attributes, split_who
from careledger.cli.errors import cli_error
from careledger.cli.tx import gateway_channel
from careledger.gateway import GatewayError, Identity, LocalNetworkError, connect_local
from careledger.gateway import config as sdkconfig
from careledger.gateway.ca import CAClient, new_key, revocation_update, write_identity, write_token_identity
from careledger.gateway.identity import new_key_signer
from careledger.network.ca import server as ca_server
from careledger.network.ca.service import REASONS
from careledger.network.config import Layout
from careledger.network.identity.certs import CERT_FILE
from careledger.network.identity.hsm import (
    KEY_REF_FILE,
    MODULE_ENV,
    PIN_ENV,
    SOFTHSM_MODULE,
    TokenKeyRef,
    default_module,
    generate_key,
)
from careledger.network.identity.signing import load_identity_key


@click.group()
def ca() -> None:
    """Run an organisation's CA service (enrolment of people and nodes)."""


@ca.command()
@dir_option
@click.option("--org", required=True, help="The organisation whose CA key (crypto/ORG/ca) it holds.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=ca_server.DEFAULT_PORT, show_default=True,
              help="Port; 0 picks a free one (written to data/ca/ORG/endpoint).")
@json_option
def serve(directory: Path, org: str, host: str, port: int, as_json: bool) -> None:
    """Serve ORG's CA over TLS in the foreground until SIGTERM; state in data/ca/ORG."""
    layout = Layout(directory.resolve())
    if not layout.ca_cert(org).is_file():
        raise CliError(f"no CA of org {org!r} in {layout.crypto}; run `careledger crypto generate` "
                       "or `network up` first", "CRYPTO")
    state = ca_server.ca_data_dir(layout, org)
    emit(as_json, {"org": org, "host": host, "port": port, "state": str(state)},
         f"serving the CA of {org} on {host}:{port or '(a free port)'}, state in {state} (logs on "
         "stderr; SIGTERM stops it)")
    ca_server.main(["--dir", str(layout.root), "--org", org, "--host", host, "--port", str(port)])


@click.group()
def identity() -> None:
    """Register, enrol, reenrol and revoke identities at an organisation's CA service."""


def _ca_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option("--ca", "address", default="", metavar="HOST:PORT",
                        help="The CA service (default: the one `ca serve` runs for the org here).")(fn)


def _client(directory: Path, org: str, address: str, who: str | None = None) -> CAClient:
    """A CA client for ORG, signing as `who` (ORG[:USER]) when given."""
    layout = Layout(directory.resolve())
    address = address or ca_server.endpoint(layout, org)
    if not address:
        raise CliError(f"no CA service known for org {org!r}: start one with `careledger ca serve --org "
                       f"{org} --dir {directory}` or pass --ca HOST:PORT", "NO_NETWORK")
    try:
        root = layout.ca_cert(org).read_bytes()
    except OSError as exc:
        raise CliError(f"no CA certificate of org {org!r} at {layout.ca_cert(org)}", "CRYPTO") from exc
    if who is None:
        return CAClient(address, root)
    who_org, user = split_who(who)
    if who_org != org:
        raise CliError(f"--as {who} is not of org {org!r}: the CA of {org} answers its own identities",
                       "USAGE")
    folder = layout.identity_dir(who_org, user)
    try:
        cert, key = (folder / CERT_FILE).read_bytes(), load_identity_key(folder)
    except OSError as exc:
        raise CliError(f"no identity {who} in {folder}: {exc}", "CRYPTO") from exc
    return CAClient(address, root, identity=Identity(org, cert), signer=new_key_signer(key))


@contextmanager
def _calling(client: CAClient) -> Iterator[CAClient]:
    """The client, closed afterwards, with its refusals as CLI errors."""
    with client:
        try:
            yield client
        except Exception as exc:  # CAError and what the SDK raises for bad input
            raise cli_error(exc) from exc


def _org_of(who: str) -> str:
    return split_who(who)[0]


@identity.command()
@dir_option
@click.argument("name", required=False, default="")
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
              help="The registrar (an org admin, or an identity with registrar_roles).")
@click.option("--role", type=click.Choice(["client", "peer", "admin"]),
              help="The certificate's role.  [default: client]")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="Attribute carried in the certificate, e.g. role=patient (repeatable).")
@click.option("--reset", is_flag=True,
              help="A new secret for NAME, registered but not enrolled (secret lost, or locked after "
                   "too many wrong ones); its role and attributes stay.")
@_ca_option
@json_option
def register(directory: Path, name: str, who: str, role: str | None, attrs: tuple[str, ...], reset: bool,
             address: str, as_json: bool) -> None:
    """Register NAME at the CA of --as's org and print its one-time enrolment secret.

    Leave NAME out for a patient (--attr role=patient): the CA makes a pseudonym. Hand the name and
    secret to the person; the secret works once.
    """
    org = _org_of(who)
    if reset and (not name or role or attrs):
        raise click.UsageError("--reset takes the NAME of the registration and keeps its role and "
                               "attributes: leave out --role and --attr")
    with _calling(_client(directory, org, address, who)) as client:
        registered = (client.reset_secret(name) if reset
                      else client.register(name, role or "client", parse_attributes(attrs)))
    done = "gave a new secret to" if reset else "registered"
    emit(as_json, {"org": org, "name": registered.name, "secret": registered.secret},
         f"{done} {org}/{registered.name}; enrolment secret (works once): {registered.secret}")


@identity.command()
@dir_option
@click.argument("name")
@click.option("--org", default="hospital", show_default=True)
@click.option("--secret", required=True, prompt=True, hide_input=True, help="The one-time secret.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Identity folder to write (default: crypto/ORG/NAME, what --as ORG:NAME reads).")
@click.option("--hsm", is_flag=True,
              help=f"Make the signing key inside a PKCS#11 token (PIN from ${PIN_ENV}); the folder then "
                   "holds key.pkcs11 and a TLS pair in tls/.")
@click.option("--token", default="careledger", show_default=True, help="With --hsm: the token's label.")
@click.option("--module", default=default_module, show_default=f"${MODULE_ENV} or {SOFTHSM_MODULE}",
              help="With --hsm: the PKCS#11 module.")
@_ca_option
@json_option
def enroll(directory: Path, name: str, org: str, secret: str, out: Path | None, hsm: bool, token: str,
           module: str, address: str, as_json: bool) -> None:
    """Make a key here, send only a CSR with the secret, and write key.pem (0600) and cert.pem."""
    folder = out or Layout(directory.resolve()).identity_dir(org, name)
    if (folder / CERT_FILE).exists():
        raise CliError(f"{folder} already holds an identity; pass another --out, or reenroll it",
                       "ALREADY_EXISTS")
    with _calling(_client(directory, org, address)) as client:
        if hsm:
            ref = TokenKeyRef(module, token, f"{org}/{name}")
            tls_key = new_key()
            write_token_identity(folder, ref, client.enroll(name, secret, generate_key(ref), tls_key=tls_key),
                                 tls_key)
        else:
            key = new_key()
            enrolment = client.enroll(name, secret, key)
            write_identity(folder, key, enrolment)
    serial = format(x509.load_pem_x509_certificate((folder / CERT_FILE).read_bytes()).serial_number, "x")
    emit(as_json, {"org": org, "name": name, "serial": serial, "path": str(folder), "hsm": hsm},
         f"enrolled {org}/{name} (serial {serial}{', key in token ' + token if hsm else ''}) in {folder}")


@identity.command()
@dir_option
@click.option("--as", "who", required=True, metavar="ORG:USER", help="The identity to renew.")
@_ca_option
@json_option
def reenroll(directory: Path, who: str, address: str, as_json: bool) -> None:
    """Renew --as's certificate for a new key, signed for by its current one; replaces its files.
    A key in a PKCS#11 token is renewed in the same token, under a new label."""
    org, user = split_who(who)
    folder = Layout(directory.resolve()).identity_dir(org, user)
    with _calling(_client(directory, org, address, who)) as client:
        if (folder / KEY_REF_FILE).is_file():
            ref = TokenKeyRef.load(folder)
            ref = replace(ref, label=f"{org}/{user}/{datetime.now(UTC):%Y%m%dT%H%M%S}")
            enrolment = client.reenroll(generate_key(ref))
            ref.save(folder)
            (folder / CERT_FILE).write_bytes(enrolment.certificate)
        else:
            key = new_key()
            enrolment = client.reenroll(key)
            write_identity(folder, key, enrolment)
    emit(as_json, {"org": org, "name": user, "serial": enrolment.serial, "path": str(folder)},
         f"reenrolled {org}/{user} (serial {enrolment.serial}) in {folder}")


@identity.command()
@dir_option
@click.argument("name", required=False, default="")
@click.option("--serial", "serials", multiple=True, metavar="HEX", help="Revoke this certificate.")
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Revoke this PEM certificate (e.g. one `crypto issue` made).")
@click.option("--reason", default="unspecified", show_default=True, type=click.Choice(sorted(REASONS)),
              help="RFC 5280 reason.")
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
              help="An admin of the org.")
@click.option("--update", "update_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a channel configuration update carrying every serial of the CRL the "
                   "ledger does not refuse yet, signed by --as: other admins sign it with `careledger "
                   "channel sign FILE`, one submits it with `careledger channel submit FILE`.")
@_ca_option
@json_option
def revoke(directory: Path, name: str, serials: tuple[str, ...], cert_file: Path | None, reason: str,
           who: str, update_file: Path | None, address: str, as_json: bool) -> None:
    """Revoke every certificate of registration NAME (it can no longer reenrol), or --serial/--cert.

    The CA refuses the certificates at once; the nodes refuse them once a configuration update
    carrying their serials commits (--update FILE makes it)."""
    org = _org_of(who)
    if not (name or serials or cert_file):
        raise click.UsageError("name a registration, a --serial or a --cert to revoke")
    certificate = cert_file.read_bytes() if cert_file else b""
    with _calling(_client(directory, org, address, who)) as client:
        revocation = client.revoke(name=name, serials=serials, certificate=certificate, reason=reason)
    crl = x509.load_pem_x509_crl(revocation.crl)
    sequence = _propose(directory, who, revocation.crl, update_file) if update_file else None
    emit(as_json, {"org": org, "revoked": [asdict(r) for r in revocation.revoked],
                   "crl_entries": len(list(crl)), "update": str(update_file) if sequence else None,
                   "update_sequence": sequence},
         lambda: "\n".join([f"revoked {org}/{r.name} serial {r.serial} ({r.reason})"
                            for r in revocation.revoked] or ["nothing newly revoked"])
         + f"\nthe CRL of {org} now lists {len(list(crl))} certificate(s)"
         + (f"\nwrote configuration update {sequence} to {update_file}, signed by {who}: other admins "
            f"sign it (`careledger channel sign {update_file} --as ORG/admin`), one submits it "
            f"(`careledger channel submit {update_file} --as ORG/admin`)" if sequence else
            "\nthe ledger already refuses every certificate of the CRL" if update_file else ""))


def _propose(directory: Path, who: str, crl_pem: bytes, out: Path) -> int | None:
    """Write the configuration update for the CRL, signed by `who`; its sequence (None: nothing to
    put on the ledger)."""
    org, user = split_who(who)
    folder = Layout(directory.resolve()).identity_dir(org, user)
    identity = Identity(org, (folder / CERT_FILE).read_bytes())
    try:
        with connect_local(directory, f"{org}:{user}") as gateway:
            current = gateway.get_network(gateway_channel(directory)).get_channel_config()
        update = revocation_update(current, org, crl_pem)
    except (GatewayError, LocalNetworkError, ValueError) as exc:
        raise cli_error(exc) from exc
    if update is None:
        return None
    signed = sdkconfig.sign_update(update, identity, new_key_signer(load_identity_key(folder)))
    out.write_bytes(signed.SerializeToString(deterministic=True))
    return sdkconfig.read_update(signed).sequence


@identity.command(name="list")
@dir_option
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]",
              help="An admin of the org.")
@_ca_option
@json_option
def list_(directory: Path, who: str, address: str, as_json: bool) -> None:
    """The registrations at the CA of --as's org, with their certificates."""
    with _calling(_client(directory, _org_of(who), address, who)) as client:
        registrations = client.list()
    emit(as_json, [asdict(r) for r in registrations],
         lambda: "\n".join(f"{r.name}\t{r.role}\t{r.state}\t{r.attributes}\tby {r.registered_by}\t"
                           f"{len(r.certificates)} certificate(s)" for r in registrations)
         or "no registrations")


@identity.command()
@dir_option
@click.option("--org", default="hospital", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the PEM CRL here (default: stdout).")
@_ca_option
@json_option
def crl(directory: Path, org: str, out: Path | None, address: str, as_json: bool) -> None:
    """The org's certificate revocation list, signed by its CA (no identity needed)."""
    with _calling(_client(directory, org, address)) as client:
        pem = client.crl()
    revoked = [format(r.serial_number, "x") for r in x509.load_pem_x509_crl(pem)]
    if out is not None:
        out.write_bytes(pem)
    emit(as_json, {"org": org, "revoked_serials": revoked, "path": str(out) if out else None},
         f"wrote the CRL of {org} ({len(revoked)} revoked) to {out}" if out else pem.decode().rstrip())
