"""`careledger contract package|install|approve|commit|list`: the contract lifecycle (issue 12).

Package a contract's source into an archive whose hash is its id; an org admin installs it on the
org's peers; each org's admin approves the definition (name, version, sequence, endorsement policy,
package id); once enough orgs approved exactly it (the channel's lifecycle policy), an admin
commits it, and every peer runs it from the next block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import grpc

from careledger.cli.common import CliError, dir_option, emit, json_option, split_who
from careledger.network.config import Profile
from careledger.network.local import lifecycleclient
from careledger.network.local.lifecycleclient import Proposed
from careledger.network.peer import contractpackage
from careledger.network.peer.contractpackage import PackageError


def _who(value: str) -> tuple[str, str]:
    return split_who(value.replace("/", ":"))


def _read_package(path: Path) -> tuple[bytes, contractpackage.PackageInfo]:
    try:
        archive = path.read_bytes()
        return archive, contractpackage.inspect(archive, str(path))
    except OSError as exc:
        raise CliError(f"cannot read the package {path}: {exc}", "USAGE") from exc
    except PackageError as exc:
        raise CliError(str(exc), "USAGE") from exc


@click.group()
def contract() -> None:
    """Contract lifecycle: package, install on peers, approve per org, commit, list."""


@contract.command()
@dir_option  # every command takes it; packaging needs no network
@click.option("--name", required=True, help="The contract's name (its state namespace).")
@click.option("--version", "version", required=True, help="The version, e.g. 2.0.")
@click.option("--module", "module", default=None, metavar="package.module:Class",
              help="An importable contract (a built-in one packages its installed folder).")
@click.option("--path", "path", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="A folder of contract source (with --entry).")
@click.option("--entry", default=None, metavar="module:Class", help="The contract class inside --path.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the package (e.g. consent-2.0.tar.gz).")
@json_option
def package(directory: Path, name: str, version: str, module: str | None, path: Path | None,
            entry: str | None, out: Path, as_json: bool) -> None:
    """Package a contract: a deterministic archive whose SHA-256 is in its package id."""
    try:
        if module and not path:
            archive = contractpackage.build_from_module(name, version, module)
        elif path and entry and not module:
            archive = contractpackage.build_from_path(name, version, path, entry)
        else:
            raise click.UsageError("give either --module package.module:Class or --path DIR "
                                   "--entry module:Class")
        info = contractpackage.inspect(archive)
    except PackageError as exc:
        raise CliError(str(exc), "USAGE") from exc
    out.write_bytes(archive)
    emit(as_json, info.to_json() | {"file": str(out), "bytes": len(archive)},
         f"{out}: package {info.package_id} ({len(archive)} bytes, entry {info.entry})")


@contract.command()
@dir_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--peer", "peers", multiple=True, help="Peer to install on (repeatable; default: every "
              "peer of the --as org).")
@click.option("--as", "who", default="hospital/admin", show_default=True, metavar="ORG/admin",
              help="An admin of the peers' org.")
@json_option
def install(directory: Path, file: Path, peers: tuple[str, ...], who: str, as_json: bool) -> None:
    """Install the package FILE on peers of the admin's org."""
    archive, info = _read_package(file)
    identity = _who(who)
    profile = Profile.load(directory.resolve())
    targets = list(peers) or [p.id for p in profile.peers_of(identity[0])]
    done = []
    for peer in targets:
        reply = lifecycleclient.install(directory, peer, identity, archive)
        done.append({"peer": reply.peer, "package_id": reply.package.package_id,
                     "already_installed": reply.already_installed})
    emit(as_json, done, "\n".join(
        f"{d['peer']}: {'already had' if d['already_installed'] else 'installed'} {info.package_id}"
        for d in done))


