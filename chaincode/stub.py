"""The Stub: a contract's only window on the ledger, the transaction and the clock."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from careledger.chaincode.codec import to_bytes
from careledger.chaincode.errors import ContractError, InvalidKeyError
from careledger.chaincode.paging import Page, check_page_size, decode_bookmark, encode_bookmark
from careledger.chaincode.state import HistoryEntry
from careledger.chaincode.txsimulator import TxSimulator
from careledger.protos import common_pb2

MAX_KEY_LENGTH = 1024
KEY_DISPLAY_LENGTH = 60
# Characters that make a key print as something else on an admin's terminal or in a UI: bidi
# embeddings, overrides and isolates, and the invisible direction marks (Trojan Source).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
COMPOSITE_KEY_NAMESPACE = "\x00"
MIN_UNICODE_RUNE = "\x00"
MAX_UNICODE_RUNE = "\U0010ffff"
# Fabric's substitute for an open start of a simple-key range: skips every composite key.
EMPTY_KEY_SUBSTITUTE = "\x01"

Invoke = Callable[[str, str, Sequence[str]], bytes]
"""How a stub asks the runtime to run another contract: (contract, function, args) -> payload."""


def shown(text: str) -> str:
    """text quoted for a message: every control character escaped (repr), long text cut."""
    cut = text[:KEY_DISPLAY_LENGTH]
    return repr(cut) + (f"... ({len(text)} characters)" if len(text) > KEY_DISPLAY_LENGTH else "")


# C0 controls, DEL and C1 controls, and the bidi controls: one search in C, not a loop per character
# (every call checks its contract and function names, and the contract each key it touches)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(re.escape(c) for c in sorted(BIDI_CONTROLS)) + "]")


def control_character(text: str) -> tuple[int, str] | None:
    """The position and U+ code of the first C0/C1 control, DEL or bidi control in text."""
    found = _CONTROL.search(text)
    return None if found is None else (found.start(), f"U+{ord(found.group()):04X}")


def _check_utf8(what: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(f"{what} {shown(text)} is not valid UTF-8: {exc.reason}") from None


def _check_printable(what: str, text: str, whole: str | None = None) -> None:
    found = control_character(text)
    if found is not None:
        of = f" of key {shown(whole)}" if whole is not None else ""
        raise InvalidKeyError(
            f"{what} {shown(text)}{of} contains the control character {found[1]} at position "
            f"{found[0]}; keys and ids must be printable text (no C0/C1 controls, DEL, escape "
            "sequences or bidirectional overrides)"
        )


def _check_key(key: str) -> None:
    if not isinstance(key, str) or key == "":
        raise InvalidKeyError(f"key {key!r} is invalid: a key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"key {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    _check_utf8("key", key)
    if key.startswith(COMPOSITE_KEY_NAMESPACE):
        object_type, attrs = split_composite_key(key)
        for part in (object_type, *attrs):
            _check_printable("composite key part", part, key)
    else:
        _check_printable("key", key)


def _check_simple_key(key: str) -> None:
    if key.startswith(COMPOSITE_KEY_NAMESPACE):
        raise InvalidKeyError(
            f"key {key!r} is a composite key; use get_state_by_partial_composite_key for those"
        )


def create_composite_key(object_type: str, attrs: Sequence[str]) -> str:
    """Fabric's composite key: "\\x00" + type + "\\x00" + each attribute + "\\x00"."""
    if object_type == "":
        raise InvalidKeyError("composite key object type must be a non-empty string")
    for part in (object_type, *attrs):
        if not isinstance(part, str):
            raise InvalidKeyError(f"composite key part {part!r} must be a string")
        _check_utf8("composite key part", part)
        if MIN_UNICODE_RUNE in part or MAX_UNICODE_RUNE in part:
            raise InvalidKeyError(
                f"composite key part {shown(part)} must not contain U+0000 or U+10FFFF"
            )
        _check_printable("composite key part", part)
    return COMPOSITE_KEY_NAMESPACE + "".join(f"{part}\x00" for part in (object_type, *attrs))


def split_composite_key(key: str) -> tuple[str, list[str]]:
    """The object type and attributes of a composite key made by create_composite_key."""
    if len(key) < 3 or not key.startswith(COMPOSITE_KEY_NAMESPACE) or not key.endswith("\x00"):
        raise InvalidKeyError(
            f"key {shown(key)} is not a composite key; keys starting with U+0000 are reserved "
            "for them"
        )
    object_type, *attrs = key[1:-1].split("\x00")
    return object_type, attrs


