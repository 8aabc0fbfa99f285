"""Chaincode events for asyncio: `async for` over the shared, resuming EventCursor."""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from careledger.gateway.chaincodeevents import ChaincodeEvent, EventCursor, EventsBase


class ChaincodeEvents(EventsBase):
    """An async iterator of ChaincodeEvent that waits for new blocks and resumes when its peer
    restarts or the connection drops; close() ends it."""

    def __init__(self, cursor: EventCursor) -> None:
        self._event = asyncio.Event()
        super().__init__(cursor, self._event)

    def __aiter__(self) -> ChaincodeEvents:
        return self

    async def __anext__(self) -> ChaincodeEvent:
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

    async def __aenter__(self) -> ChaincodeEvents:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
