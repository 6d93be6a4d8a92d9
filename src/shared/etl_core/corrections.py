"""Data correction: the spec's declarative fixes, applied in Validate before the quality rules.

They run on the transform's output, so the Lambda engine's rows and the Glue engine's rows
get exactly the same treatment. Each correction is counted (values changed; rows removed
for ``dedupe``) so a run's summary shows how much of its data needed fixing. Nothing is
dropped silently: a value a ``cast`` cannot read becomes a quarantine reason for its row,
and a row ``dedupe`` removes is returned, with the origin of the row that superseded it.

Corrections stream: value corrections apply batch by batch; a dedupe compares rows across
the whole run, so its verdict is planned first from its key columns alone (plan_dedupes,
out of core in DuckDB) and each batch then drops the rows the verdict names (correct_batch).
"""
from __future__ import annotations

import bisect
import datetime as dt
import itertools
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import conformance
from etl_core.arrays import positions
from etl_core.errors import DataQualityError
from etl_core.keysets import ROW, KeySets, columns, key_sets
from etl_core.reasons import ORIGIN, reason, show
from etl_core.schema import ARROW_TYPES, cast_text
from etl_core.spec import Correction
from etl_core.spec.rules import CastFix, DedupeFix, DefaultFix

#: columns -> the run's rows, batch by batch, in order, with only those columns.
Batches = Callable[[list[str]], Iterable[pa.Table]]


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


@dataclass(frozen=True)
class Superseded:
    """One dedupe's verdict over the whole run: the rows it removes and, for each, why."""

    #: Run rows (0-based, in the transform's order), ascending: 8 bytes a row.
    rows: array
    #: For each, ``dedupe(key): superseded by <origin of the row kept>``.
    reasons: pa.Array


#: Dedupe label -> its verdict over the run (see plan_dedupes).
DedupePlan = dict[str, Superseded]


def check_corrections(empty: pa.Table, corrections: list[Correction]) -> pa.Table:
    """Raise, in the spec's order, the error of the first correction that cannot apply to rows
    shaped like ``empty``; return how the corrected rows are shaped (an empty table)."""
    for correction in corrections:
        _require_columns(empty, correction)
        if correction.dedupe is None:
            empty = _fix_values(empty, correction)[0]
    return empty


def correct_batch(table: pa.Table, corrections: list[Correction], plan: DedupePlan, first_row: int = 0) -> Corrected:
    """Apply ``corrections`` to one batch whose first row is run row ``first_row``.

    Value corrections are row by row; a dedupe removes the rows its run-wide verdict (``plan``)
    names. The corrections must have passed check_corrections.
    """
    counts: dict[str, int] = {}
    failures: dict[int, list[str]] = {}
    superseded: list[pa.Table] = []
    superseded_by: list[str] = []
    rows = run_rows(first_row, table.num_rows) if plan else None  # the run row of each row, for the dedupes
    for correction in corrections:
        if correction.dedupe is not None:
            verdict = plan[correction.label]
            assert rows is not None
            gone = pc.is_in(rows, value_set=pa.array(_window(verdict.rows, first_row, table.num_rows), pa.int64()))
            removed, keep = pc.indices_nonzero(gone), pc.indices_nonzero(pc.invert(gone))
            superseded.append(table.take(removed))
            superseded_by.extend(
                verdict.reasons[bisect.bisect_left(verdict.rows, row)].as_py() for row in rows.take(removed).to_pylist()
            )
            if len(removed):
                table, rows, failures = table.take(keep), rows.take(keep), _renumber(failures, keep)
            counts[correction.label] = len(removed)
            continue
        table, changed, problems = _fix_values(table, correction)
        counts[correction.label] = changed
        for row, problem in problems.items():
            failures.setdefault(row, []).append(problem)
    removed_rows = pa.concat_tables(superseded, promote_options="permissive") if superseded else table.slice(0, 0)
    return Corrected(table, counts, failures, removed_rows, superseded_by)


def corrected_columns(
    corrections: list[Correction], plan: DedupePlan, read: Batches, columns: list[str]
) -> Iterator[pa.Table]:
    """The run's corrected rows, batch by batch, reading only ``columns`` and what correcting them needs."""
    needed = _closure(columns, corrections)
    applied = [c for c in corrections if c.dedupe is not None or set(c.columns) <= set(needed)]
    first_row = 0
    for batch in read(needed):
        yield correct_batch(batch, applied, plan, first_row).table.select(columns)
        first_row += batch.num_rows


def _closure(columns: list[str], corrections: list[Correction]) -> list[str]:
    """``columns`` plus every column a value correction of them reads along (``trim: [a, b]`` reads both)."""
    needed = list(dict.fromkeys(columns))
    grown = True
    while grown:
        grown = False
        for correction in corrections:
            if correction.dedupe is None and set(correction.columns) & set(needed) and not set(correction.columns) <= set(needed):
                needed += [c for c in correction.columns if c not in needed]
                grown = True
    return needed


