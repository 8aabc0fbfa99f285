"""The genesis block `network up` writes: block 0, holding the channel's first configuration.

The configuration comes from the resolved profile (orgs, their CA certificates and peers, the
orderers, access rules, batch settings, clock skew) with the admins and lifecycle policies at
MAJORITY; every member org's admin signs it and the first orderer signs the block. Nodes start
their chain from this file and never read those settings from network.json again.
"""

from __future__ import annotations

import os
from pathlib import Path

from careledger.gateway import config as sdkconfig
from careledger.gateway.identity import Identity, Signer, new_key_signer
from careledger.network.config import Layout, NodeInfo, Profile
from careledger.network.identity.certs import CERT_FILE
from careledger.network.identity.signing import Signer as NodeSigner
from careledger.network.identity.signing import load_identity_key
from careledger.network.ledger.channelconfig import MAJORITY
from careledger.network.orderer.blockmaker import make_block
from careledger.protos import common_pb2, config_pb2


def _endpoint(node: NodeInfo) -> config_pb2.Endpoint:
    return config_pb2.Endpoint(name=node.name, org=node.org, host=node.host, port=node.port)


def initial_config(layout: Layout, profile: Profile) -> config_pb2.ChannelConfig:
    """The first configuration of the channel, from the profile and the orgs' CA certificates."""
    orgs = [config_pb2.OrgConfig(name=org, ca_cert=layout.ca_cert(org).read_bytes(),
                                 peers=[_endpoint(p) for p in profile.peers_of(org)])
            for org in profile.orgs]
    orgs.append(config_pb2.OrgConfig(name=profile.orderer_org, orderer_org=True,
                                     ca_cert=layout.ca_cert(profile.orderer_org).read_bytes()))
    settings, access = profile.orderer, profile.access
    return config_pb2.ChannelConfig(
        channel=profile.channel, sequence=0, orgs=orgs,
        orderers=[_endpoint(o) for o in profile.orderers],
        policies=config_pb2.ChannelPolicies(admins=MAJORITY, lifecycle=MAJORITY),
        access=config_pb2.AccessConfig(query=list(access.query), block_events=list(access.block_events),
                                       deliver=list(access.deliver)),
        batch=config_pb2.BatchConfig(max_tx=settings.batch_max_tx, max_bytes=settings.batch_max_bytes,
                                     timeout_ms=settings.batch_timeout_ms),
        clock_skew_s=settings.clock_skew_s,
    )


def _admin(layout: Layout, org: str) -> tuple[Identity, Signer]:
    folder = layout.identity_dir(org, "admin")
    return (Identity(org, (folder / CERT_FILE).read_bytes()),
            new_key_signer(load_identity_key(folder)))  # key.pem or a PKCS#11 token key


def make_genesis(layout: Layout, profile: Profile) -> common_pb2.Block:
    """Block 0: the first configuration signed by every member org's admin, cut by orderer0."""
    config = initial_config(layout, profile)
    update = config_pb2.ConfigUpdate(channel=profile.channel, sequence=0, config=config)
    signed = config_pb2.SignedConfigUpdate(update=update.SerializeToString(deterministic=True))
    for org in profile.orgs:
        signed = sdkconfig.sign_update(signed, *_admin(layout, org))
    envelope = sdkconfig.config_envelope(signed, *_admin(layout, profile.orgs[0]))
    orderer = profile.orderers[0]
    signer = NodeSigner.from_dir(layout.identity_dir(orderer.org, orderer.name))
    return make_block(0, None, [envelope.SerializeToString(deterministic=True)], signer, last_config=0)


def ensure_genesis(layout: Layout, profile: Profile) -> Path:
    """Write the genesis block unless the network already has one (a resumed network keeps its
    chain, whose block 0 it is)."""
    if not layout.genesis.is_file():
        tmp = layout.genesis.with_suffix(".tmp")
        tmp.write_bytes(make_genesis(layout, profile).SerializeToString(deterministic=True))
        os.replace(tmp, layout.genesis)
    return layout.genesis
