"""Turning text columns into the spec's declared types, one bad value at a time.

Sources are read as text first so that a single unparseable value costs one row (sent to
quarantine with the column and the value), never the whole batch.
"""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "decimal(10,2)": pa.decimal128(10, 2),
    "decimal(18,2)": pa.decimal128(18, 2),
    "json": pa.string(),
}


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    return pa.schema([(name, ARROW_TYPES[type_name]) for name, type_name in columns.items()])


def _check_json(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """JSON text stays text, but it must parse: a broken document is a bad value like any other."""
    for value in values.to_pylist():
        if value is not None:
            json.loads(value)
    return values


def cast_text(values: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """Cast text to ``target``; zone-less timestamps are read as UTC, zoned ones converted to it."""
    if pa.types.is_timestamp(target) and target.tz:
        try:
            return pc.cast(values, target)
        except pa.ArrowInvalid:
            return pc.cast(pc.cast(values, pa.timestamp(target.unit)), target)
    return pc.cast(values, target)


def cast_text_columns(batch: pa.Table, columns: dict[str, str]) -> tuple[pa.Table, dict[int, list[str]]]:
    """Cast each declared column of an all-text table; return the typed table and, per bad row, why.

    The typed table still has every row (bad cells become null) so the caller can split rows
    by the returned indices and keep the raw text of the rejected ones.
    """
    problems: dict[int, list[str]] = {}
    typed: list[pa.Array] = []
    for name, type_name in columns.items():
        target = ARROW_TYPES[type_name]
        raw = batch.column(name)
        convert = _check_json if type_name == "json" else (lambda values, t=target: cast_text(values, t))
        try:
            typed.append(convert(raw))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            pass
        cells: list[pa.Array] = []
        for index, value in enumerate(raw.to_pylist()):
            try:
                cells.append(convert(pa.array([value], pa.string())))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                problems.setdefault(index, []).append(f"column {name}: {value!r} is not a valid {type_name}")
                cells.append(pa.nulls(1, target))
        typed.append(pa.concat_arrays(cells) if cells else pa.array([], target))
    return pa.Table.from_arrays(typed, names=list(columns)), problems
