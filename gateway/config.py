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


# -- editing a configuration (what `careledger channel update` does) --------------------------------

SETTABLE = {  # --set KEY=VALUE: where each key lives in ChannelConfig, and its type
    "batch_timeout_ms": ("batch", "timeout_ms", int),
    "batch_max_tx": ("batch", "max_tx", int),
    "batch_max_bytes": ("batch", "max_bytes", int),
    "clock_skew_s": ("", "clock_skew_s", float),
    "admins_policy": ("policies", "admins", str),
    "lifecycle_policy": ("policies", "lifecycle", str),
}
ACCESS_KEYS = ("access.query", "access.block_events", "access.deliver")  # comma-separated roles


class ConfigEditError(ValueError):
    """An edit that cannot apply to the configuration; the message names the key or org."""


def copy_config(config: config_pb2.ChannelConfig) -> config_pb2.ChannelConfig:
    new = config_pb2.ChannelConfig()
    new.CopyFrom(config)
    return new


def org_definition_json(name: str, ca_cert: bytes, peers: list[tuple[str, str, int]]) -> dict[str, object]:
    """The org definition a new organisation hands the channel's admins: name, CA cert, peers."""
    return {"name": name, "ca_cert": ca_cert.decode(),
            "peers": [{"name": n, "host": h, "port": p} for n, h, p in peers]}


def add_org(config: config_pb2.ChannelConfig, definition: dict[str, object]) -> config_pb2.ChannelConfig:
    """The configuration with the org of `definition` (org_definition_json's form) as a member."""
    try:
        name = str(definition["name"])
        ca_cert = str(definition["ca_cert"]).encode()
        peers = [config_pb2.Endpoint(name=str(p["name"]), org=name, host=str(p["host"]), port=int(p["port"]))
                 for p in definition.get("peers", [])]  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigEditError(f"org definition is malformed ({exc!r}); it needs name, ca_cert (PEM) and "
                              "peers [{name, host, port}], as `careledger org define` writes it") from exc
    if any(o.name == name for o in config.orgs):
        raise ConfigEditError(f"organisation {name} is already in the channel configuration")
    new = copy_config(config)
    new.orgs.add(name=name, ca_cert=ca_cert, peers=peers)
    return new


def remove_org(config: config_pb2.ChannelConfig, name: str) -> config_pb2.ChannelConfig:
    """The configuration without organisation `name`."""
    if not any(o.name == name for o in config.orgs):
        raise ConfigEditError(f"no organisation {name} in the channel configuration; it has "
                              f"{', '.join(o.name for o in config.orgs)}")
    new = copy_config(config)
    del new.orgs[:]
    new.orgs.extend(o for o in config.orgs if o.name != name)
    return new


def revoke(config: config_pb2.ChannelConfig, org: str, serial_hex: str) -> config_pb2.ChannelConfig:
    """The configuration with a certificate serial (lowercase hex) revoked by `org`."""
    new = copy_config(config)
    found = next((o for o in new.orgs if o.name == org), None)
    if found is None:
        raise ConfigEditError(f"no organisation {org} in the channel configuration")
    serial = serial_hex.lower().removeprefix("0x").replace(":", "").lstrip("0") or "0"
    if serial not in found.revoked_serials:
        found.revoked_serials.append(serial)
    return new


def set_value(config: config_pb2.ChannelConfig, key: str, value: str) -> config_pb2.ChannelConfig:
    """The configuration with one setting changed (SETTABLE keys and access.SERVICE role lists)."""
    new = copy_config(config)
    if key in ACCESS_KEYS:
        roles = getattr(new.access, key.split(".", 1)[1])
        del roles[:]
        roles.extend(r.strip() for r in value.split(",") if r.strip())
        return new
    if key not in SETTABLE:
        raise ConfigEditError(f"unknown setting {key!r}; settable: {', '.join([*SETTABLE, *ACCESS_KEYS])}")
    section, field, kind = SETTABLE[key]
    try:
        typed = kind(value)
    except ValueError as exc:
        raise ConfigEditError(f"{key}={value!r}: expected {kind.__name__}") from exc
    setattr(getattr(new, section) if section else new, field, typed)
    return new