class Stub:
    """Reads and writes world state for one contract namespace within one simulation.

    Made by the runtime for every invocation; contracts get it as `ctx.stub`.
    """

    def __init__(
        self,
        simulator: TxSimulator,
        namespace: str,
        *,
        tx_id: str,
        channel: str,
        function: str,
        args: Sequence[str],
        timestamp: datetime,
        transient: Mapping[str, bytes],
        invoke: Invoke,
    ) -> None:
        self._sim = simulator
        self._ns = namespace
        self.tx_id = tx_id
        self.channel = channel
        self.function = function
        self.args = list(args)
        self._timestamp = (
            timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp.astimezone(UTC)
        )
        self._transient = dict(transient)
        self._invoke = invoke

    def get_tx_timestamp(self) -> datetime:
        """The signed proposal's time in UTC: the only clock a contract may use (deterministic)."""
        return self._timestamp

    def get_transient(self) -> dict[str, bytes]:
        """Sensitive inputs the client sent outside the args; they never reach the ledger."""
        return dict(self._transient)

    def get_state(self, key: str) -> bytes | None:
        """The value of `key`, or None when it does not exist (sees this transaction's writes)."""
        _check_key(key)
        return self._sim.get_state(self._ns, key)

    def put_state(self, key: str, value: bytes | str) -> None:
        """Write `key`; takes effect when the transaction commits valid."""
        _check_key(key)
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes):
            kind = type(value).__name__
            raise TypeError(f"put_state value for key {key!r} must be bytes or str, not {kind}")
        self._sim.put_state(self._ns, key, value)

    def del_state(self, key: str) -> None:
        """Delete `key`; takes effect when the transaction commits valid."""
        _check_key(key)
        self._sim.del_state(self._ns, key)

    def set_state_validation_parameter(self, key: str, policy: str) -> None:
        """Put an endorsement policy on `key` (text as in the network configuration, e.g.
        "hospital" or "AND(hospital, board)"; "" removes it). Once committed, every write to the
        key and every change of its policy needs endorsements satisfying this policy as well as
        the contract's (it narrows who must agree, never widens it); a policy set in this
        transaction already guards the key in later transactions of the same block. It outlives a
        delete of the key."""
        _check_key(key)
        if not isinstance(policy, str):
            raise TypeError(f"the policy for key {shown(key)} must be a str, not {type(policy).__name__}")
        self._sim.set_key_policy(self._ns, key, policy)

    def get_state_validation_parameter(self, key: str) -> str | None:
        """The endorsement policy on `key` (this transaction's if it set one), or None."""
        _check_key(key)
        return self._sim.get_key_policy(self._ns, key)

    def get_state_by_range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Simple keys in [start, end), sorted; an empty bound leaves that side open."""
        for bound in (start, end):
            if bound:
                _check_key(bound)
                _check_simple_key(bound)
        return iter(self._sim.get_range(self._ns, start or EMPTY_KEY_SUBSTITUTE, end))

    def get_state_by_range_with_pagination(
        self, start: str, end: str, page_size: int, bookmark: str = ""
    ) -> Page:
        """At most `page_size` simple keys of [start, end), sorted, from where `bookmark` (a
        previous page's of the same range) left off; the page's bookmark continues it."""
        for bound in (start, end):
            if bound:
                _check_key(bound)
                _check_simple_key(bound)
        first = start or EMPTY_KEY_SUBSTITUTE
        return self._page(first, end, page_size, bookmark, f"range [{shown(start)}, {shown(end)})")

    def get_state_by_partial_composite_key_with_pagination(
        self, object_type: str, attrs: Sequence[str], page_size: int, bookmark: str = ""
    ) -> Page:
        """get_state_by_partial_composite_key one page at a time, as for the range above."""
        prefix = create_composite_key(object_type, attrs)
        shown_key = "/".join((object_type, *attrs))
        return self._page(prefix, prefix + MAX_UNICODE_RUNE, page_size, bookmark,
                          f"keys under {shown(shown_key)}")

    def _page(self, start: str, end: str, page_size: int, bookmark: str, query: str) -> Page:
        check_page_size(page_size)
        resume = decode_bookmark(bookmark, start, end, query) if bookmark else start
        entries, after = self._sim.get_range_page(self._ns, resume, end, page_size)
        return Page(entries, "" if after is None else encode_bookmark(after), len(entries))

    def create_composite_key(self, object_type: str, attrs: Sequence[str]) -> str:
        """A key made of a type and attributes, for secondary indexes and partial-key queries."""
        return create_composite_key(object_type, attrs)

    def split_composite_key(self, key: str) -> tuple[str, list[str]]:
        """The object type and attributes of a composite key."""
        return split_composite_key(key)

    def get_state_by_partial_composite_key(
        self, object_type: str, attrs: Sequence[str]
    ) -> Iterator[tuple[str, bytes]]:
        """Composite keys of `object_type` whose leading attributes equal `attrs`, sorted."""
        prefix = create_composite_key(object_type, attrs)
        return iter(self._sim.get_range(self._ns, prefix, prefix + MAX_UNICODE_RUNE))

    def get_history_for_key(self, key: str) -> list[HistoryEntry]:
        """Every committed change of `key`, oldest first (this transaction's writes not included)."""
        _check_key(key)
        return self._sim.get_history(self._ns, key)

    def set_event(self, name: str, payload: bytes | str | dict[str, Any]) -> None:
        """Emit an event when the transaction commits; one per transaction, the last one wins."""
        if not isinstance(name, str) or name == "":
            raise ContractError(f"event name {name!r} is invalid: it must be a non-empty string")
        _check_printable("event name", name)
        self._sim.event = common_pb2.ChaincodeEvent(
            contract=self._ns, tx_id=self.tx_id, event_name=name, payload=to_bytes(payload)
        )

    def invoke_contract(self, contract: str, function: str, args: Sequence[str]) -> bytes:
        """Run another contract's function in this simulation, in its own namespace, as the same
        client; its payload is returned and its ContractError propagates."""
        return self._invoke(contract, function, args)
