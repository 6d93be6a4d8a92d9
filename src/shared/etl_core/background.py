"""Work a stage hands to a second core: Arrow, Parquet and hashlib release the GIL while they
encode, decode, parse or hash, so a thread of their own runs beside the stage's own work.

``InOrder`` runs calls one after the other, in the order given, with a bound on how many wait
(memory stays a few batches); ``read_ahead`` produces the next item of an iterator while the
caller works on the current one.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

_END = object()


class InOrder:
    """Calls run on one thread of their own, in order, at most ``ahead`` waiting; the first
    error is raised by the next ``submit`` or by ``drain``."""

    def __init__(self, name: str, ahead: int = 2) -> None:
        self._name = name
        self._ahead = ahead
        self._thread: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def submit(self, call: Callable[..., object], *args: object) -> None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        while len(self._pending) >= self._ahead:
            self._pending.popleft().result()
        self._pending.append(self._thread.submit(call, *args))

    def drain(self) -> None:
        """Wait for every call; raise the first one's error (the calls after it are dropped)."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            for pending in self._pending:
                pending.cancel()
            self._pending.clear()
            if self._thread is not None:
                self._thread.shutdown(wait=True)
                self._thread = None


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items`` as they come, each produced on a thread of its own while the caller works on the
    one before: decoding Parquet and parsing CSV release the GIL, so a stage reads on the second
    core while it judges, casts or writes on the first. One item at most waits ahead (memory
    stays one batch more). An error of ``items`` is raised where the caller asks for that item;
    when the caller stops early, the read under way is waited for and ``items`` closed, so no
    read outlives its file."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
    try:
        pending = pool.submit(next, items, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, items, _END)
            yield item
    finally:
        pool.shutdown(wait=True)
        close = getattr(items, "close", None)
        if close is not None:
            close()