def _definition_options(fn: Any) -> Any:
    for option in reversed([
        click.option("--name", required=True, help="The contract's name."),
        click.option("--version", "version", default=None, help="Its version (default: the package's)."),
        click.option("--sequence", type=int, default=None,
                     help="The definition's sequence (default: the committed one + 1)."),
        click.option("--policy", required=True, help='Endorsement policy, e.g. "AND(hospital, insurer)".'),
        click.option("--package-id", default=None, help="The package id (or --package FILE)."),
        click.option("--package", "package_file", default=None,
                     type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="The package file; its id is computed."),
        click.option("--as", "who", default="hospital/admin", show_default=True, metavar="ORG/admin",
                     help="The org admin who signs."),
    ]):
        fn = option(fn)
    return fn


def _proposed(directory: Path, who: tuple[str, str], name: str, version: str | None, sequence: int | None,
              policy: str, package_id: str | None, package_file: Path | None) -> Proposed:
    if package_file is not None:
        _, info = _read_package(package_file)
        package_id, version = package_id or info.package_id, version or info.version
    if not package_id:
        raise click.UsageError("give --package-id ID or --package FILE")
    if version is None:
        version = package_id.split(":", 1)[0].removeprefix(f"{name}_")
    if sequence is None:
        current = lifecycleclient.definitions(directory, who).get(name)
        sequence = (current.sequence if current else 0) + 1
    return Proposed(name, version, sequence, policy, package_id)


def _lifecycle_command(function: str, doc: str) -> click.Command:
    @click.command(name=function, help=doc)
    @dir_option
    @_definition_options
    @json_option
    def command(directory: Path, name: str, version: str | None, sequence: int | None, policy: str,
                package_id: str | None, package_file: Path | None, who: str, as_json: bool) -> None:
        identity = _who(who)
        proposed = _proposed(directory, identity, name, version, sequence, policy, package_id, package_file)
        result = lifecycleclient.submit(directory, identity, function, proposed)
        verb = "approved" if function == "approve" else "committed"
        emit(as_json, result, f"{identity[0]} {verb} {name} {proposed.version} sequence {proposed.sequence}: "
                              f"policy {result['policy']}, package {proposed.package_id}")

    return command


contract.add_command(_lifecycle_command(
    "approve", "Approve a contract definition for the --as admin's org (the next sequence)."))
contract.add_command(_lifecycle_command(
    "commit", "Commit a definition that enough orgs approved; peers run it from the next block."))


@contract.command(name="list")
@dir_option
@click.option("--as", "who", default="hospital/admin", show_default=True, metavar="ORG/USER",
              help="Who asks (installed packages are asked as each peer's org admin).")
@json_option
def list_(directory: Path, who: str, as_json: bool) -> None:
    """Definitions on the ledger, approvals for each next sequence, and each peer's packages."""
    identity = _who(who)
    profile = Profile.load(directory.resolve())
    defined = lifecycleclient.evaluate(directory, identity, "definitions")
    names = sorted({d["name"] for d in defined} | {c.name for c in profile.contracts})
    pending = {n: lifecycleclient.evaluate(directory, identity, "approvals", n) for n in names}
    installed: dict[str, Any] = {}
    for peer in profile.peers:
        try:
            reply = lifecycleclient.installed(directory, peer.id, (peer.org, "admin"))
            installed[peer.id] = [p.package_id for p in reply.packages]
        except grpc.RpcError as exc:
            installed[peer.id] = {"error": f"{exc.code().name}: {exc.details()}"}
    data = {"definitions": defined, "approvals": pending, "installed": installed}

    def text() -> str:
        lines = ["definitions:"]
        lines += [f"  {d['name']} {d['version']} sequence {d['sequence']}: policy {d['policy']}, "
                  f"package {d['package_id']}" for d in defined] or ["  (none)"]
        lines.append("approvals for the next sequence:")
        for name, p in pending.items():
            orgs = ", ".join(f"{org} ({a['version']}, {a['package_id']})"
                             for org, a in p["approvals"].items())
            lines.append(f"  {name} sequence {p['sequence']}: {orgs or '(none)'}")
        lines.append("installed packages:")
        for peer, packages in installed.items():
            shown = packages["error"] if isinstance(packages, dict) else ", ".join(packages) or "(none)"
            lines.append(f"  {peer}: {shown}")
        return "\n".join(lines)

    emit(as_json, data, text)
