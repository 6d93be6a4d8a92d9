"""Row rules: for each rule, a mask of the rows that break it and, for those rows only, why.

Masks are computed with pyarrow.compute over the whole batch; the human reason
(``range(quantity): 0 < min 1``) is built only for failing rows, so a clean batch costs
one vectorised pass per rule and nothing more. Nulls pass every rule except ``not_null``.
"""
from __future__ import annotations

import bisect
import datetime as dt
from array import array
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import conformance
from etl_core.arrays import falses, positions
from etl_core.errors import DataQualityError
from etl_core.quality.unique import KeyIndex
from etl_core.reasons import show
from etl_core.spec import Rule

#: How many accepted values a reason lists before it abbreviates.
_SHOWN_VALUES = 8


@dataclass(frozen=True)
class Lookups:
    """What rules that look beyond the batch need, bound to the run by the caller."""

    #: (source, column, rule label) -> the distinct values of that column of the source as staged for this run.
    staged_column: Callable[[str, str, str], pa.ChunkedArray]
    #: (target, key columns, rule label) -> the distinct keys (as text) the target already holds.
    keys_in_target: Callable[[str, pa.Table, str], pa.Table]
    #: A ``unique`` rule -> its index over the whole run's keys; None: the batch is the whole run.
    run_keys: Callable[[Rule], KeyIndex] | None = None
    #: A ``references`` rule -> the run rows (ascending) whose value the source lacks; None (or
    #: None for the rule): the batch is compared with ``staged_column``.
    run_missing: Callable[[Rule], array | None] | None = None
    #: The batch's first row's place in the run (row numbers in reasons count from the run's start).
    first_row: int = 0


def _outside_a_run(*args: object) -> pa.ChunkedArray:
    raise DataQualityError(f"rule {args[-1]}: looks beyond the batch, which needs a run (validate_run binds the look-ups)")


#: Look-ups for a batch judged outside a run: rules that need one say so.
NO_LOOKUPS = Lookups(staged_column=_outside_a_run, keys_in_target=_outside_a_run)


@dataclass(frozen=True)
class Failures:
    """The rows one rule fails: ``mask`` over the batch, ``details(indices)`` for those rows."""

    mask: pa.Array
    details: Callable[[list[int]], list[str]]


def column(table: pa.Table, rule: Rule, name: str | None = None) -> pa.Array:
    """The named column (default: the rule's ``column``), or an error naming the rule and the column."""
    name = name or rule.column or ""
    if name not in table.column_names:
        raise DataQualityError(f"rule {rule.label}: column {name!r} is not in the transform's output {table.column_names}")
    return conformance.flat(table.column(name))


def _text_column(table: pa.Table, rule: Rule) -> pa.Array:
    values = column(table, rule)
    if not conformance.is_text(values.type):
        raise DataQualityError(
            f"rule {rule.label}: column {rule.column!r} is {values.type}; check '{rule.check}' applies to text"
        )
    return values


def _values_at(values: pa.Array) -> Callable[[list[int]], list]:
    return lambda indices: values.take(pa.array(indices, pa.int64())).to_pylist()


def _explained(values: pa.Array, mask: pa.Array, explain: Callable[[Any], str]) -> Failures:
    """Failures whose reason depends on the failing value alone."""
    return Failures(mask, lambda indices: [explain(v) for v in _values_at(values)(indices)])


def _not_null(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    return Failures(pc.is_null(column(table, rule)), lambda indices: ["null"] * len(indices))


def _unique(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    """Rows repeating an earlier row's key; with ``against_target``, also keys the target holds.

    Rows with a null in the key repeat nothing (``not_null`` judges them).
    """
    keys = pa.table({name: column(table, rule, name) for name in rule.columns})
    index = lookups.run_keys(rule) if lookups.run_keys else KeyIndex.of(rule, keys, lookups.keys_in_target)
    return Failures(*index.failures(table, keys, lookups.first_row))


def _accepted_values(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = column(table, rule)
    accepted = pa.array(rule.values).cast(values.type)
    listed = ", ".join(show(v) for v in rule.values[:_SHOWN_VALUES]) + (", ..." if len(rule.values) > _SHOWN_VALUES else "")
    mask = pc.and_(pc.invert(pc.is_in(values, value_set=accepted)), pc.is_valid(values))
    return _explained(values, mask, lambda v: f"{show(v)} not in [{listed}]")


def _bound(value: float | dt.date | None, values: pa.Array) -> float | pa.Scalar:
    """A date bound takes the column's temporal type; a number compares as it is."""
    return value if isinstance(value, (int, float)) else pa.scalar(value).cast(values.type)


def _range(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = column(table, rule)
    none = falses(len(values))
    low = pc.fill_null(pc.less(values, _bound(rule.min, values)), False) if rule.min is not None else none
    high = pc.fill_null(pc.greater(values, _bound(rule.max, values)), False) if rule.max is not None else none

    def details(indices: list[int]) -> list[str]:
        return [
            f"{show(v)} < min {show(rule.min)}" if under else f"{show(v)} > max {show(rule.max)}"
            for v, under in zip(_values_at(values)(indices), _values_at(low)(indices))
        ]

    return Failures(pc.or_(low, high), details)


def _regex(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = column(table, rule)
    text = values if conformance.is_text(values.type) else pc.cast(values, pa.string())
    mask = pc.invert(pc.match_substring_regex(text, rule.pattern))
    return _explained(values, mask, lambda v: f"{show(v)} does not match {rule.pattern!r}")


def _format(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = _text_column(table, rule)
    name = conformance.FORMAT_NAMES[rule.format or ""]
    mask = conformance.format_failures(values, rule.format or "")
    return _explained(values, mask, lambda v: f"{show(v)} is not {name}")


def _type(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = _text_column(table, rule)
    mask = conformance.type_failures(values, rule.type or "")
    return _explained(values, mask, lambda v: f"{show(v)} is not a valid {rule.type}")


def _references(table: pa.Table, rule: Rule, lookups: Lookups) -> Failures:
    values = column(table, rule)
    missing = lookups.run_missing(rule) if lookups.run_missing else None
    if missing is not None:  # judged over the run (quality.references): this batch's window of it
        start, end = lookups.first_row, lookups.first_row + len(values)
        here = pa.array(missing[bisect.bisect_left(missing, start):bisect.bisect_left(missing, end)], pa.int64())
        mask = pc.is_in(positions(start, len(values)), value_set=here)
        return _explained(values, mask, lambda v: f"{show(v)} not in {rule.source}.{rule.source_column}")
    referenced = lookups.staged_column(rule.source, rule.source_column, rule.label)
    mask = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=referenced.cast(values.type))))
    return _explained(values, mask, lambda v: f"{show(v)} not in {rule.source}.{rule.source_column}")


CHECKS: dict[str, Callable[[pa.Table, Rule, Lookups], Failures]] = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted_values,
    "range": _range,
    "regex": _regex,
    "format": _format,
    "type": _type,
    "references": _references,
}


def rule_failures(table: pa.Table, rule: Rule, lookups: Lookups = NO_LOOKUPS) -> Failures:
    """Which rows break ``rule``; a rule that cannot be applied is an error naming it and its column."""
    try:
        failures = CHECKS[rule.check](table, rule, lookups)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        named = rule.column in table.column_names
        where = f"column {rule.column!r} ({table.schema.field(rule.column).type})" if named else "its columns"
        raise DataQualityError(f"rule {rule.label}: cannot be applied to {where}: {exc}") from None
    return Failures(pc.fill_null(failures.mask, False), failures.details)
