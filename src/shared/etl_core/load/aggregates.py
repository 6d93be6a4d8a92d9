"""A lake_aggregate target's table, computed batch by batch from per-batch partial aggregates.

Memory grows with the number of groups, not rows: each batch is reduced to one partial row
per group (sums, counts, minima, maxima), and the partials are folded together whenever
they pile up. The combination is exact: a sum is the sum of partial sums, a count the sum
of partial counts, a minimum the minimum of partial minima; a mean is the total sum over the
total count (decimals rounded half away from zero to the column's scale, as Arrow's own mean
does; float means are exact up to the order of the additions). ``count_distinct`` needs the
distinct (group, value) pairs of the whole run, which grow with the input: each batch's
pairs (distinct within the batch, by Arrow) go to a DuckDB key set (etl_core.keysets) that
spills beyond its memory limit, and DuckDB counts them per group, so memory grows with the
groups only.
"""
from __future__ import annotations

import contextlib
import decimal
import itertools
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.keysets import KeySets, columns, key_sets
from etl_core.load.rows import Rows
from etl_core.spec.targets import Aggregate, AggregateTarget

#: Fold the partials together once they hold this many rows.
_FOLD_ROWS = 64 * 1024

#: A partial aggregate -> how partials of it combine.
_COMBINE = {"count_all": "sum", "count": "sum", "sum": "sum", "min": "min", "max": "max"}


@dataclass(frozen=True)
class _Partial:
    """One aggregate column of the partial table: Arrow's ``column_function`` naming."""

    column: str | None
    function: str

    @property
    def name(self) -> str:
        return self.function if self.column is None else f"{self.column}_{self.function}"

    @property
    def arrow(self) -> tuple:
        return ([], "count_all") if self.column is None else (self.column, self.function)


def _partials(aggregate: Aggregate) -> list[_Partial]:
    if aggregate.column is None:
        return [_Partial(None, "count_all")]
    if aggregate.function == "mean":
        return [_Partial(aggregate.column, "sum"), _Partial(aggregate.column, "count")]
    if aggregate.function == "count_distinct":
        return []
    return [_Partial(aggregate.column, aggregate.function)]


class _Folder:
    """Partial rows per group, folded by ``combine`` whenever they pile up (no ``combine``: distinct rows)."""

    def __init__(self, keys: list[str], combine: list[tuple[str, str]]) -> None:
        self.keys = keys
        self.combine = combine
        self.columns = [*(name for name, _ in combine), *keys]
        self.pending: list[pa.Table] = []
        self.rows = 0

    def add(self, partial: pa.Table) -> None:
        self.pending.append(partial.select(self.columns))
        self.rows += partial.num_rows
        if self.rows >= _FOLD_ROWS and len(self.pending) > 1:
            self.pending = [self.fold()]
            self.rows = self.pending[0].num_rows

    def fold(self) -> pa.Table:
        """One row per group: the pending partials combined."""
        folded = pa.concat_tables(self.pending).group_by(self.keys, use_threads=False).aggregate(self.combine)
        # Arrow names a result "<input>_<function>": the partial columns get their own names back.
        return folded.select([*(f"{name}_{how}" for name, how in self.combine), *self.keys]).rename_columns(self.columns)


def aggregate_rows(rows: Rows | pa.Table, target: AggregateTarget) -> pa.Table:
    """The target's aggregate table over every row, sorted by its group columns."""
    rows = Rows.of(rows)
    keys = target.group_by
    partials = list(dict.fromkeys(p for a in target.aggregates for p in _partials(a)))
    distinct = list(dict.fromkeys(a.column for a in target.aggregates if a.function == "count_distinct" and a.column))
    sums = _Folder(keys, [(p.name, _COMBINE[p.function]) for p in partials])
    needed = list(dict.fromkeys([*keys, *(a.column for a in target.aggregates if a.column)]))
    empty = pa.schema([rows.schema.field(c) for c in needed]).empty_table()  # types for zero rows
    order = [(c, "ascending") for c in keys]
    with contextlib.ExitStack() as stack:
        sets = stack.enter_context(key_sets()) if distinct and rows.num_rows else None
        for batch in itertools.chain([empty], (pa.Table.from_batches([b]) for b in rows.batches(needed))):
            sums.add(batch.group_by(keys, use_threads=False).aggregate([p.arrow for p in partials]))
            for n, column in enumerate(distinct):
                pairs = batch.group_by([*keys, column], use_threads=False).aggregate([])
                if sets is not None:
                    sets.append(f"pairs{n}", pairs.select([*keys, column]))
        table = sums.fold().sort_by(order)
        counted = {column: _count_distinct(sets, f"pairs{n}", empty.select(keys).schema, column).sort_by(order)
                   for n, column in enumerate(distinct)}
    final = {a.name: _final(a, table, counted, rows.schema) for a in target.aggregates}
    return pa.table({**{k: table.column(k) for k in keys}, **final})


def _count_distinct(sets: KeySets | None, pairs: str, keys: pa.Schema, column: str) -> pa.Table:
    """Per group (``keys``), the distinct non-null values of ``column`` in key set ``pairs``; no set: no rows."""
    name = f"{column}_count"
    shape = pa.schema([*keys, pa.field(name, pa.int64())])
    if sets is None:
        return shape.empty_table()
    grouped = columns(len(keys))
    value = f"c{len(keys)}"
    listed = "".join(f"{c}, " for c in grouped)
    group = f" GROUP BY {', '.join(grouped)}" if grouped else ""
    return pa.concat_tables([shape.empty_table(), *sets.batches(
        f'SELECT {listed}count({value}) FROM (SELECT DISTINCT {listed}{value} FROM "{pairs}"){group}',  # nosec B608 - our own names
        shape)])


def _final(aggregate: Aggregate, table: pa.Table, counted: dict[str, pa.Table], schema: pa.Schema) -> pa.ChunkedArray:
    if aggregate.function == "count_distinct":
        return counted[aggregate.column].column(f"{aggregate.column}_count")  # type: ignore[index]
    if aggregate.function != "mean":
        return table.column(_partials(aggregate)[0].name)
    total, count = (table.column(p.name) for p in _partials(aggregate))
    if pa.types.is_decimal(total.type):
        return _decimal_mean(total, count, schema.field(aggregate.column).type)
    quotient = pc.divide(pc.cast(total, pa.float64()), pc.cast(count, pa.float64()))
    return pc.if_else(pc.equal(count, 0), pa.scalar(None, pa.float64()), quotient)


def _decimal_mean(total: pa.ChunkedArray, count: pa.ChunkedArray, column_type: pa.DataType) -> pa.Array:
    """Sum over count in the column's type, rounded half away from zero (as Arrow's decimal mean)."""
    step = decimal.Decimal(1).scaleb(-column_type.scale)
    context = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)
    means = [
        None if s is None or n == 0 else context.divide(s, n).quantize(step, context=context)
        for s, n in zip(total.to_pylist(), count.to_pylist())
    ]
    return pa.array(means, column_type)