def plan_dedupes(corrections: list[Correction], schema: pa.Schema, read: Batches, sets: KeySets | None = None) -> DedupePlan:
    """Every dedupe's verdict over the whole run, from a pass over the columns the dedupes read.

    Each dedupe judges the rows the dedupes before it kept, by its columns as the corrections
    before it left them. Those columns go to a key set (etl_core.keysets: ``sets``, or one of
    its own) where DuckDB finds the repeated keys within its memory limit, spilling beyond it;
    memory holds the removed rows only, never the run's keys. The origins of the rows kept
    instead come from one more pass over ``_origin`` alone.
    """
    dedupes = [c for c in corrections if c.dedupe is not None]
    if not dedupes:
        return {}
    if sets is None:
        with key_sets() as own:
            return plan_dedupes(corrections, schema, read, own)
    needed = _closure([name for d in dedupes for name in d.columns], corrections)
    applied = [c for c in corrections if c.dedupe is not None or set(c.columns) <= set(needed)]
    tables = {d.label: f"dedupe{n}" for n, d in enumerate(dedupes)}
    first_row = 0
    for batch in itertools.chain([pa.schema([schema.field(n) for n in needed]).empty_table()], read(needed)):
        for correction in applied:
            if correction.dedupe is not None:
                sets.append(tables[correction.label], batch.select(correction.columns), first_row)
            else:
                batch = _fix_values(batch, correction)[0]
        first_row += batch.num_rows
    gone = array("q")
    verdicts: dict[str, tuple[array, array, list[int]]] = {}
    for dedupe in dedupes:
        removed, kept_by = sets.rows(_dedupe_query(tables[dedupe.label], dedupe.dedupe, bool(gone)))  # type: ignore[arg-type]
        # "row N" (when a kept row has no origin) counts the rows the dedupes before this one kept.
        verdicts[dedupe.label] = (removed, kept_by, [row - bisect.bisect_left(gone, row) for row in kept_by])
        if removed:
            sets.append("gone", pa.table({"row": pa.array(removed, pa.int64())}))
            gone = array("q", sorted([*gone, *removed]))
    kept = array("q", sorted({row for _, rows, _ in verdicts.values() for row in rows}))
    origin_of = _origins_of(kept, schema, read)
    return {
        label: Superseded(
            removed,
            pa.array(
                [
                    reason(label, f"superseded by {origin_of.get(row) or f'row {position + 1}'}")
                    for row, position in zip(rows, positions)
                ],
                pa.string(),
            ),
        )
        for label, (removed, rows, positions) in verdicts.items()
    }


def _dedupe_query(table: str, fix: DedupeFix, after_others: bool) -> str:
    """The rows one dedupe removes, ascending, each with the row kept instead.

    Per key the kept row has the greatest ``keep_latest_by`` (nulls are oldest), ties going
    to the later row. Rows with a null in the key are not duplicates of anything: they stay
    (for ``not_null`` to judge). Only keys held by more than one row are ranked (an aggregate that spills), so a run without
    repeats sorts nothing; ``after_others``: skip the rows earlier dedupes removed (table ``gone``)."""
    keys = columns(len(fix.key))
    latest = f"a.c{len(fix.key)} DESC NULLS LAST, " if fix.keep_latest_by else ""
    alive = " AND ".join(f"{c} IS NOT NULL" for c in keys)
    if after_others:
        alive += f' AND NOT EXISTS (SELECT 1 FROM gone WHERE gone.c0 = "{table}".{ROW})'  # nosec B608 - our own table name
    listed = ", ".join(keys)
    on = " AND ".join(f"a.{c} = d.{c}" for c in keys)
    return (
        f'WITH alive AS (SELECT * FROM "{table}" WHERE {alive}), '  # nosec B608 - our own table and column names
        f"dups AS (SELECT {listed} FROM alive GROUP BY ALL HAVING count(*) > 1), "
        f"ranked AS (SELECT a.{ROW} AS row, first_value(a.{ROW}) OVER w AS kept, row_number() OVER w AS rank "
        f"FROM alive AS a JOIN dups AS d ON {on} "
        f"WINDOW w AS (PARTITION BY {', '.join(f'a.{c}' for c in keys)} ORDER BY {latest}a.{ROW} DESC)) "
        f"SELECT row, kept FROM ranked WHERE rank > 1 ORDER BY row"
    )


def run_rows(first_row: int, count: int) -> pa.Array:
    """The run rows ``first_row .. first_row + count - 1``."""
    return positions(first_row, count)


def _window(rows: array, first_row: int, count: int) -> array:
    """The ascending ``rows`` that fall in ``[first_row, first_row + count)``."""
    return rows[bisect.bisect_left(rows, first_row):bisect.bisect_left(rows, first_row + count)]


def _origins_of(rows: array, schema: pa.Schema, read: Batches) -> dict[int, str | None]:
    """The ``_origin`` of the given run rows (ascending), read from that column alone."""
    if ORIGIN not in schema.names or not len(rows):
        return {}
    found: dict[int, str | None] = {}
    first_row = 0
    for batch in read([ORIGIN]):
        window = _window(rows, first_row, batch.num_rows)
        values = batch.column(ORIGIN).take(pa.array([row - first_row for row in window], pa.int64())).to_pylist()
        found.update(zip(window, values))
        first_row += batch.num_rows
    return found


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
