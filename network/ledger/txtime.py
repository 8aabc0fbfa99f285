"""The channel's clock rule: how far a proposal's time may lie from the time it is judged at.

A proposal carries the time its client chose; contracts judge licences, consent periods and audit
times by it. Gateways and endorsers refuse a proposal dated further than the channel's clock skew
from their own clock; committers judge it against its block's time, which the orderer signed into
the block header, so every peer, and every later re-validation, decides the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from careledger.protos import common_pb2

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS = range(-62135596800, 253402300800)  # 0001-01-01 to 9999-12-31, what a Timestamp may hold


def utc(timestamp: Timestamp) -> datetime:
    """`timestamp.ToDatetime(UTC)`, the same datetime, for half the CPU (the committer
    converts every proposal's time): a valid Timestamp is added to the epoch directly; an invalid
    one is left to ToDatetime, which raises ValueError naming the bad field."""
    seconds, nanos = timestamp.seconds, timestamp.nanos
    if seconds not in _SECONDS or not 0 <= nanos < 1_000_000_000:
        return timestamp.ToDatetime(UTC)
    return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def proposal_time(header: common_pb2.Header) -> datetime | None:
    """The time the client put into a proposal, or None if it set none."""
    return utc(header.timestamp) if header.HasField("timestamp") else None


def block_time(header: common_pb2.BlockHeader) -> datetime | None:
    """The time the orderer signed into a block, or None for a block cut before blocks had one."""
    return utc(header.timestamp) if header.HasField("timestamp") else None


def stamp(target: common_pb2.BlockHeader, moment: datetime) -> None:
    """Write `moment` into a block header's timestamp."""
    target.timestamp.FromDatetime(moment.astimezone(UTC))


def iso(moment: datetime) -> str:
    """An instant in UTC with a Z, to the second or finer as it has."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds:.0f} s"


def outside_window(tx_time: datetime | None, reference: datetime, window: timedelta, clock: str) -> str:
    """Why `tx_time` is not within `window` of `reference` (named `clock`), or "" if it is.

    The message names both times and the window, e.g. "proposal time 2024-01-01T00:00:00Z is
    400 days before the block's time 2025-02-04T00:00:00Z; the channel accepts 300 s either way".
    """
    if tx_time is None:
        return f"the proposal carries no time; {clock} is {iso(reference)} (set header.timestamp)"
    delta = tx_time - reference
    if abs(delta) <= window:
        return ""
    side = "before" if delta < timedelta(0) else "after"
    return (
        f"proposal time {iso(tx_time)} is {_span(delta)} {side} {clock} {iso(reference)}; the channel "
        f"accepts {window.total_seconds():.0f} s either way (clock_skew_s)"
    )
