"""Data correction: the spec's declarative fixes, applied in Validate before the quality rules.

They run on the transform's output, so the Lambda engine's rows and the Glue engine's rows
get exactly the same treatment. Each correction is counted (values changed; rows removed
for ``dedupe``) so a run's summary shows how much of its data needed fixing. Nothing is
dropped silently: a value a ``cast`` cannot read becomes a quarantine reason for its row,
and a row ``dedupe`` removes is returned, with the origin of the row that superseded it.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import conformance
from etl_core.errors import DataQualityError
from etl_core.reasons import origins, reason, show
from etl_core.schema import ARROW_TYPES, cast_text
from etl_core.spec import Correction
from etl_core.spec.rules import CastFix, DedupeFix, DefaultFix


@dataclass(frozen=True)
class Corrected:
    """The corrected rows and what correcting them took."""

    table: pa.Table
    counts: dict[str, int]
    #: Row of ``table`` -> why corrections could not apply to it (rows absent: they could).
    failures: dict[int, list[str]]
    #: Rows ``dedupe`` removed, as they were when removed, and for each the row kept instead.
    superseded: pa.Table
    superseded_by: list[str]


def apply_corrections(table: pa.Table, corrections: list[Correction]) -> Corrected:
    """Apply ``corrections`` in the spec's order; see Corrected for what comes back."""
    counts: dict[str, int] = {}
    failures: dict[int, list[str]] = {}
    superseded: list[pa.Table] = []
    superseded_by: list[str] = []
    for correction in corrections:
        _require_columns(table, correction)
        if correction.dedupe is not None:
            keep, removed, reasons = _dedupe(table, correction.dedupe, correction.label)
            superseded.append(table.take(removed))
            superseded_by.extend(reasons)
            table, failures = table.take(keep), _renumber(failures, keep)
            counts[correction.label] = len(removed)
            continue
        table, changed, problems = _fix_values(table, correction)
        counts[correction.label] = changed
        for row, problem in problems.items():
            failures.setdefault(row, []).append(problem)
    removed = pa.concat_tables(superseded, promote_options="permissive") if superseded else table.slice(0, 0)
    return Corrected(table, counts, failures, removed, superseded_by)


def _renumber(failures: dict[int, list[str]], keep: pa.Array) -> dict[int, list[str]]:
    """Failures re-indexed to the rows kept (``keep``: old indices, ascending); removed rows' go."""
    old = list(failures)
    new = pc.index_in(pa.array(old, pa.int64()), value_set=keep).to_pylist()
    return {n: failures[o] for o, n in zip(old, new) if n is not None}


def _require_columns(table: pa.Table, correction: Correction) -> None:
    missing = [c for c in correction.columns if c not in table.column_names]
    if missing:
        raise DataQualityError(
            f"correction {correction.label}: column {missing[0]!r} is not in the transform's output {table.column_names}"
        )


def _require_text(table: pa.Table, column: str, label: str) -> None:
    data_type = table.schema.field(column).type
    if not conformance.is_text(data_type):
        raise DataQualityError(f"correction {label}: column {column!r} is {data_type}, not text")


def _fix_values(table: pa.Table, correction: Correction) -> tuple[pa.Table, int, dict[int, str]]:
    """One value-level correction: the new table, values changed, and row -> why it could not apply."""
    label = correction.label
    if correction.cast is not None:
        return _cast(table, correction.cast, label)
    changed = 0
    for column in correction.columns:
        old = table.column(column)
        if correction.default is not None:
            new = pc.coalesce(old, _default_value(correction.default, table.schema.field(column).type, label))
            changed += old.null_count
        else:
            _require_text(table, column, label)
            new = _rewrite_text(old, correction)
            changed += int(pc.sum(pc.cast(pc.not_equal(old, new), pa.int64())).as_py() or 0)
        table = table.set_column(table.schema.get_field_index(column), column, new)
    return table, changed, {}


def _rewrite_text(values: pa.ChunkedArray, correction: Correction) -> pa.ChunkedArray:
    """``trim`` or ``case``: the two corrections that rewrite text in place."""
    if correction.trim is not None:
        return pc.utf8_trim_whitespace(values)
    return pc.utf8_upper(values) if correction.case.to == "upper" else pc.utf8_lower(values)  # type: ignore[union-attr]


def _default_value(fix: DefaultFix, data_type: pa.DataType, label: str) -> pa.Scalar:
    """The default, read like a source value of the column's type (so ``0`` fits a decimal)."""
    text = _as_text(fix.value)
    try:
        return cast_text(pa.array([text], pa.string()), data_type)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataQualityError(f"correction {label}: default {fix.value!r} is not a valid {data_type}: {exc}") from None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _cast(table: pa.Table, fix: CastFix, label: str) -> tuple[pa.Table, int, dict[int, str]]:
    """Text to ``fix.to``; values that do not conform become null and a reason for their row."""
    _require_text(table, fix.column, label)
    values = conformance.flat(table.column(fix.column))
    if fix.format is None:
        typed, bad = conformance.cast_conforming(values, fix.to)
    else:
        parsed, bad = conformance.parse_time(values, fix.format)
        typed = pc.cast(parsed, ARROW_TYPES[fix.to], safe=False)
    failing = pc.indices_nonzero(bad)
    expected = f"a valid {fix.to}" + (f" in format {fix.format!r}" if fix.format else "")
    problems = {
        row: reason(label, f"{show(v)} is not {expected}", "quarantine")
        for row, v in zip(failing.to_pylist(), values.take(failing).to_pylist())
    }
    corrected = table.set_column(table.schema.get_field_index(fix.column), fix.column, typed)
    return corrected, len(values) - values.null_count - len(problems), problems


def _dedupe(table: pa.Table, fix: DedupeFix, label: str) -> tuple[pa.Array, pa.Array, list[str]]:
    """Rows to keep, rows to remove, and each removed row's reason naming the row kept instead.

    Per key the kept row has the greatest ``keep_latest_by`` (nulls are oldest), ties going
    to the later row. Rows with a null in the key are not duplicates of anything: they stay
    (for ``not_null`` to judge).
    """
    index = pa.array(range(table.num_rows), pa.int64())
    columns = [*fix.key, *([fix.keep_latest_by] if fix.keep_latest_by else [])]
    keyed = table.select(columns).append_column("_i", index)
    keyed = keyed.filter(functools.reduce(pc.and_, [pc.is_valid(keyed.column(k)) for k in fix.key]))
    order = [*(((fix.keep_latest_by, "ascending", "at_start"),) if fix.keep_latest_by else ()), ("_i", "ascending")]
    winners = keyed.sort_by(order).group_by(fix.key, use_threads=False).aggregate([("_i", "last")])
    losers = keyed.filter(pc.invert(pc.is_in(keyed.column("_i"), value_set=winners.column("_i_last"))))
    pairs = losers.select([*fix.key, "_i"]).join(winners, keys=fix.key).sort_by("_i")
    removed = pairs.column("_i").combine_chunks()
    kept_by = origins(table, pairs.column("_i_last").to_pylist())
    keep = pc.filter(index, pc.invert(pc.is_in(index, value_set=removed)))
    return keep, removed, [reason(label, f"superseded by {origin}") for origin in kept_by]
