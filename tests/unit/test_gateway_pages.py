"""The SDK's page helpers without a network: they pass page_size and bookmark as the last two
arguments, follow each answered bookmark until an empty one, and refuse an answer that is no page."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from careledger.gateway import ListPage, aio, items, pages

ROWS = [f"k{i:03d}" for i in range(250)]


def answer(args: tuple[Any, ...]) -> bytes:
    """A list function over ROWS: the bookmark is the index of the next row, as text."""
    *rest, size, bookmark = args
    assert rest == ["2026-01-01"]  # the function's own arguments come first
    start, count = int(bookmark or 0), int(size or 100)
    following = start + count if start + count < len(ROWS) else ""
    return json.dumps({"items": ROWS[start:start + count], "bookmark": str(following),
                       "fetched": len(ROWS[start:start + count])}).encode()


class FakeContract:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        self.calls.append((name, *args))
        return answer(args)


class FakeAsyncContract(FakeContract):
    async def evaluate_transaction(self, name: str, *args: Any) -> bytes:  # type: ignore[override]
        return FakeContract.evaluate_transaction(self, name, *args)


def test_pages_follow_the_bookmarks_to_the_last_page() -> None:
    contract = FakeContract()
    read = list(pages(contract, "disclosures", "2026-01-01", page_size=100))  # type: ignore[arg-type]
    assert [len(page.items) for page in read] == [100, 100, 50]
    assert [call[-2:] for call in contract.calls] == [("100", ""), ("100", "100"), ("100", "200")]
    assert list(items(FakeContract(), "disclosures", "2026-01-01")) == ROWS  # type: ignore[arg-type]
    resumed = list(pages(FakeContract(), "disclosures", "2026-01-01", page_size=100,  # type: ignore[arg-type]
                         bookmark="200"))
    assert [page.items for page in resumed] == [ROWS[200:]]


def test_the_asyncio_helpers_read_the_same_pages() -> None:
    async def read() -> tuple[list[ListPage], list[Any]]:
        found = [page async for page in aio.pages(FakeAsyncContract(), "disclosures",  # type: ignore[arg-type]
                                                  "2026-01-01", page_size=100)]
        every = [item async for item in aio.items(FakeAsyncContract(), "disclosures",  # type: ignore[arg-type]
                                                  "2026-01-01", page_size=30)]
        return found, every

    found, every = asyncio.run(read())
    assert [len(page.items) for page in found] == [100, 100, 50] and every == ROWS


@pytest.mark.parametrize("payload", [b'{"valid": true}', b"[1, 2]", b"not json", b'{"items": 3}'])
def test_an_answer_that_is_no_page_is_refused_naming_the_function(payload: bytes) -> None:
    with pytest.raises(ValueError, match="verify did not answer a page"):
        ListPage.from_payload("verify", payload)
