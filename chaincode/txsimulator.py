"""Runs a transaction's reads and writes against committed state and records its read-write set.

Like Fabric's TxSimulator: nothing is written to state; writes are kept pending and returned as
the rwset for endorsement. Reads of a key written earlier in the same simulation see the pending
value (read-your-writes) and are not recorded as committed reads.
"""

from __future__ import annotations

from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE, policy_key
from careledger.chaincode.state import HistoryEntry, StateView, Version
from careledger.protos import common_pb2


def _kv_read(key: str, version: Version | None) -> common_pb2.KVRead:
    if version is None:
        return common_pb2.KVRead(key=key)
    block_num, tx_num = version
    return common_pb2.KVRead(key=key, version=common_pb2.Version(block_num=block_num, tx_num=tx_num))


def _in_range(key: str, start: str, end: str) -> bool:
    return key >= start and (end == "" or key < end)


class TxSimulator:
    """Pending writes, recorded reads and the event of one simulation, across namespaces."""

    def __init__(self, state: StateView) -> None:
        self._state = state
        self._reads: dict[str, dict[str, Version | None]] = {}
        self._writes: dict[str, dict[str, bytes | None]] = {}  # None marks a delete
        self._range_reads: dict[str, dict[tuple[str, str], common_pb2.RangeRead]] = {}
        self._policies: dict[str, dict[str, str]] = {}  # key-level policies set ("" removes)
        self.event: common_pb2.ChaincodeEvent | None = None

    def get_state(self, ns: str, key: str) -> bytes | None:
        """The pending value if this simulation wrote `key`, else the committed one (recorded)."""
        pending = self._writes.get(ns, {})
        if key in pending:
            return pending[key]
        found = self._state.get_state(ns, key)
        value, version = (None, None) if found is None else found
        self._reads.setdefault(ns, {}).setdefault(key, version)
        return value

    def put_state(self, ns: str, key: str, value: bytes) -> None:
        """Keep `value` as the pending write of `key`; the last write of a key wins."""
        self._writes.setdefault(ns, {})[key] = value

    def del_state(self, ns: str, key: str) -> None:
        """Keep a pending delete of `key`."""
        self._writes.setdefault(ns, {})[key] = None

    def get_range(self, ns: str, start: str, end: str) -> list[tuple[str, bytes]]:
        """Keys in [start, end), committed merged with pending writes; records a RangeRead."""
        rows = {key: value for key, value, _ in self._record_range(ns, start, end)}
        for key, value in self._writes.get(ns, {}).items():
            if not _in_range(key, start, end):
                continue
            if value is None:
                rows.pop(key, None)
            else:
                rows[key] = value
        return sorted(rows.items())

    def get_range_page(
        self, ns: str, start: str, end: str, page_size: int
    ) -> tuple[list[tuple[str, bytes]], str | None]:
        """The first `page_size` keys in [start, end), committed merged with pending writes, and
        the key after them (None when the range is exhausted). Only the range actually read,
        [start, that key), is recorded, so a key added beyond the page is no phantom of this tx."""
        pending = sorted((k, v) for k, v in self._writes.get(ns, {}).items() if _in_range(k, start, end))
        # Each pending delete may hide one committed key: read that many more, and one to peek.
        want = page_size + 1 + sum(1 for _, value in pending if value is None)
        committed = list(self._state.get_range(ns, start, end, want))
        rows = {key: value for key, value, _ in committed}
        for key, value in pending:
            if value is None:
                rows.pop(key, None)
            else:
                rows[key] = value
        merged = sorted(rows.items())
        if len(merged) <= page_size:  # exhausted: fewer committed keys than `want` exist
            self._record(ns, start, end, committed)
            return merged, None
        after = merged[page_size][0]  # <= the last committed key read, so none before it is unread
        self._record(ns, start, after, [row for row in committed if row[0] < after])
        return merged[:page_size], after

    def _record_range(self, ns: str, start: str, end: str) -> list[tuple[str, bytes, Version]]:
        committed = list(self._state.get_range(ns, start, end))
        self._record(ns, start, end, committed)
        return committed

    def _record(self, ns: str, start: str, end: str, committed: list[tuple[str, bytes, Version]]) -> None:
        ranges = self._range_reads.setdefault(ns, {})
        if (start, end) not in ranges:
            ranges[(start, end)] = common_pb2.RangeRead(
                start_key=start,
                end_key=end,
                reads=[_kv_read(key, version) for key, _, version in committed],
            )

    def get_history(self, ns: str, key: str) -> list[HistoryEntry]:
        """Committed history of `key`; not part of the rwset (as in Fabric)."""
        return list(self._state.get_history(ns, key))

    def set_key_policy(self, ns: str, key: str, policy: str) -> None:
        """Keep `policy` as the pending key-level endorsement policy of `key` ("" removes it)."""
        self._policies.setdefault(ns, {})[key] = policy

    def get_key_policy(self, ns: str, key: str) -> str | None:
        """The pending policy if this simulation set one, else the committed one, or None. Not a
        recorded read: the committers judge the policy in force when the transaction commits."""
        pending = self._policies.get(ns, {})
        if key in pending:
            return pending[key] or None
        found = self._state.get_state(KEY_POLICY_NAMESPACE, policy_key(ns, key))
        return None if found is None else found[0].decode("utf-8")

    def rwset(self) -> common_pb2.ReadWriteSet:
        """The canonical read-write set: namespaces sorted, reads and writes sorted by key."""
        result = common_pb2.ReadWriteSet()
        namespaces = (self._reads.keys() | self._writes.keys() | self._range_reads.keys()
                      | self._policies.keys())
        for ns in sorted(namespaces):
            reads = self._reads.get(ns, {})
            writes = self._writes.get(ns, {})
            result.ns_rwset.append(
                common_pb2.NsReadWriteSet(
                    namespace=ns,
                    reads=[_kv_read(key, reads[key]) for key in sorted(reads)],
                    writes=[
                        common_pb2.KVWrite(key=key, value=value or b"", is_delete=value is None)
                        for key, value in sorted(writes.items())
                    ],
                    range_reads=list(self._range_reads.get(ns, {}).values()),
                    metadata_writes=[
                        common_pb2.KVMetadataWrite(key=key, endorsement_policy=policy)
                        for key, policy in sorted(self._policies.get(ns, {}).items())
                    ],
                )
            )
        return result
