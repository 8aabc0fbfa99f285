"""Event streams for asyncio: `async for` over the shared, resuming EventCursor."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self, TypeVar

import grpc

from careledger.gateway.eventstream import EventCursor, EventsBase

_Item = TypeVar("_Item")


class AsyncEventStream(EventsBase[_Item]):
    """An async iterator over a cursor's items that waits for new blocks and resumes when its
    peer restarts or the connection drops; close() ends it."""

    def __init__(self, cursor: EventCursor[_Item]) -> None:
        self._event = asyncio.Event()
        super().__init__(cursor, self._event)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _Item:
        cursor = self._cursor
        while not cursor.pending and not cursor.closed:
            try:
                response = await cursor.call().read()
            except grpc.RpcError as err:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), cursor.retry_delay(err))
                continue
            except asyncio.CancelledError:
                if self._task_cancelled() or not cursor.closed:
                    raise
                break  # close() cancelled the call, not the task
            if response is grpc.aio.EOF:
                break
            cursor.receive(response)
        if not cursor.pending:
            raise StopAsyncIteration
        return cursor.pending.popleft()

    @staticmethod
    def _task_cancelled() -> bool:
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
