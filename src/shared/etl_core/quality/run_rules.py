"""Run rules: judged once per run, not per row, so they can only warn or fail the run.

``row_count`` bounds the rows read from the driving source (a truncated or runaway input);
``freshness`` bounds the age of the newest value of a date or timestamp column, measured
at the end of the run date (so a day's batch is judged the same whenever it is re-run) or
at the time Validate runs. The newest value is folded in batch by batch (``fold_newest``), so
judging a run holds one value per rule, not the column.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.errors import DataQualityError
from etl_core.quality.row_rules import column
from etl_core.reasons import reason, show
from etl_core.spec import Rule


def _row_count(rule: Rule, rows: int) -> str | None:
    if rule.min is not None and rows < rule.min:  # type: ignore[operator]
        return f"{rows} rows < min {show(rule.min)}"
    if rule.max is not None and rows > rule.max:  # type: ignore[operator]
        return f"{rows} rows > max {show(rule.max)}"
    return None


def _temporal(data_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)


def freshness_columns(rules: list[Rule], shape: pa.Table) -> list[str]:
    """The columns whose newest value the run's freshness rules judge (those they can judge)."""
    named = [r.column for r in rules if r.check == "freshness" and r.column in shape.column_names]
    return list(dict.fromkeys(c for c in named if c and _temporal(shape.schema.field(c).type)))


def fold_newest(newest: dict[str, Any], batch: pa.Table) -> None:
    """Fold a batch's newest value of each column into ``newest`` (column -> newest so far, or None)."""
    for name in newest:
        value = pc.max(batch.column(name)).as_py()
        if value is not None and (newest[name] is None or value > newest[name]):
            newest[name] = value


def _newest(newest: Any, data_type: pa.DataType) -> dt.datetime | None:
    """The newest value as an aware UTC time; a date counts as the end of that day."""
    if newest is None:
        return None
    if pa.types.is_date(data_type):
        return dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return newest if newest.tzinfo else newest.replace(tzinfo=dt.timezone.utc)


def _freshness(rule: Rule, shape: pa.Table, newest: dict[str, Any], run_date: dt.date | None, now: dt.datetime) -> str | None:
    values = column(shape, rule, rule.column)  # type: ignore[arg-type]
    if not _temporal(values.type):
        raise DataQualityError(f"rule {rule.label}: column {rule.column!r} is {values.type}; freshness needs a date or timestamp")
    if rule.relative_to == "run_date":
        if run_date is None:
            raise DataQualityError(f"rule {rule.label}: relative_to run_date, but the run's date is unknown")
        reference = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    else:
        reference = now
    newest_time = _newest(newest[rule.column], values.type)  # type: ignore[index]
    if newest_time is None:
        return "no values to judge"
    age = (reference - newest_time).total_seconds() / 3600
    if age > rule.max_age_hours:  # type: ignore[operator]
        limit = show(rule.max_age_hours)
        return f"newest {newest_time.isoformat()} is {age:.1f} h old at {reference.isoformat()} > max_age_hours {limit}"
    return None


def check_run_rules(
    pipeline: str,
    rules: list[Rule],
    shape: pa.Table,
    newest: dict[str, Any],
    *,
    rows_read: int,
    run_date: dt.date | None,
    now: dt.datetime,
) -> list[str]:
    """The warnings of the run rules; a broken ``fail`` rule raises DataQualityError naming its bound.

    ``shape`` is the corrected rows' shape (an empty table), ``newest`` the folded newest
    value of each of ``freshness_columns``.
    """
    warnings = []
    for rule in rules:
        broken = _row_count(rule, rows_read) if rule.check == "row_count" else _freshness(rule, shape, newest, run_date, now)
        if broken is None:
            continue
        text = reason(rule.label, broken, rule.severity)
        if rule.severity == "fail":
            raise DataQualityError(f"pipeline {pipeline!r}: run rule broken: {text}")
        warnings.append(text)
    return warnings
