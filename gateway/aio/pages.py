"""Pages of a contract's list function for asyncio: careledger.gateway.pages with each call awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from careledger.gateway.aio.contract import Contract
from careledger.gateway.pages import ListPage, page_args
from careledger.gateway.proposal import Arg


async def pages(
    contract: Contract, function: str, *args: Arg, page_size: int | None = None, bookmark: str = ""
) -> AsyncIterator[ListPage]:
    """Evaluate `function` page after page from `bookmark` ("" is the first page) to the last."""
    while True:
        payload = await contract.evaluate_transaction(function, *args, *page_args(page_size, bookmark))
        page = ListPage.from_payload(function, payload)
        yield page
        if not page.bookmark:
            return
        bookmark = page.bookmark


async def items(
    contract: Contract, function: str, *args: Arg, page_size: int | None = None
) -> AsyncIterator[Any]:
    """Every item of every page of `function`, in the order the pages give them."""
    async for page in pages(contract, function, *args, page_size=page_size):
        for item in page.items:
            yield item
