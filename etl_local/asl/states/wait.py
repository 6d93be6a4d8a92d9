"""Wait: pause for Seconds or until a Timestamp, on the execution's clock.

Bad SecondsPath/TimestampPath values are States.Runtime with AWS's wording
(``... == <value>``), before any waiting.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..causes import state_error
from ..choice import parse_timestamp
from ..execution import Frame, Visit
from ..paths import PathNotFound, read_path
from .base import QUERY_EVALUATION_ERROR, State


class WaitState(State):
    kind = "Wait"
    can_block = True
    evaluation_follows_entered = True

    def __init__(self, name: str, spec: dict[str, Any], query_language: str) -> None:
        super().__init__(name, spec, query_language)
        self.seconds = spec.get("Seconds")
        self.seconds_path = spec.get("SecondsPath")
        self.timestamp = spec.get("Timestamp")
        self.timestamp_path: Any = spec.get("TimestampPath")

    def run(self, value: Any, frame: Frame) -> tuple[str | None, Any]:
        visit = self.enter(value, frame)
        data = value if self.jsonata else self.effective_input(visit)
        frame.sleep(self._seconds(visit, data))
        if self.jsonata:
            output, assigned = self.jsonata_output(visit, value)
        else:
            output = data if self.output_path == "$" else self.select(visit, self.output_path, data)
            assigned = self.render(visit, self.assign, data) if self.assign is not None else None
        return self.finish(visit, output, assigned)

    def _seconds(self, visit: Visit, data: Any) -> float:
        """Seconds to wait from now (never negative: a past Timestamp does not wait)."""
        if self.seconds is not None:
            seconds = self.field_value(visit, self.seconds, "Seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise visit.runtime_error(f"The Seconds field must be a non-negative integer, got: {seconds!r}")
            return seconds
        if self.seconds_path is not None:
            seconds = self._read(visit, self.seconds_path, data)
            where = f"{self.seconds_path} == {seconds}"
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise visit.runtime_error(f"The SecondsPath parameter cannot be parsed as a long value: {where}")
            if seconds < 0:
                raise visit.runtime_error(f"The SecondsPath parameter references a negative value: {where}")
            return seconds
        if self.timestamp is not None:
            text = self.field_value(visit, self.timestamp, "Timestamp")
            moment = parse_timestamp(text)
            if moment is None:
                detail = f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                if not self.jsonata:
                    raise visit.runtime_error(detail)
                err = state_error(QUERY_EVALUATION_ERROR, self.name, visit.entered_id, detail)
                raise self.evaluation_failed(visit, "Timestamp", err)
            return self._until(visit, moment)
        path: str = self.timestamp_path  # validation guarantees one of the four fields
        text = self._read(visit, path, data)
        moment = parse_timestamp(text)
        if moment is None:
            raise visit.runtime_error("The TimestampPath parameter does not reference a valid ISO-8601 extended "
                                      f"offset date-time format string: {path} == {text}")
        return self._until(visit, moment)

    def _read(self, visit: Visit, path: str, data: Any) -> Any:
        try:
            return read_path(path, data, visit.context(), visit.variables)
        except PathNotFound as missing:
            raise visit.runtime_error(f"Invalid path '{path}' : {missing.jayway_message}") from None

    @staticmethod
    def _until(visit: Visit, moment: datetime) -> float:
        return max(0.0, (moment - visit.frame.clock.now()).total_seconds())
