"""One encoding of contract values into bytes, so every endorser produces the same payload."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys, UTF-8: the same bytes for the same value on every peer."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def to_bytes(value: object) -> bytes:
    """A return value or event payload as bytes: bytes as is, str UTF-8, None empty, else JSON."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict | list | int):  # bool is an int
        return canonical_json(value)
    raise TypeError(
        f"cannot encode a {type(value).__name__}; return bytes, str, dict, list, int, bool or None"
    )
