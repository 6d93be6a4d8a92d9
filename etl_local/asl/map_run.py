"""A Map Run: the identity of one Distributed Map run and the record of its child executions.

AWS names a Map Run ``arn:aws:states:<region>:<account>:mapRun:<machine>/<Label>:<id>`` and
each child execution ``arn:...:execution:<machine>/<Label>:<child id>`` of the state machine
``arn:...:stateMachine:<machine>/<Label>`` (``Label`` defaults to the state name). The records
are what ResultWriter exports; they are only kept when the state has a ResultWriter.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import format_timestamp

SUCCEEDED, FAILED, ABORTED, PENDING = "SUCCEEDED", "FAILED", "ABORTED", "PENDING"


@dataclass
class ChildRun:
    """One child execution as DescribeExecution would show it."""

    name: str
    execution_arn: str
    input_text: str
    start: datetime
    stop: datetime
    status: str
    output_text: str | None = None
    error: str | None = None
    cause: str | None = None


class MapRun:
    """Ids of one Map Run and, when recording, what each of its children did (by item index)."""

    def __init__(self, state_machine_arn: str, label: str, *, record: bool) -> None:
        prefix, _, machine = state_machine_arn.partition(":stateMachine:")
        self.id = str(uuid.uuid4())
        self.arn = f"{prefix}:mapRun:{machine}/{label}:{self.id}"
        self.child_state_machine_arn = f"{prefix}:stateMachine:{machine}/{label}"
        self._child_prefix = f"{prefix}:execution:{machine}/{label}:"
        self._record = record
        self.children: list[ChildRun | None] | None = None
        self._lock = threading.Lock()

    def expect(self, size: int) -> None:
        """Size the record of children once the items are known (the Map Run reads them itself)."""
        if self._record:
            self.children = [None] * size

    def record(self, index: int, input_text: str, start: datetime, stop: datetime, status: str,
               output_text: str | None = None, error: str | None = None, cause: str | None = None) -> None:
        if self.children is None:
            return
        name = str(uuid.uuid4())
        child = ChildRun(name, self._child_prefix + name, input_text, start, stop, status, output_text, error, cause)
        with self._lock:
            self.children[index] = child

    def entry(self, child: ChildRun) -> dict[str, Any]:
        """A child as ResultWriter writes it into SUCCEEDED_n.json / FAILED_n.json."""
        entry: dict[str, Any] = {}
        if child.cause is not None:
            entry["Cause"] = child.cause
        if child.error is not None:
            entry["Error"] = child.error
        entry.update({"ExecutionArn": child.execution_arn, "Input": child.input_text,
                      "InputDetails": {"Included": True}, "Name": child.name})
        if child.output_text is not None:
            entry.update({"Output": child.output_text, "OutputDetails": {"Included": True}})
        entry.update({"RedriveCount": 0, "StartDate": format_timestamp(child.start),
                      "StateMachineArn": self.child_state_machine_arn, "Status": child.status,
                      "StopDate": format_timestamp(child.stop)})
        return entry
