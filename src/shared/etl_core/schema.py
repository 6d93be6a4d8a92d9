"""Turning text columns into the spec's declared types, one bad value at a time.

Sources are read as text first so that a single unparseable value costs one row (sent to
quarantine with the column and the value), never the whole batch.
"""
from __future__ import annotations

import json
from typing import Callable

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


def cast_by_halves(values: pa.Array, convert: Callable[[pa.Array], pa.Array], target: pa.DataType, offset: int = 0) -> tuple[pa.Array, list[int]]:
    """``convert`` of every value it accepts (null for the others) and the positions it refuses.

    Arrow converts a whole array or raises, so the refused values are found by halving the
    slice that fails: one conversion when every value is good, about k·log(n) for k bad
    values, never one per value (and a slice whose values convert one by one but not
    together, zoned and zone-less times, is converted in the halves that do).
    """
    try:
        return convert(values), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        if len(values) == 1:
            return pa.nulls(1, target), [offset]
    half = len(values) // 2
    left, left_bad = cast_by_halves(values.slice(0, half), convert, target, offset)
    right, right_bad = cast_by_halves(values.slice(half), convert, target, offset + half)
    return pa.concat_arrays([left, right]), left_bad + right_bad


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
        flat = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
        values, bad = cast_by_halves(flat, convert, target)
        for index, value in zip(bad, flat.take(pa.array(bad, pa.int64())).to_pylist()):
            problems.setdefault(index, []).append(f"column {name}: {value!r} is not a valid {type_name}")
        typed.append(values)
    return pa.Table.from_arrays(typed, names=list(columns)), problems
