"""Connect to a local network written by `careledger network up`, by org and user name."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

from careledger.gateway.client import ConnectSettings, GatewayOptions
from careledger.gateway.errors import LocalNetworkError
from careledger.gateway.gateway import Gateway, connect
from careledger.gateway.identity import Identity, Signer, new_key_signer, new_private_key_signer
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.hsm import KEY_REF_FILE
from careledger.network.identity.signing import load_identity_key
from careledger.network.identity.tls import tls_dir

_HINT = "run `careledger network up` first (or set CARELEDGER_HOME to its directory)"


def default_directory() -> Path:
    """Where the local network lives: $CARELEDGER_HOME, else ./.careledger."""
    return Path(os.environ.get("CARELEDGER_HOME") or Path.cwd() / ".careledger")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LocalNetworkError(f"{what} {path} does not exist; {_HINT}") from None


def records_host_org(directory: Path | str) -> str:
    """The org whose peers host the record store, as the local network's profile names it."""
    path = Path(directory) / "network.json"
    try:
        org = json.loads(_read(path, "network description")).get("records_org")
    except (ValueError, AttributeError) as err:
        raise LocalNetworkError(f"{path} is malformed ({err!r}); {_HINT}") from err
    if not isinstance(org, str) or not org:
        raise LocalNetworkError(f"{path} names no org to host the record store (it was written before "
                                "[records] host_org existed); run `careledger network up` again")
    return org


def _node_id(node: dict[str, Any]) -> str:
    return f"{node['name']}.{node['org']}"


def _pick_peer(peers: list[dict[str, Any]], org: str, peer: str | None) -> dict[str, Any]:
    """ORG's first peer, or the one named `name.org` (or plain `name`, preferring ORG's)."""
    if peer is None:
        of_org = [p for p in peers if p["org"] == org]
        if not of_org:
            orgs = ", ".join(sorted({p["org"] for p in peers}))
            raise LocalNetworkError(f"org {org!r} has no peer in the local network (orgs: {orgs})")
        return of_org[0]
    named = [p for p in peers if _node_id(p) == peer] or sorted(
        (p for p in peers if p["name"] == peer), key=lambda p: p["org"] != org
    )
    if not named:
        known = ", ".join(_node_id(p) for p in peers)
        raise LocalNetworkError(f"no peer named {peer!r} in the local network (peers: {known})")
    return named[0]


def _known_identities(root: Path, org: str) -> str:
    """Who can sign in org (or which orgs there are), for an error naming an unknown identity."""
    crypto = root / "crypto"
    if not (crypto / org).is_dir():
        orgs = sorted(p.name for p in crypto.iterdir() if p.is_dir()) if crypto.is_dir() else []
        return f"no org {org!r}; orgs: {', '.join(orgs) or 'none'}"
    users = sorted(p.name for p in (crypto / org).iterdir() if (p / "cert.pem").is_file() and p.name != "ca")
    return (f"identities of {org}: {', '.join(users) or 'none'} "
            f"(issue a new one with `careledger crypto issue {org} NAME`)")


def _address(node: dict[str, Any]) -> str:
    return node.get("address") or f"{node['host']}:{node['port']}"


@dataclass(frozen=True)
class LocalPeer:
    """What connect needs to reach a peer of a local network as one of its users."""

    address: str
    identity: Identity
    signer: Signer
    settings: ConnectSettings
    channel: str


def local_peer(
    directory: Path | str, who: str, peer: str | None, options: GatewayOptions,
    *, peer_org: str | None = None,
) -> LocalPeer:
    """The peer, identity and TLS settings for connect_local (both SDKs) and the record store;
    the other peers of the chosen peer's org become the fallbacks that event streams move to.

    The peer is of peer_org (default: the user's own org) unless `peer` names one. The TLS root
    is the peer org's CA, which issued the peer's serving certificate.
    """
    root = Path(directory)
    org, _, user = who.partition(":")
    user = user or "admin"
    if not org:
        raise LocalNetworkError(f"who={who!r} names no org; use ORG or ORG:USER, e.g. hospital:admin")
    try:
        config = json.loads(_read(root / "network.json", "network description"))
        target = _pick_peer(config["peers"], peer_org or org, peer)
        address, channel = _address(target), str(config["channel"])
        fallbacks = [_address(p) for p in config["peers"] if p["org"] == target["org"] and p != target]
    except (ValueError, KeyError, TypeError) as err:
        raise LocalNetworkError(f"{root / 'network.json'} is malformed ({err!r}); {_HINT}") from err
    user_dir = root / "crypto" / org / user
    if not user_dir.is_dir():
        raise LocalNetworkError(f"no identity {org}:{user} in {root}; {_known_identities(root, org)}")
    cert_pem = _read(user_dir / "cert.pem", "certificate")
    identity = Identity(org=org, certificate=cert_pem)
    if (user_dir / KEY_REF_FILE).is_file():  # the signing key stays in a PKCS#11 token
        try:
            signer = new_key_signer(load_identity_key(user_dir))
        except IdentityError as err:
            raise LocalNetworkError(f"identity {org}:{user}: {err}") from err
        tls_folder = tls_dir(user_dir)
        tls_cert = _read(tls_folder / "cert.pem", "TLS certificate")
        key_pem = _read(tls_folder / "key.pem", "TLS private key")
    else:
        key_pem = _read(user_dir / "key.pem", "private key")
        signer, tls_cert = new_private_key_signer(key_pem), cert_pem
    peer_org = target["org"]
    tls_root = _read(root / "crypto" / peer_org / "ca" / "cert.pem", f"CA certificate of {peer_org}")
    settings = ConnectSettings(
        tls_root_certificates=tls_root,
        tls_client_certificate=tls_cert,  # the peers require mutual TLS
        tls_client_key=key_pem,
        server_name=target.get("server_name"),
        fallback_addresses=fallbacks,
        **options,
    )
    return LocalPeer(address, identity, signer, settings, channel)


def connect_local(
    directory: Path | str,
    who: str = "hospital:admin",
    *,
    peer: str | None = None,
    **options: Unpack[GatewayOptions],
) -> Gateway:
    """A Gateway to ORG's first peer (or `peer`) as ORG:USER, from the profile in directory;
    options are connect's timeouts, retry_mvcc and reconnect."""
    local = local_peer(directory, who, peer, options)
    return connect(local.address, local.identity, local.signer, **local.settings)
