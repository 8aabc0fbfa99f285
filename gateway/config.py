"""Channel configuration updates from the SDK: make, sign offline (one admin after another), submit.

An update travels between admins as a `SignedConfigUpdate` (the update's bytes and the signatures
so far), e.g. a file each admin signs with `careledger channel sign`. Submitting wraps it into a
config transaction: an Envelope whose proposal calls `_config.update` with the update's bytes as
its one argument, whose endorsements are the admins' signatures, signed by the submitting admin.
It goes through a peer's gateway Submit, which hands it to the orderers; they refuse it at once
(FAILED_PRECONDITION, PERMISSION_DENIED) when it does not follow the configuration in force or
lacks admin signatures, and otherwise order it alone in its own block.
"""

from __future__ import annotations

from careledger.gateway.commit import Status
from careledger.gateway.gateway import Gateway
from careledger.gateway.identity import Identity, Signer, sha256
from careledger.gateway.proposal import build_proposal
from careledger.protos import common_pb2, config_pb2

CONFIG_CONTRACT = "_config"  # as careledger.network.ledger.channelconfig names it
CONFIG_FUNCTION = "update"


def new_update(current: config_pb2.ChannelConfig,
               new: config_pb2.ChannelConfig) -> config_pb2.SignedConfigUpdate:
    """An unsigned update replacing `current` (the configuration in force) with `new`."""
    config = config_pb2.ChannelConfig()
    config.CopyFrom(new)
    config.channel, config.sequence = current.channel, current.sequence + 1
    update = config_pb2.ConfigUpdate(channel=current.channel, sequence=current.sequence + 1, config=config)
    return config_pb2.SignedConfigUpdate(update=update.SerializeToString(deterministic=True))


def read_update(signed: config_pb2.SignedConfigUpdate) -> config_pb2.ConfigUpdate:
    """The update inside, as the admins sign it."""
    return config_pb2.ConfigUpdate.FromString(signed.update)


def sign_update(signed: config_pb2.SignedConfigUpdate, identity: Identity,
                signer: Signer) -> config_pb2.SignedConfigUpdate:
    """The update with this admin's signature added (replacing an earlier one by the same cert)."""
    out = config_pb2.SignedConfigUpdate(update=signed.update)
    out.signatures.extend(s for s in signed.signatures if s.endorser != identity.certificate)
    out.signatures.add(endorser=identity.certificate, signature=signer(sha256(signed.update)))
    return out


def config_envelope(signed: config_pb2.SignedConfigUpdate, identity: Identity,
                    signer: Signer) -> common_pb2.Envelope:
    """The config transaction for the update, created and signed by `identity` (an admin)."""
    update = read_update(signed)
    proposal = build_proposal(identity, update.channel, CONFIG_CONTRACT, CONFIG_FUNCTION, [signed.update])
    tx = common_pb2.Transaction(proposal=proposal.SerializeToString(deterministic=True),
                                endorsements=list(signed.signatures))
    payload = tx.SerializeToString(deterministic=True)
    return common_pb2.Envelope(payload=payload, signature=signer(sha256(payload)))


def submit_update(gateway: Gateway, signed: config_pb2.SignedConfigUpdate, signer: Signer) -> Status:
    """Submit the update as the gateway's identity and wait for its commit on the gateway's peer.

    An orderer's refusal raises SubmitError naming what is missing; an update that became stale
    before its block (another update got there first) commits as BAD_CONFIG_UPDATE."""
    envelope = config_envelope(signed, gateway.identity, signer)
    unsigned = common_pb2.Envelope(payload=envelope.payload).SerializeToString(deterministic=True)
    transaction = gateway.new_signed_transaction(unsigned, envelope.signature)
    return transaction.submit().get_status()
