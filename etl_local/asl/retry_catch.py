"""Retriers and Catchers: which error they match and what they do about it.

Matching follows AWS exactly: names compare verbatim (``State.ALL`` is just a custom
name), ``States.ALL`` matches everything but ``States.Runtime``, ``States.TaskFailed``
everything but timeouts, and ``States.Runtime`` is never retried or caught, even when
named (AWS_BEHAVIOURS #1, #6, #8).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .errors import StatesError

RUNTIME = "States.Runtime"
TIMEOUT = "States.Timeout"


def error_matches(error_equals: list[str], error: str | None) -> bool:
    if error == RUNTIME:
        return False
    for name in error_equals:
        if name == "States.ALL":
            return True
        if name == "States.TaskFailed" and error != TIMEOUT:
            return True
        if name == error:
            return True
    return False


@dataclass
class Retrier:
    error_equals: list[str]
    interval_seconds: float = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    full_jitter: bool = False

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Retrier":
        return cls(error_equals=list(spec["ErrorEquals"]),
                   interval_seconds=spec.get("IntervalSeconds", 1),
                   max_attempts=spec.get("MaxAttempts", 3),
                   backoff_rate=spec.get("BackoffRate", 2.0),
                   max_delay_seconds=spec.get("MaxDelaySeconds"),
                   full_jitter=spec.get("JitterStrategy", "NONE") == "FULL")

    def delay(self, attempts_so_far: int) -> float:
        """Seconds to wait before retry number ``attempts_so_far + 1`` of this retrier."""
        delay = self.interval_seconds * self.backoff_rate ** attempts_so_far
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        if self.full_jitter:
            delay = random.uniform(0, delay)
        return delay


class RetryPolicy:
    """The Retry list of one state entry, counting attempts per retrier (2024 spec)."""

    __slots__ = ("_retriers", "_used")

    def __init__(self, retriers: list[Retrier]) -> None:
        self._retriers = retriers
        self._used = [0] * len(retriers)

    def next_delay(self, error: StatesError) -> float | None:
        """Delay before retrying after ``error``, or None when it must not be retried.

        Only the first retrier whose ErrorEquals matches counts, even if it is exhausted.
        """
        for index, retrier in enumerate(self._retriers):
            if error_matches(retrier.error_equals, error.error):
                used = self._used[index]
                if used >= retrier.max_attempts:
                    return None
                self._used[index] = used + 1
                return retrier.delay(used)
        return None


@dataclass
class Catcher:
    error_equals: list[str]
    next: str
    result_path: str | None
    assign: Any
    output: Any
    has_output: bool

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Catcher":
        return cls(error_equals=list(spec["ErrorEquals"]), next=spec["Next"],
                   result_path=spec.get("ResultPath", "$"), assign=spec.get("Assign"),
                   output=spec.get("Output"), has_output="Output" in spec)


def find_catcher(catchers: list[Catcher], error: StatesError) -> Catcher | None:
    for catcher in catchers:
        if error_matches(catcher.error_equals, error.error):
            return catcher
    return None


def error_output(error: StatesError) -> dict[str, str]:
    """What a Catcher passes on: ``{"Error", "Cause"}``; an absent cause is ``""`` (AWS_BEHAVIOURS #6)."""
    return {"Error": error.error if error.error is not None else "",
            "Cause": error.cause if error.cause is not None else ""}
