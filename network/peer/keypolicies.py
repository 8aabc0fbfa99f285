"""Key-level endorsement policies on the peer: reading them from state, the state writes a valid
transaction's policy changes become, and the policies an endorsed read-write set touches (for the
gateway's choice of endorsers). The validation rule itself is in validation.py."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE, policy_key
from careledger.chaincode.state import StateView
from careledger.chaincode.stub import shown
from careledger.network.peer import policy as policies
from careledger.network.peer.policy import Policy
from careledger.protos import common_pb2

__all__ = ["KeyPolicy", "committed", "parse", "state_writes", "touched", "unparseable", "written_keys"]


@lru_cache(maxsize=4096)
def parse(text: str) -> Policy:
    """A key's policy text, parsed (PolicyError names the problem); cached, texts repeat."""
    return policies.parse(text)


def committed(state: StateView, namespace: str, key: str) -> str | None:
    """The committed policy text of `key` of `namespace`, or None when it has none."""
    found = state.get_state(KEY_POLICY_NAMESPACE, policy_key(namespace, key))
    return None if found is None else found[0].decode("utf-8")


def state_writes(rwset: common_pb2.ReadWriteSet) -> tuple[tuple[str, common_pb2.KVWrite], ...]:
    """The state writes a valid transaction's metadata writes become ("" deletes the row)."""
    return tuple(
        (KEY_POLICY_NAMESPACE, common_pb2.KVWrite(key=policy_key(ns.namespace, m.key),
                                                  value=m.endorsement_policy.encode("utf-8"),
                                                  is_delete=not m.endorsement_policy))
        for ns in rwset.ns_rwset for m in ns.metadata_writes
    )


def unparseable(rwset: common_pb2.ReadWriteSet) -> str | None:
    """Why a policy the transaction sets cannot be used (the first one), or None."""
    for ns in rwset.ns_rwset:
        for m in ns.metadata_writes:
            try:
                if m.endorsement_policy:
                    parse(m.endorsement_policy)
            except policies.PolicyError as exc:
                return f"the key-level policy set on key {ns.namespace}/{shown(m.key)} does not parse: {exc}"
    return None


def written_keys(ns: common_pb2.NsReadWriteSet) -> list[str]:
    """Every key a namespace's writes or policy changes touch, once each."""
    return list(dict.fromkeys([w.key for w in ns.writes] + [m.key for m in ns.metadata_writes]))


@dataclass(frozen=True)
class KeyPolicy:
    """A key a transaction writes and the policy its endorsements must satisfy for it."""

    namespace: str
    key: str
    policy: Policy


def touched(state: StateView, rwset: common_pb2.ReadWriteSet) -> list[KeyPolicy]:
    """The committed key-level policies of the keys `rwset` writes (what the committers will ask
    for, unless a transaction ordered before it changes them)."""
    found = []
    for ns in rwset.ns_rwset:
        for key in written_keys(ns):
            text = committed(state, ns.namespace, key)
            if text is not None:
                found.append(KeyPolicy(ns.namespace, key, parse(text)))
    return found
