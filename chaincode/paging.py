"""Pages of a range query: the page-size rule, the bookmark, and the answer a list function gives.

A ledger grows by millions of audited reads a year, so no list function may answer with every key it
could reach: each reads at most one page and hands back a bookmark to continue from. The bookmark is
the first key not yet returned, base64url-encoded: opaque to callers, the same on every endorser, and
checkable — a bookmark whose key lies outside the query's range was not made by that query.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from careledger.chaincode.errors import InvalidArgumentError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    """One page of a range query: the entries in key order, the bookmark of the next page ("" when
    the range is exhausted) and how many entries were read from the ledger for it."""

    entries: list[tuple[str, bytes]]
    bookmark: str
    fetched: int

    def answer(self, items: list[Any]) -> dict[str, Any]:
        """What a list function returns for this page: `items` (what the caller may see of the
        entries, possibly fewer than were fetched), the next `bookmark` and the `fetched` count."""
        return {"items": items, "bookmark": self.bookmark, "fetched": self.fetched}


def check_page_size(page_size: int) -> int:
    """`page_size` if it lies in 1..MAX_PAGE_SIZE, else a 400 refusal naming the argument."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 0 < page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(
            f"page_size {page_size!r} is out of range: ask for 1 to {MAX_PAGE_SIZE} entries a page "
            f"(or leave it empty for {DEFAULT_PAGE_SIZE})"
        )
    return page_size


def page_size_arg(text: str) -> int:
    """A list function's page_size argument: empty means DEFAULT_PAGE_SIZE; else a decimal number
    in 1..MAX_PAGE_SIZE, or a 400 refusal naming the argument."""
    if text == "":
        return DEFAULT_PAGE_SIZE
    if not (text.isascii() and text.isdigit()):
        raise InvalidArgumentError(
            f"page_size {text[:20]!r} is not a whole number; ask for 1 to {MAX_PAGE_SIZE} entries a page"
        )
    return check_page_size(int(text))


def encode_bookmark(key: str) -> str:
    """The bookmark that resumes a range query at `key`."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_bookmark(bookmark: str, start: str, end: str, query: str) -> str:
    """The key `bookmark` resumes at, if it is one encode_bookmark made for a key in [start, end)
    (an empty end is open); else a 400 refusal naming the bookmark and the query."""
    try:
        key = base64.urlsafe_b64decode(bookmark + "=" * (-len(bookmark) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if key is None or encode_bookmark(key) != bookmark or key < start or (end != "" and key >= end):
        raise InvalidArgumentError(
            f"bookmark {bookmark[:40]!r} was not made by this query ({query}); pass the bookmark "
            "the previous page of the same query answered, or an empty one for the first page"
        )
    return key
