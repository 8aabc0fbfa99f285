"""The profile of a new organisation's host, from the channel's genesis block and its definition.

An organisation that joins a running channel from its own host has only public material from the
others: the genesis block (the channel, its orderers' endpoints and the ordering org's CA) and,
later, the configuration updates. `careledger org join` turns that and the org's own definition
(`careledger org define` writes NAME.json beside its crypto folder) into the `network.json` its
peer and its admin's commands read: the channel, the orderers and this org's own peers only.
Every other org's peers and CA certificates come from the channel configuration in force on the
ledger, never from this file, so nothing here goes stale when orgs come and go.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from careledger.network.config import AccessRules, NodeInfo, OrdererSettings, Profile
from careledger.network.ledger.channelconfig import ChannelConfig


class JoinError(Exception):
    """The org's definition or folder cannot make a profile; the message says what to do."""


@dataclass(frozen=True)
class PeerEndpoint:
    """One peer of the joining org as its definition lists it (what the channel's admins add)."""

    name: str
    host: str
    port: int


def read_definition(path: Path) -> tuple[str, tuple[PeerEndpoint, ...]]:
    """The org name and peers of an org definition file (`careledger org define` writes it)."""
    try:
        raw = json.loads(path.read_text())
        peers = tuple(PeerEndpoint(str(p["name"]), str(p["host"]), int(p["port"])) for p in raw["peers"])
        return str(raw["name"]), peers
    except FileNotFoundError:
        raise JoinError(f"no org definition at {path}; make it with `careledger org define NAME --dir "
                        f"{path.parent}`") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JoinError(f"org definition {path} is malformed ({exc!r}); it needs name and peers "
                        "[{name, host, port}], as `careledger org define` writes it") from exc


def joining_profile(config: ChannelConfig, org: str, peers: Sequence[NodeInfo],
                    max_message_bytes: int = OrdererSettings.max_message_bytes) -> Profile:
    """The profile of `org`'s host joining the channel whose genesis configuration is `config`.

    It names only this org among the orgs (its admin's commands read CA certificates of the orgs
    a profile names, and this host holds only its own); the nodes take all others from the ledger.
    """
    if org in config.orderer_orgs:
        raise JoinError(f"{org} is the ordering organisation of channel {config.channel}; an org that "
                        "joins needs a name of its own")
    if not peers:
        raise JoinError(f"org {org} lists no peer; `careledger org define {org} --peers N` makes them")
    settings = OrdererSettings(batch_max_tx=config.batch_max_tx, batch_max_bytes=config.batch_max_bytes,
                               batch_timeout_ms=config.batch_timeout_ms,
                               max_message_bytes=max_message_bytes, clock_skew_s=config.clock_skew_s)
    return Profile(
        channel=config.channel,
        orderer_org=config.orderer_orgs[0],
        orgs=(org,),
        orderer=settings,
        orderers=tuple(NodeInfo(e.name, e.org, e.host, e.port) for e in config.orderers),
        peers=tuple(peers),
        contracts=(),  # the definitions on the ledger say which contracts run
        access=AccessRules(query=config.access_query, block_events=config.access_block_events,
                           deliver=config.access_deliver),
    )
