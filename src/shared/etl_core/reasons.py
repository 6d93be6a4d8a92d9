"""How a quarantine reason shows a value and a row's origin, so every stage words them alike.

Reasons are read by people fixing data: ``range(quantity): 0 < min 1 [quarantine]``. They
are built only for the rows that fail, so their cost grows with the bad rows, not the batch.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

ORIGIN = "_origin"


def show(value: Any) -> str:
    """A value as a reason prints it: text quoted, numbers and dates plain, null as null."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def show_key(values: tuple[Any, ...]) -> str:
    """One key value plainly, a composite key as a tuple: ``100005`` or ``(100005, 'DE')``."""
    return show(values[0]) if len(values) == 1 else "(" + ", ".join(show(v) for v in values) + ")"


def origins(table: pa.Table, indices: list[int], first_row: int = 0) -> list[str]:
    """Where the given rows came from: their ``_origin`` (object:line), else their row number.

    ``first_row`` is the batch's place in the run, so a row number counts from the run's start.
    """
    if ORIGIN in table.column_names:
        found = table.column(ORIGIN).take(pa.array(indices, pa.int64())).to_pylist()
        return [origin or f"row {first_row + i + 1}" for origin, i in zip(found, indices)]
    return [f"row {first_row + i + 1}" for i in indices]


def reason(label: str, detail: str, severity: str | None = None) -> str:
    """``label: detail [severity]``: every reason starts with the rule or correction it is about."""
    return f"{label}: {detail}" + (f" [{severity}]" if severity else "")


def rule_of(text: str) -> str:
    """The rule or correction label a reason built by ``reason`` starts with."""
    return text.split(": ", 1)[0]
