"""Running Parallel branches and Map iterations, concurrently where it pays.

Threads only help when a branch can wait (a Task or a Wait) on a real clock; branches of
Pass/Choice states run one after another, which gives the same results (AWS defines no order
between concurrent branches) at a fraction of the cost. On a virtual clock items also run one
after another, each on its own clock lane, so virtual time behaves as if they ran side by side,
MaxConcurrency at a time, and runs are deterministic.
"""
from __future__ import annotations

import heapq
import threading
from typing import Callable

from .clock import Clock, VirtualClock
from .execution import AbortSignal
from .history import History

#: AWS runs at most 40 iterations of an inline Map at once, whatever MaxConcurrency says.
INLINE_CONCURRENCY_CAP = 40
#: A Distributed Map runs up to 10,000 child executions at once.
DISTRIBUTED_CONCURRENCY_CAP = 10_000
#: Real threads used at most, whatever the cap: beyond it threads only cost memory locally,
#: so wider concurrency is simulated exactly on a virtual clock but not on a real one.
MAX_THREADS = 64

Job = Callable[[int, Clock], None]


def run_indexed(count: int, job: Job, clock: Clock, *, concurrency: int, threaded: bool,
                abort: AbortSignal, history: History, cap: int = INLINE_CONCURRENCY_CAP) -> None:
    """Call ``job(index, lane_clock)`` for each index in ``range(count)``.

    ``concurrency`` 0 means unlimited (up to ``cap``); 1 is strictly sequential, in order.
    Jobs handle their own ASL errors; anything else they raise aborts the siblings and is
    re-raised here once all workers have stopped. ``history`` is the one the jobs log to:
    it hands out ids under its lock while they run in threads.
    """
    workers = min(count, concurrency or cap, cap)
    if workers <= 1 or not threaded:
        for index in range(count):
            if abort.is_set():
                return
            job(index, clock)
        return
    if isinstance(clock, VirtualClock):
        _run_in_virtual_lanes(count, job, clock, workers, abort)
        return
    with history.threads():
        _run_in_threads(count, job, clock, min(workers, MAX_THREADS), abort)


def _run_in_virtual_lanes(count: int, job: Job, clock: VirtualClock, workers: int, abort: AbortSignal) -> None:
    """Simulate ``workers`` concurrent slots on a virtual clock, deterministically.

    Virtual waits take no real time, so running the items one after another costs nothing;
    each starts on its own lane at the virtual time the earliest slot frees up.
    """
    free_slots = [clock.now()] * workers
    latest = clock.now()
    for index in range(count):
        if abort.is_set():
            break
        lane = clock.lane(heapq.heappop(free_slots))
        try:
            job(index, lane)
        finally:
            end = lane.now()
            heapq.heappush(free_slots, end)
            latest = max(latest, end)
    clock.join(latest)


def _run_in_threads(count: int, job: Job, clock: Clock, workers: int, abort: AbortSignal) -> None:
    lock = threading.Lock()
    position = [0]
    crashes: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                index = position[0]
                position[0] = index + 1
            if index >= count or abort.is_set():
                return
            try:
                job(index, clock)
            except BaseException as exc:  # re-raised in the calling thread below
                crashes.append(exc)
                abort.set()
                return

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashes:
        raise crashes[0]
