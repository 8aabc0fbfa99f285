"""`careledger ledger repair` for a stopped peer: the start-up repair of network/peer/repair.py, run
offline with the peer's own ledger, validator and identity, then caught up from the orderers.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from prometheus_client import CollectorRegistry

from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.node.grpcutil import node_channel
from careledger.network.node.operations import PeerMetrics
from careledger.network.peer.committer import Committer
from careledger.network.peer.definitions import ContractDefinitions
from careledger.network.peer.ledger import Ledger
from careledger.network.peer.repair import Damage, cut, inspect
from careledger.network.peer.validation import Validator

__all__ = ["Damage", "cut", "inspect", "open_peer_ledger", "peer_committer"]


def open_peer_ledger(layout: Layout, profile: Profile, node: NodeInfo) -> Ledger:
    """The peer's ledger with the validator the peer itself uses, for committing offline."""
    members = Membership.from_crypto_dir(layout.crypto, profile.orgs)
    skew = timedelta(seconds=profile.orderer.clock_skew_s)
    return Ledger(layout.node_data(node),
                  lambda state: Validator(profile.channel, members, ContractDefinitions(state, profile.orgs),
                                          state, clock_skew=skew),
                  Signer.from_dir(layout.identity_dir(node.org, node.name)))


def peer_committer(layout: Layout, profile: Profile, node: NodeInfo, ledger: Ledger) -> Committer:
    """A committer fetching as the peer's own identity, for `Committer.catch_up` offline."""
    everyone = Membership.from_crypto_dir(layout.crypto, [*profile.orgs, profile.orderer_org])
    identity_dir = layout.identity_dir(node.org, node.name)
    open_channel = partial(node_channel, root_pems=everyone.ca_pems(), identity_dir=identity_dir,
                           max_message_bytes=profile.orderer.max_message_bytes)
    return Committer(ledger, profile.channel, profile.orderers, Signer.from_dir(identity_dir),
                     Membership.from_crypto_dir(layout.crypto, [profile.orderer_org]), open_channel,
                     PeerMetrics.register(CollectorRegistry()))
