"""The execution history: events shaped like AWS ``GetExecutionHistory``.

Events are appended from several threads when branches run concurrently, so ids are
handed out under a lock; ``previousEventId`` follows the branch that logged the event,
as AWS does. ``on_event`` sees every event right after it is stored.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from json.encoder import c_make_encoder, encode_basestring
from typing import Any, Callable, Iterator

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: ``JSONEncoder.encode`` builds a new C encoder (and a dict of ids to catch cycles) on every
#: call: that is two thirds of its cost for the small values a Map logs by the hundred thousand.
#: This one is built once, without the cycle check; a cycle then ends in RecursionError, and
#: the checked encoder below raises what ``json.dumps`` would (ValueError: Circular reference).
_UNCHECKED = (c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True)
              if c_make_encoder is not None else None)


def _to_json(value: Any) -> str:
    """Compact JSON, as AWS shows state input and output in history (non-ASCII kept)."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return encode_basestring(value)
    try:
        return "".join(_UNCHECKED(value, 0))  # type: ignore[misc]
    except RecursionError:
        return _ENCODER.encode(value)


to_json: Callable[[Any], str] = _to_json if _UNCHECKED is not None else _ENCODER.encode

EventListener = Callable[[dict[str, Any]], None]


class History:
    """Append-only list of history events with AWS ids.

    Ids are handed out under a lock only while branches of the execution run in threads
    (``threads()``): otherwise one thread appends, and an uncontended lock still costs a
    tenth of a Pass state's transition.
    """

    def __init__(self, on_event: EventListener | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self._on_event = on_event
        self._lock = threading.Lock()
        #: ids used by events AWS numbers but does not return (see reserve)
        self._hidden = 0
        #: how many thread pools are running branches of this execution now (while any does,
        #: whatever they share is updated under a lock)
        self.pools = 0

    @contextmanager
    def threads(self) -> Iterator[None]:
        """While branches run in threads of their own: hand out ids under the lock."""
        with self._lock:
            self.pools += 1
        try:
            yield
        finally:
            with self._lock:
                self.pools -= 1

    def reserve(self) -> int:
        """Use up an id without an event: AWS numbers a ParallelStateSucceeded it never shows."""
        with self._lock:
            self._hidden += 1
            return len(self.events) + self._hidden

    def append(self, event_type: str, timestamp: str, previous_id: int,
               details_key: str | None = None, details: dict[str, Any] | None = None) -> int:
        """Store one event and return its id."""
        if details_key is None:
            event = {"timestamp": timestamp, "type": event_type, "id": 0, "previousEventId": previous_id}
        else:
            event = {"timestamp": timestamp, "type": event_type, "id": 0, "previousEventId": previous_id,
                     details_key: details}
        events = self.events
        if self.pools:
            with self._lock:
                event_id = event["id"] = len(events) + self._hidden + 1
                events.append(event)
        else:
            event_id = event["id"] = len(events) + self._hidden + 1
            events.append(event)
        if self._on_event is not None:
            self._on_event(event)
        return event_id


class DiscardedHistory(History):
    """History of a Distributed Map's child executions, which AWS keeps out of the parent's."""

    def reserve(self) -> int:
        return 0

    def append(self, event_type: str, timestamp: str, previous_id: int,
               details_key: str | None = None, details: dict[str, Any] | None = None) -> int:
        return previous_id


#: ``...Details`` of a payload: never truncated locally. One shared object, because a large
#: Map logs hundreds of thousands of them; treat history events as read-only.
NOT_TRUNCATED: dict[str, bool] = {"truncated": False}


def io_details(key: str, text: str) -> dict[str, Any]:
    """An ``input``/``output`` detail pair as AWS logs it."""
    return {key: text, key + "Details": NOT_TRUNCATED}


def error_details(error: str | None, cause: str | None, **extra: Any) -> dict[str, Any]:
    """Failure details; AWS omits ``error``/``cause`` when they are absent."""
    details = dict(extra)
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details
