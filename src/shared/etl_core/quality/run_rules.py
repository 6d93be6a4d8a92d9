"""Run rules: judged once per run, not per row, so they can only warn or fail the run.

``row_count`` bounds the rows read from the driving source (a truncated or runaway input);
``freshness`` bounds the age of the newest value of a date or timestamp column, measured
at the end of the run date (so a day's batch is judged the same whenever it is re-run) or
at the time Validate runs.
"""
from __future__ import annotations

import datetime as dt

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


def _newest(values: pa.Array) -> dt.datetime | None:
    """The newest value as an aware UTC time; a date counts as the end of that day."""
    newest = pc.max(values).as_py()
    if newest is None:
        return None
    if pa.types.is_date(values.type):
        return dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return newest if newest.tzinfo else newest.replace(tzinfo=dt.timezone.utc)


def _freshness(rule: Rule, table: pa.Table, run_date: dt.date | None, now: dt.datetime) -> str | None:
    values = column(table, rule, rule.column)  # type: ignore[arg-type]
    if not (pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)):
        raise DataQualityError(f"rule {rule.label}: column {rule.column!r} is {values.type}; freshness needs a date or timestamp")
    if rule.relative_to == "run_date":
        if run_date is None:
            raise DataQualityError(f"rule {rule.label}: relative_to run_date, but the run's date is unknown")
        reference = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    else:
        reference = now
    newest = _newest(values)
    if newest is None:
        return "no values to judge"
    age = (reference - newest).total_seconds() / 3600
    if age > rule.max_age_hours:  # type: ignore[operator]
        limit = show(rule.max_age_hours)
        return f"newest {newest.isoformat()} is {age:.1f} h old at {reference.isoformat()} > max_age_hours {limit}"
    return None


def check_run_rules(
    pipeline: str, rules: list[Rule], table: pa.Table, *, rows_read: int, run_date: dt.date | None, now: dt.datetime
) -> list[str]:
    """The warnings of the run rules; a broken ``fail`` rule raises DataQualityError naming its bound."""
    warnings = []
    for rule in rules:
        broken = _row_count(rule, rows_read) if rule.check == "row_count" else _freshness(rule, table, run_date, now)
        if broken is None:
            continue
        text = reason(rule.label, broken, rule.severity)
        if rule.severity == "fail":
            raise DataQualityError(f"pipeline {pipeline!r}: run rule broken: {text}")
        warnings.append(text)
    return warnings
