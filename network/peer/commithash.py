"""What a peer commits per block, as hashes every peer computes the same way.

The commit hash of block n is SHA-256 over the commit hash of block n-1, n, the block's validation
codes and the writes its VALID transactions applied; the chain of them says "this peer applied
exactly these outcomes", so peers can be compared block by block, and a block file whose codes
were changed after the commit no longer matches the hash stored with the state.

The state digest is a sum (mod 2**256) of one hash per world-state row (namespace, key, value,
version), kept up to date write by write: a full scan of the state table must give the digest
stored with the last block, or a row was changed outside a commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careledger.network.peer.outcome import TxOutcome

GENESIS = bytes(32)
_MOD = 1 << 256
_DOMAIN = b"careledger-commit-v1"


def _field(update: Callable[[bytes], None], data: bytes) -> None:
    update(len(data).to_bytes(8, "big"))
    update(data)


def commit_hash(previous: bytes, block_num: int, outcomes: Sequence[TxOutcome]) -> bytes:
    """The commit hash of a block from its predecessor's, its codes and its valid writes."""
    h = hashlib.sha256(_DOMAIN)
    _field(h.update, previous)
    h.update(block_num.to_bytes(8, "big"))
    h.update(len(outcomes).to_bytes(8, "big"))
    for outcome in outcomes:
        h.update(int(outcome.code).to_bytes(4, "big"))
        h.update(len(outcome.writes).to_bytes(8, "big"))
        for ns, write in outcome.writes:
            _field(h.update, ns.encode())
            _field(h.update, write.key.encode())
            h.update(b"\x01" if write.is_delete else b"\x00")
            _field(h.update, b"" if write.is_delete else write.value)
    return h.digest()


def codes_bytes(codes: Sequence[int]) -> bytes:
    """Validation codes as stored with a commit record: one byte each (codes are 0-255)."""
    return bytes(int(c) for c in codes)


def row_hash(ns: str, key: str, value: bytes, block_num: int, tx_num: int) -> int:
    """One world-state row's share of the state digest."""
    h = hashlib.sha256(b"careledger-state-row-v1")
    _field(h.update, ns.encode())
    _field(h.update, key.encode())
    _field(h.update, value)
    h.update(block_num.to_bytes(8, "big"))
    h.update(tx_num.to_bytes(8, "big"))
    return int.from_bytes(h.digest(), "big")


def add(digest: int, share: int) -> int:
    """The digest with a row added."""
    return (digest + share) % _MOD


def remove(digest: int, share: int) -> int:
    """The digest with a row removed."""
    return (digest - share) % _MOD


def digest_bytes(digest: int) -> bytes:
    return digest.to_bytes(32, "big")


def digest_int(data: bytes) -> int:
    return int.from_bytes(data, "big") if data else 0
