"""Paginated range queries on the stub (issue 11): pages, bookmarks, refusals and phantom reads.

A page reads at most page_size keys and records only the range it read, [start, next key), so a key
written later beyond the page does not invalidate the transaction, and one inside it does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import contractharness
import pytest

from careledger.chaincode import ClientIdentity, Context, Contract, evaluate, submit
from careledger.chaincode.paging import MAX_PAGE_SIZE, decode_bookmark, encode_bookmark
from careledger.chaincode.runtime import ContractRegistry, Invocation, SimulationResult, simulate
from careledger.protos import common_pb2

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = ClientIdentity(org="hospital", name="alice", role="client")


class PagerContract(Contract):
    """Drives the paginated queries from string arguments; `touch` writes before it reads."""

    name = "pager"

    @evaluate
    def range_page(self, ctx: Context, start: str, end: str, size: str, bookmark: str = "") -> object:
        page = ctx.stub.get_state_by_range_with_pagination(start, end, int(size), bookmark)
        return page.answer([k for k, _ in page.entries])

    @evaluate
    def partial_page(self, ctx: Context, kind: str, attr: str, size: str, bookmark: str = "") -> object:
        page = ctx.stub.get_state_by_partial_composite_key_with_pagination(kind, [attr], int(size), bookmark)
        return page.answer([ctx.stub.split_composite_key(k)[1][-1] for k, _ in page.entries])

    @submit
    def touch(self, ctx: Context, put: str, drop: str, size: str) -> dict[str, object]:
        if put:
            ctx.stub.put_state(put, "new")
        if drop:
            ctx.stub.del_state(drop)
        page = ctx.stub.get_state_by_range_with_pagination("", "", int(size))
        return page.answer([k for k, _ in page.entries])


REGISTRY = ContractRegistry([PagerContract()])


@pytest.fixture
def state() -> contractharness.MemoryState:
    ledger = contractharness.MemoryState()
    for i, key in enumerate(["a", "b", "c", "d", "e"]):
        ledger.commit("pager", key, key.encode(), (1, i), f"t{i}", AT)
    for i, item in enumerate(["x1", "x2", "x3"]):
        ledger.commit("pager", f"\x00rec\x00p1\x00{item}\x00", b"{}", (2, i), f"r{i}", AT)
    ledger.commit("pager", "\x00rec\x00p2\x00y1\x00", b"{}", (2, 3), "r3", AT)
    return ledger


def run(state: contractharness.MemoryState, function: str, *args: str) -> SimulationResult:
    args_bytes = [a.encode() for a in args]
    invocation = Invocation("tx-1", "healthcare", "pager", function, args_bytes, {}, AT, ALICE)
    return simulate(REGISTRY, state, invocation)


def answer(state: contractharness.MemoryState, function: str, *args: str) -> dict[str, object]:
    result = run(state, function, *args)
    assert result.response.status == 200, result.response.message
    found: dict[str, object] = json.loads(result.response.payload)
    return found


def all_pages(state: contractharness.MemoryState, function: str, *args: str) -> list[list[str]]:
    pages, bookmark = [], ""
    while True:
        page = answer(state, function, *args, bookmark)
        pages.append(page["items"])
        assert page["fetched"] == len(page["items"])  # type: ignore[arg-type]
        bookmark = str(page["bookmark"])
        if not bookmark:
            return pages  # type: ignore[return-value]


def test_pages_of_a_range_follow_each_other_by_bookmark_to_the_end(state) -> None:
    assert all_pages(state, "range_page", "", "", "2") == [["a", "b"], ["c", "d"], ["e"]]
    assert all_pages(state, "range_page", "b", "e", "3") == [["b", "c", "d"]]  # exact fit: no bookmark
    assert all_pages(state, "range_page", "", "", str(MAX_PAGE_SIZE)) == [["a", "b", "c", "d", "e"]]


def test_partial_composite_key_pages_stay_inside_their_prefix(state) -> None:
    assert all_pages(state, "partial_page", "rec", "p1", "2") == [["x1", "x2"], ["x3"]]
    assert all_pages(state, "partial_page", "rec", "p9", "2") == [[]]


def test_the_bookmark_is_the_next_key_encoded_the_same_on_every_call(state) -> None:
    first = answer(state, "range_page", "", "", "2")
    assert first == answer(state, "range_page", "", "", "2")
    assert first["bookmark"] == encode_bookmark("c")
    assert decode_bookmark(encode_bookmark("c"), "", "", "q") == "c"


@pytest.mark.parametrize(("function", "args", "message"), [
    ("range_page", ("", "", "0"), "page_size 0 is out of range: ask for 1 to 1000"),
    ("range_page", ("", "", "-1"), "page_size -1 is out of range"),
    ("range_page", ("", "", str(MAX_PAGE_SIZE + 1)), "page_size 1001 is out of range"),
    ("range_page", ("", "", "2", "not a bookmark!"), "bookmark 'not a bookmark!' was not made by this query"),
    ("range_page", ("", "", "2", "Y"), "bookmark 'Y' was not made by this query"),  # cut short
    ("range_page", ("", "", "2", encode_bookmark("c") + "="), "was not made by this query"),  # padded
    ("range_page", ("b", "d", "2", encode_bookmark("e")), "was not made by this query (range ['b', 'd'))"),
    ("range_page", ("", "", "2", encode_bookmark("\x00rec\x00p1\x00x2\x00")), "was not made by this query"),
    ("partial_page", ("rec", "p1", "2", encode_bookmark("\x00rec\x00p2\x00y1\x00")),
     "was not made by this query (keys under 'rec/p1')"),
    ("partial_page", ("rec", "p1", "2", encode_bookmark("c")), "was not made by this query"),
])
def test_bad_page_size_or_foreign_bookmark_is_a_400_naming_it(state, function, args, message) -> None:
    result = run(state, function, *args)
    assert result.response.status == 400
    assert message in result.response.message
    assert not result.rwset.ns_rwset  # nothing recorded, nothing to commit


def test_a_page_records_only_the_range_it_read(state) -> None:
    result = run(state, "range_page", "", "", "2")
    (rr,) = result.rwset.ns_rwset[0].range_reads
    assert (rr.start_key, rr.end_key, [r.key for r in rr.reads]) == ("\x01", "c", ["a", "b"])
    last = run(state, "range_page", "", "", "2", encode_bookmark("e"))
    (rr,) = last.rwset.ns_rwset[0].range_reads
    assert (rr.start_key, rr.end_key, [r.key for r in rr.reads]) == ("e", "", ["e"])  # to the range's end


def _commit_key(state: contractharness.MemoryState, key: str) -> None:
    state.commit("pager", key, b"later", (9, 0), "t9", AT)


@pytest.mark.parametrize(("key", "phantom"), [("bb", True), ("c", False), ("cc", False), ("0", True)])
def test_a_key_added_inside_the_page_read_is_a_phantom_one_beyond_it_is_not(state, key, phantom) -> None:
    paged = run(state, "touch", "", "", "2")  # reads a, b; next key c
    assert json.loads(paged.response.payload)["items"] == ["a", "b"]
    _commit_key(state, key)
    assert state.is_current(paged.rwset) is not phantom


def test_a_page_sees_its_own_writes_and_deletes_and_records_only_committed_reads(state) -> None:
    result = run(state, "touch", "ab", "b", "3")  # writes ab, deletes b
    payload = json.loads(result.response.payload)
    assert payload["items"] == ["a", "ab", "c"] and payload["bookmark"] == encode_bookmark("d")
    (rr,) = [ns for ns in result.rwset.ns_rwset if ns.namespace == "pager"][0].range_reads
    assert (rr.end_key, [r.key for r in rr.reads]) == ("d", ["a", "b", "c"])
    deleted_all = run(state, "touch", "", "a", "4")
    assert json.loads(deleted_all.response.payload)["items"] == ["b", "c", "d", "e"]


def test_phantom_check_of_the_peer_agrees_on_a_page_range(state) -> None:
    """The peer's validator compares a RangeRead with state over [start_key, end_key): the page's
    recorded end is the next key, so the validator needs nothing new."""
    paged = run(state, "range_page", "", "", "2", encode_bookmark("c"))
    (rr,) = paged.rwset.ns_rwset[0].range_reads
    assert isinstance(rr, common_pb2.RangeRead) and (rr.start_key, rr.end_key) == ("c", "e")
    state.commit("pager", "d", b"changed", (9, 1), "t9", AT)
    assert not state.is_current(paged.rwset)
