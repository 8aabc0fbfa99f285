"""Who may read what of the ledger: full blocks for the roles the channel's access rules name,
filtered blocks and their own transactions for every other member.

A full block carries every transaction's arguments and results (which patient consented to what,
which claim was paid); Query.GetBlock, the gateway's BlockEvents and the orderer's Deliver serve
them only to the roles in `[access]` of the network config (by default peers, orderers, org
admins and auditors). Like Fabric's channel ACLs, but closed by default.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from careledger.network.identity.certs import ROLES
from careledger.network.identity.membership import Identity
from careledger.network.node.grpcutil import RequestError
from careledger.protos import common_pb2, gateway_pb2


def reads_full_blocks(readers: Sequence[str], who: Identity) -> bool:
    """Whether `who` is one of `readers`: by certificate role for peer/orderer/admin/client, by
    the `role` attribute for any other name (e.g. auditor)."""
    if who.role in readers:
        return True
    attribute = who.attributes.get("role", "")
    return bool(attribute) and attribute not in ROLES and attribute in readers


def describe(who: Identity) -> str:
    """The caller as a refusal names it: id, certificate role and role attribute."""
    attribute = who.attributes.get("role")
    return f"{who.id} (role {who.role}{f', {attribute}' if attribute else ''})"


def require_full_blocks(readers: Sequence[str], who: Identity, call: str, service: str,
                        instead: str) -> None:
    """Raise PERMISSION_DENIED unless `who` may read full blocks through `call`."""
    if not reads_full_blocks(readers, who):
        raise RequestError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{describe(who)} may not read full blocks through {call}: they carry every "
            f"transaction's arguments; only {', '.join(readers) or 'no one'} may (access.{service} "
            f"in the network config). {instead}",
        )


def filtered_block(block: common_pb2.Block) -> gateway_pb2.FilteredBlock:
    """The block as every member may see it: its number and each transaction's id and code."""
    filtered = gateway_pb2.FilteredBlock(number=block.header.number)
    for env_bytes, code in zip(block.data.envelopes, block.metadata.validation_codes, strict=False):
        filtered.transactions.add(tx_id=_tx_id(env_bytes), validation_code=code)
    return filtered


def _tx_id(env_bytes: bytes) -> str:
    """The tx id of a stored envelope; "" for one that does not parse (it was marked invalid)."""
    try:
        envelope = common_pb2.Envelope.FromString(env_bytes)
        tx = common_pb2.Transaction.FromString(envelope.payload)
        return common_pb2.Proposal.FromString(tx.proposal).header.tx_id
    except Exception:  # noqa: BLE001 - a malformed envelope is committed with an invalid code
        return ""
