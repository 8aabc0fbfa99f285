"""Where key-level endorsement policies live in world state, shared by simulation and validation.

A committed policy is an ordinary state row in the reserved namespace KEY_POLICY_NAMESPACE (no
contract can be named so: contract names start with a letter or digit), under the contract's
namespace and the key joined by U+0000. So the block's SQLite transaction, the state digest of the
commit record, snapshots, `ledger verify --state` and repair carry policies with no mechanism of
their own. A policy outlives a delete of its key (unlike Fabric, where metadata goes with the key):
a deleted consent must not become writable under the weaker contract policy; a contract removes a
policy by setting "".
"""

from __future__ import annotations

KEY_POLICY_NAMESPACE = "_keypolicy"


def policy_key(namespace: str, key: str) -> str:
    """The state key under KEY_POLICY_NAMESPACE that holds the policy of `key` of `namespace`."""
    return f"{namespace}\x00{key}"


def split_policy_key(state_key: str) -> tuple[str, str]:
    """(namespace, key) of a state key made by policy_key (namespaces hold no U+0000)."""
    namespace, _, key = state_key.partition("\x00")
    return namespace, key
