"""A time limit on contract calls: a call running past it is cut off inside its own thread.

How: the call runs on the caller's thread (the endorser's gRPC thread); one watchdog thread per
Sandbox keeps the running calls in start order and, when the oldest passes its deadline, raises
CallCutOff in that thread (CPython's PyThreadState_SetAsyncExc). The exception unwinds the contract's
frames like any other and run() answers CallTimedOut, naming the call, the peer and the limit. The
exception is armed only between the start of the call and its end, under one lock, so it never
lands in the code that opens or closes the state snapshot around the call (around()), and a pending
one is withdrawn when the call ends first.

Why not a worker thread per call (the caller then answered at the limit even if the contract never
returns): measured with benchmarks/sandbox_overhead.py, handing each call to a pooled worker and
back cost ~55 us per read call on one thread and cut throughput from ~8700 to ~2900 calls/s at eight
threads (GIL hand-overs), while arming a watchdog costs a few microseconds. Why not a process:
each call reads committed state through the peer's SQLite snapshot; shipping reads across a
process boundary costs more still.

What is NOT isolated:
- Blocking C code (time.sleep, a socket read, a C extension's loop) receives the exception only
  when it returns to Python; until then the caller's thread stays busy.
- A contract that catches BaseException (or uses a bare `except:`) swallows the cut-off; it is
  raised again every limit period, but a loop that always swallows it is never stopped. The
  contract API never needs either construct.
- os._exit, os.kill, a segfault in a C extension, or memory exhaustion end or starve the whole
  peer process: there is no memory limit and no separate address space.
- The exception can land inside library code the contract calls between a lock's acquire and its
  try block (e.g. logging's handler lock), leaving that lock held.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

__all__ = ["DEFAULT_TIME_LIMIT_MS", "CallCutOff", "CallTimedOut", "Sandbox"]

T = TypeVar("T")

DEFAULT_TIME_LIMIT_MS = 3000

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]
_set_async_exc.restype = ctypes.c_int


class CallCutOff(BaseException):
    """Raised inside a thread whose call ran past its limit. A BaseException, so that a
    contract's `except Exception` does not swallow it."""


class CallTimedOut(Exception):
    """The call did not finish within the limit and was cut off (the message names it)."""


class _Call:
    """One running call: its thread, its deadline, and whether it was cut off."""

    __slots__ = ("cut", "deadline", "thread")

    def __init__(self, thread: int, deadline: float) -> None:
        self.thread = thread
        self.deadline = deadline
        self.cut = False


class Sandbox:
    """Cuts off calls run through it after `limit_ms` milliseconds; `peer` names this peer in the
    message."""

    def __init__(self, limit_ms: int = DEFAULT_TIME_LIMIT_MS, peer: str = "this peer") -> None:
        if limit_ms <= 0:
            raise ValueError(f"contract time limit is {limit_ms} ms; it must be positive")
        self.limit_ms = limit_ms
        self.peer = peer
        self._limit = limit_ms / 1000
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # running calls in start order, which is deadline order: every call gets the same limit
        self._running: dict[int, _Call] = {}
        self._watchdog_until: float | None = None  # when the watchdog wakes; None: not planned
        self._watchdog: threading.Thread | None = None
        self.cut_offs = 0

    def run(self, call: Callable[[], T], describe: Callable[[], str],
            around: Callable[[], AbstractContextManager[object]] = nullcontext) -> T:
        """call() on this thread inside around() (e.g. a state snapshot, never interrupted); its
        exceptions propagate; CallTimedOut(describe() ...) when it ran past the limit."""
        with around():
            call_id, running = self._start()
            try:
                try:
                    return call()
                finally:
                    self._end(call_id, running)
            except CallCutOff:
                self._end(call_id, running)  # in case it landed in _end before the lock was taken
                raise CallTimedOut(f"{describe()} on peer {self.peer} ran longer than the time limit "
                                   f"of {self.limit_ms} ms and was stopped") from None

    def _start(self) -> tuple[int, _Call]:
        with self._lock:
            call_id = next(self._ids)
            running = _Call(threading.get_ident(), time.monotonic() + self._limit)
            self._running[call_id] = running
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name=f"contract-watchdog@{self.peer}",
                                                  daemon=True)
                self._watchdog.start()
            elif self._watchdog_until is None:  # idle: it sleeps until told; a later plan covers us
                self._wake.notify()
            return call_id, running

    def _end(self, call_id: int, running: _Call) -> None:
        with self._lock:
            self._running.pop(call_id, None)
            if running.cut:  # raised but perhaps not delivered yet: withdraw it
                _set_async_exc(running.thread, ctypes.py_object())

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                oldest = next(iter(self._running.items()), None)
                if oldest is None:
                    self._watchdog_until = None
                    self._wake.wait()
                    continue
                call_id, running = oldest
                if running.deadline > now:
                    self._watchdog_until = running.deadline
                    self._wake.wait(running.deadline - now)
                    continue
                # cut off; should the contract swallow it, raise it again after another period
                del self._running[call_id]
                running.cut, running.deadline = True, now + self._limit
                self._running[call_id] = running
                self.cut_offs += 1
                _set_async_exc(running.thread, ctypes.py_object(CallCutOff))

    @property
    def running(self) -> int:
        """Calls running now."""
        with self._lock:
            return len(self._running)
