"""Pages of a contract's list function: read one, or every one by following the bookmarks.

A list function (patient_records, disclosures, my_claims, get_all_assets, ...) takes page_size and
bookmark as its last two arguments and answers one page as JSON {items, bookmark, fetched}: the
bookmark of the next page, "" after the last. These helpers evaluate it page after page, so an
integrator never holds more than one page and never builds bookmarks by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from careledger.gateway.contract import Contract
from careledger.gateway.proposal import Arg


@dataclass(frozen=True)
class ListPage:
    """One page a list function answered: its items, the bookmark of the next page ("" after the
    last), and how many ledger entries the contract read for it (more than the items when it
    filters what the caller may see, so a page may hold fewer items than page_size, even none)."""

    items: list[Any]
    bookmark: str
    fetched: int

    @classmethod
    def from_payload(cls, function: str, payload: bytes) -> ListPage:
        """The page in a list function's result; ValueError naming a function that is no list function."""
        try:
            answer = json.loads(payload)
            return cls(list(answer["items"]), str(answer["bookmark"]), int(answer["fetched"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(
                f"{function} did not answer a page {{items, bookmark, fetched}} ({exc!r}); "
                "page through list functions only"
            ) from None


def page_args(page_size: int | None, bookmark: str) -> tuple[str, str]:
    """The page_size and bookmark arguments: no page size leaves the contract's default."""
    return ("" if page_size is None else str(page_size)), bookmark


def pages(
    contract: Contract, function: str, *args: Arg, page_size: int | None = None, bookmark: str = ""
) -> Iterator[ListPage]:
    """Evaluate `function` page after page from `bookmark` ("" is the first page) to the last."""
    while True:
        page = ListPage.from_payload(
            function, contract.evaluate_transaction(function, *args, *page_args(page_size, bookmark))
        )
        yield page
        if not page.bookmark:
            return
        bookmark = page.bookmark


def items(
    contract: Contract, function: str, *args: Arg, page_size: int | None = None
) -> Iterator[Any]:
    """Every item of every page of `function`, in the order the pages give them."""
    for page in pages(contract, function, *args, page_size=page_size):
        yield from page.items
