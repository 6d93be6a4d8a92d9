"""Turning values and JSON-like records into text rows, the shape every connector yields.

Databases, APIs, streams and tables hand over Python values (Decimals, datetimes, bytes,
sets, nested maps). They become text here, exactly (no float rounding of a Decimal, no
lost microsecond), so the declared types are applied by the one cast every source shares.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any, Iterable

import pyarrow as pa

from etl_core.extract.batches import TextBatch

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _decimal(value: Decimal) -> str:
    """All the digits, never an exponent (``1E+2`` -> ``100``), so any reader parses it."""
    return format(value, "f")


def to_json(value: Any) -> str:
    """Compact JSON of a nested value, Decimals as exact JSON numbers, sets as sorted arrays."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return to_json(sorted(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(text_value(value))


def parse_json(document: str | bytes) -> Any:
    """JSON with its decimal numbers as Decimal, so ``10.50`` reaches the row as ``10.50``, not a float."""
    return json.loads(document, parse_float=Decimal)


def text_value(value: Any) -> str | None:
    """One value as the text the extract cast reads: ISO dates, exact decimals, base64 bytes, JSON for nesting."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return to_json(value)
    return str(value)


#: What ``field_value`` returns when a record has no such field (a JSON null is None).
MISSING = object()


def field_value(record: dict, column: str) -> Any:
    """The value a (dotted) column names in a record, or ``MISSING``.

    ``a.b.c`` is first a key of its own, then ``a`` -> ``b.c``, ``a.b`` -> ``c`` and so on,
    so keys that contain dots are found as well as nested ones.
    """
    if column in record:
        return record[column]
    parts = column.split(".")
    for cut in range(1, len(parts)):
        head = ".".join(parts[:cut])
        inner = record.get(head, MISSING)
        if isinstance(inner, dict):
            found = field_value(inner, ".".join(parts[cut:]))
            if found is not MISSING:
                return found
    return MISSING


def json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


class RecordBatcher:
    """Collects records into TextBatches of at most ``batch_rows`` rows (kept and rejected together).

    A record that is not an object, or lacks a declared non-optional field, becomes a
    reject with its origin, its JSON and the reason.
    """

    def __init__(self, columns: Iterable[str], optional: Iterable[str], batch_rows: int) -> None:
        self.columns = list(columns)
        self.required = [c for c in self.columns if c not in set(optional)]
        self.batch_rows = batch_rows
        self._reset()

    def _reset(self) -> None:
        self._values: dict[str, list[str | None]] = {c: [] for c in self.columns}
        self._batch = TextBatch(pa.table({}), [])

    def add(self, record: Any, origin: str) -> None:
        if not isinstance(record, dict):
            self.reject(origin, to_json(record), f"expected a JSON object, found {json_type(record)}")
            return
        values = {c: field_value(record, c) for c in self.columns}
        missing = [c for c in self.required if values[c] is MISSING]
        if missing:
            self.reject(origin, to_json(record), f"missing declared field(s): {', '.join(missing)}")
            return
        for column, value in values.items():
            self._values[column].append(None if value is MISSING else text_value(value))
        self._batch.origins.append(origin)

    def reject(self, origin: str, raw: str, reason: str) -> None:
        self._batch.reject_origins.append(origin)
        self._batch.reject_raws.append(raw)
        self._batch.reject_reasons.append(reason)

    @property
    def full(self) -> bool:
        return len(self._batch.origins) + len(self._batch.reject_origins) >= self.batch_rows

    def take(self) -> TextBatch:
        """The rows collected so far as a batch (possibly empty); the batcher starts afresh."""
        batch = self._batch
        batch.table = pa.table({c: pa.array(v, pa.string()) for c, v in self._values.items()})
        self._reset()
        return batch
