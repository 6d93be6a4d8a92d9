"""Clocks that drive Wait states, retry delays, timeouts and history timestamps.

The engine never calls ``time`` directly: a ``RealClock`` runs an execution in real time,
a ``VirtualClock`` makes every wait instant so tests of Wait states, backoff and timeouts
cost nothing. Concurrent branches get their own *lane* of a virtual clock (``lane()``),
so two iterations that each sleep 5 s finish at +5 s, not +10 s, and a per-task timeout is
measured on the lane that runs the task.
"""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol


class Clock(Protocol):
    """What the engine needs from a clock."""

    is_virtual: bool

    def now(self) -> datetime:
        """The current time (timezone-aware UTC)."""

    def sleep(self, seconds: float) -> None:
        """Block (or pretend to) for ``seconds``."""


class RealClock:
    """Wall-clock time; ``sleep`` really sleeps. Lanes are the clock itself."""

    is_virtual = False

    def __init__(self) -> None:
        self._stamp: tuple[int, str] = (-1, "")

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def stamp(self) -> str:
        """``format_timestamp(self.now())``, made once per millisecond: every history event needs
        one, and a Map logs dozens of events per millisecond."""
        millis = time.time_ns() // 1_000_000
        stamp = self._stamp
        if stamp[0] != millis:
            second, milli = divmod(millis, 1000)
            stamp = self._stamp = (millis, f"{_second_prefix(second)}.{milli:03d}Z")
        return stamp[1]

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)



class VirtualClock:
    """Simulated time: ``sleep`` advances instantly and is recorded in ``sleeps``.

    ``sleeps`` is shared by all lanes of one clock, so a test sees every retry delay and
    Wait of an execution, including those made inside Map iterations and Parallel branches.
    """

    is_virtual = True

    def __init__(self, start: datetime | None = None, *, _sleeps: list[float] | None = None) -> None:
        if start is None:
            start = datetime.now(timezone.utc)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start
        self.sleeps: list[float] = [] if _sleeps is None else _sleeps
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def stamp(self) -> str:
        """``format_timestamp(self.now())``."""
        return format_timestamp(self._now)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            with self._lock:
                self._now += timedelta(seconds=seconds)

    def lane(self, start: datetime) -> "VirtualClock":
        """A clock for one concurrent branch that starts at ``start``, sharing ``sleeps``."""
        return VirtualClock(start, _sleeps=self.sleeps)

    def join(self, latest: datetime) -> None:
        """Continue after concurrent lanes finished, the last of them at ``latest``."""
        with self._lock:
            if latest > self._now:
                self._now = latest


_SECOND_PREFIXES: dict[int, str] = {}


def format_timestamp(moment: datetime) -> str:
    """AWS's context-object time format: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (always UTC).

    Every history event needs one, so the ``YYYY-MM-DDTHH:MM:SS`` part is cached per second:
    ``isoformat``/``strftime`` on each event cost more than the rest of a Pass state.
    """
    return f"{_second_prefix(math.floor(moment.timestamp()))}.{moment.microsecond // 1000:03d}Z"


def _second_prefix(second: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of a Unix second, cached."""
    prefix = _SECOND_PREFIXES.get(second)
    if prefix is None:
        if len(_SECOND_PREFIXES) > 4096:
            _SECOND_PREFIXES.clear()
        prefix = _SECOND_PREFIXES[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return prefix


def stamper(clock: Clock) -> Callable[[], str]:
    """What gives ``format_timestamp(clock.now())`` for ``clock``: its own ``stamp`` when it
    has one (RealClock, VirtualClock), else the two calls."""
    stamp = getattr(clock, "stamp", None)
    if stamp is not None:
        return stamp  # type: ignore[no-any-return]
    return lambda: format_timestamp(clock.now())
