"""The explorer's web server (aiohttp): the page and its files, a JSON API over LedgerView and
NodeWatch, and Server-Sent Events that carry each new block to every open page.

One task follows the chain: it reads the height, then the identity's BlockEvents stream from there
on, and publishes every block it is given. When the peer refuses the identity blocks
(PERMISSION_DENIED), it publishes the refusal once and follows the height instead, so the page
still moves and says what it may not show.

The page and its API answer only a browser that presents the session token printed in the URL
(kept in an HttpOnly cookie after the first visit): the explorer acts with its identity's
signature, and another user of the machine should not borrow it through the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from careledger.cli.explorer.ledgerview import Json, LedgerView, Refused
from careledger.cli.explorer.operations import NodeWatch

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
COOKIE = "careledger_explorer"
RECENT_BLOCKS = 12  # blocks the page lists and the follower keeps for new pages

class Hub:
    """The chain as the follower last saw it, its recent blocks, and the open event streams."""

    def __init__(self) -> None:
        self.height: int | None = None
        self.next_block: int | None = None  # where the follower resumes after a broken stream
        self.restricted: str = ""  # the peer's refusal of full blocks to this identity, if any
        self.problem: str = ""  # why following stopped for now (a peer down), if it did
        self.recent: deque[Json] = deque(maxlen=RECENT_BLOCKS)
        self._queues: set[asyncio.Queue[tuple[str, Json] | None]] = set()

    def state(self) -> Json:
        return {"height": self.height, "restricted": self.restricted, "problem": self.problem}

    def publish(self, kind: str, data: Json) -> None:
        for queue in self._queues:
            queue.put_nowait((kind, data))

    def subscribe(self) -> asyncio.Queue[tuple[str, Json] | None]:
        queue: asyncio.Queue[tuple[str, Json] | None] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, Json] | None]) -> None:
        self._queues.discard(queue)

    def close(self) -> None:
        """End every open event stream (the server is stopping)."""
        for queue in self._queues:
            queue.put_nowait(None)


VIEW = web.AppKey("view", LedgerView)
WATCH = web.AppKey("watch", NodeWatch)
HUB = web.AppKey("hub", Hub)
TOKEN = web.AppKey("token", str)


async def follow_chain(view: LedgerView, hub: Hub, retry_after: float = 2.0) -> None:
    """Publish each new block until cancelled: full blocks while the peer serves them to this
    identity, else (after publishing its refusal) the filtered blocks every member may read,
    starting RECENT_BLOCKS back so that the page has something to show."""

    async def on_block(block: Json) -> None:
        hub.next_block = block["number"] + 1
        hub.recent.append(block)
        if hub.height is None or hub.next_block > hub.height:
            hub.height = hub.next_block
        hub.problem = ""
        hub.publish("block", block)

    while True:
        try:
            info = await view.chain_info()
            if info["height"] != hub.height or hub.problem:
                hub.height, hub.problem = max(info["height"], hub.height or 0), ""
                hub.publish("height", hub.state())
            if hub.restricted:
                if hub.next_block is None:
                    hub.next_block = max(info["height"] - RECENT_BLOCKS, 0)
                await view.follow_filtered(hub.next_block, on_block)
            else:
                await view.follow(info["height"] if hub.next_block is None else hub.next_block, on_block)
        except Refused as refused:
            if refused.restricted and not hub.restricted:
                hub.restricted, hub.next_block = refused.message, None
            else:
                hub.problem = f"{refused.code}: {refused.message}"
                await asyncio.sleep(retry_after)
            hub.publish("height", hub.state())
        except Exception as exc:  # noqa: BLE001 - a block the page cannot read must not stop the following
            log.exception("following the chain failed; retrying")
            hub.problem = f"{type(exc).__name__}: {exc}"
            hub.publish("height", hub.state())
            await asyncio.sleep(retry_after)


async def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _api(handler: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    """A JSON endpoint: the handler's value, or the peer's refusal as 403 (access rules) or 502."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await _json(await handler(request))
        except Refused as refused:
            status = 403 if refused.restricted else 404 if refused.code == "NOT_FOUND" else 502
            return await _json(refused.as_json(), status)

    return wrapped


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The page and API only for a browser holding the session token (URL once, then a cookie)."""
    token = request.app[TOKEN]
    if request.path.startswith("/static/"):
        return await handler(request)
    given = request.query.get("token")
    if given is not None and secrets.compare_digest(given, token):
        response = await handler(request)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        return response
    if secrets.compare_digest(request.cookies.get(COOKIE, ""), token):
        return await handler(request)
    raise web.HTTPUnauthorized(text="open the URL `careledger explorer` printed: it carries the session "
                                    "token\n")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def whoami(request: web.Request) -> Json:
    return request.app[VIEW].whoami() | {"interval": request.app[WATCH].interval}


async def info(request: web.Request) -> Json:
    return await request.app[VIEW].chain_info()


async def blocks(request: web.Request) -> Json:
    """The newest blocks (or those below ?before=N), newest first."""
    view = request.app[VIEW]
    height = (await view.chain_info())["height"]
    try:
        before = min(int(request.query.get("before", height)), height)
    except ValueError:
        raise web.HTTPBadRequest(text="before must be a block number\n") from None
    numbers = range(before - 1, max(before - RECENT_BLOCKS, 0) - 1, -1)
    found = await asyncio.gather(*(view.block(n) for n in numbers))
    return {"height": height, "blocks": list(found)}


async def block(request: web.Request) -> Json:
    return await request.app[VIEW].block(int(request.match_info["number"]))


async def transaction(request: web.Request) -> Json:
    return await request.app[VIEW].transaction(request.match_info["tx_id"])


async def contracts(request: web.Request) -> Json:
    return {"contracts": await request.app[VIEW].contracts(), "source": "ledger (_lifecycle definitions)"}


async def nodes(request: web.Request) -> Json:
    return request.app[WATCH].snapshot()


async def disclosures(request: web.Request) -> Json:
    start = request.query.get("start", "1970-01-01")
    end = request.query.get("end", "9999-12-31")
    return {"start": start, "end": end, "entries": await request.app[VIEW].disclosures(start, end)}


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `height` (with any restriction), the `recent` blocks the follower
    holds, then `block` and `height` as the chain moves."""
    hub = request.app[HUB]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue = hub.subscribe()

    async def send(kind: str, data: Json) -> None:
        await response.write(f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode())

    try:
        await send("height", hub.state())
        for recent in list(hub.recent):  # what a page opened now would otherwise miss
            await send("recent", recent)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), 15.0)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                break
            await send(*item)
    except ConnectionResetError:
        pass
    finally:
        hub.unsubscribe(queue)
    return response


def make_app(view: LedgerView, watch: NodeWatch, token: str) -> web.Application:
    """The explorer application for one identity's view; starts the follower and the node watch."""
    app = web.Application(middlewares=[require_token])
    app[VIEW], app[WATCH], app[HUB], app[TOKEN] = view, watch, Hub(), token
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    for path, handler in (("/api/whoami", whoami), ("/api/info", info), ("/api/blocks", blocks),
                          ("/api/blocks/{number:\\d+}", block), ("/api/tx/{tx_id}", transaction),
                          ("/api/contracts", contracts), ("/api/nodes", nodes),
                          ("/api/disclosures", disclosures)):
        app.router.add_get(path, _api(handler))
    app.router.add_get("/api/events", events)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_end_streams)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(follow_chain(app[VIEW], app[HUB]), name="follow chain"),
             asyncio.create_task(app[WATCH].run(), name="node watch")]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await app[VIEW].close()


async def _end_streams(app: web.Application) -> None:
    app[HUB].close()
