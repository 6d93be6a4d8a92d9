"""What a ``unique`` rule knows about the whole run's keys, so batches can be judged one by one.

A row breaks ``unique`` if an earlier row of the run has its key, or (``against_target``)
if the target already holds its key. Both depend on rows outside the batch, so the index is
built from the run's key columns alone (read before the batches are judged): the repeating
rows and the row each repeats, and the keys the target holds. Over a run the key columns go
to a DuckDB key set (etl_core.keysets) that spills beyond its memory limit, so memory grows
with the repeating rows and the keys the target already holds, never with the run's keys;
a single batch judged alone is indexed in memory. The origin of a repeated row is remembered
as the batches pass it, which is always before the rows that repeat it.
"""
from __future__ import annotations

import bisect
import functools
from array import array
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.arrays import positions, trues
from etl_core.keysets import ROW, KeySets, columns
from etl_core.reasons import origins, show_key
from etl_core.spec import Rule

#: (target, distinct keys, rule label) -> the keys (as text) the target already holds.
KeysInTarget = Callable[[str, pa.Table, str], pa.Table]

#: Distinct keys sent to the target per look-up (out of core): one query's parameters.
_TARGET_SLICE = 256 * 1024


def _complete(keys: pa.Table) -> pa.Array:
    """Rows whose key has no null: only those can repeat (``not_null`` judges the others)."""
    everywhere = trues(keys.num_rows)
    return functools.reduce(pc.and_, [pc.is_valid(keys.column(n)) for n in keys.column_names], everywhere)


def _as_text(keys: pa.Table) -> pa.Table:
    return pa.table({n: pc.cast(keys.column(n), pa.string()) for n in keys.column_names})


class KeyIndex:
    """One unique rule's view of the run: see the module docstring."""

    def __init__(self, rule: Rule, repeats: array, firsts: array, held: pa.Table | None) -> None:
        """``repeats``: rows repeating an earlier key (ascending); ``firsts``, aligned: the first row
        with that key; ``held``: the keys (as text) the target holds, None without ``against_target``."""
        self.rule = rule
        self.repeats = repeats
        self.firsts = firsts
        self._wanted = array("q", sorted(set(self.firsts)))
        self._first_origins: dict[int, str] = {}
        self.held = held

    @classmethod
    def of(cls, rule: Rule, keys: pa.Table, keys_in_target: KeysInTarget) -> "KeyIndex":
        """The index of ``keys`` held in memory: the rule's columns for every row, in order (one batch)."""
        keyed = keys.append_column("_i", positions(0, keys.num_rows)).filter(_complete(keys))
        first = keyed.group_by(rule.columns, use_threads=False).aggregate([("_i", "min")])
        repeats = keyed.filter(pc.invert(pc.is_in(keyed.column("_i"), value_set=first.column("_i_min"))))
        pairs = repeats.join(first, keys=rule.columns).select(["_i", "_i_min"]).sort_by("_i")
        held = None
        if rule.against_target:
            distinct = keyed.select(rule.columns).group_by(rule.columns, use_threads=False).aggregate([])
            held = keys_in_target(rule.against_target, distinct, rule.label)
        return cls(rule, array("q", pairs.column("_i").to_pylist()), array("q", pairs.column("_i_min").to_pylist()), held)

    @classmethod
    def out_of_core(cls, rule: Rule, sets: KeySets, table: str, shape: pa.Schema, keys_in_target: KeysInTarget) -> "KeyIndex":
        """The index of the key set ``table`` (the rule's columns, ``shape``, of every run row), computed
        by DuckDB within its memory limit: only the repeating rows come back, and the target is
        asked about the distinct keys in slices."""
        names = columns(len(rule.columns))
        complete = " AND ".join(f"{c} IS NOT NULL" for c in names)
        on = " AND ".join(f"k.{c} = f.{c}" for c in names)
        listed = ", ".join(names)
        repeats, firsts = sets.rows(
            f'WITH f AS (SELECT {listed}, min({ROW}) AS first_row FROM "{table}" WHERE {complete} '  # nosec B608 - our own names
            f"GROUP BY ALL HAVING count(*) > 1) "
            f'SELECT k.{ROW}, f.first_row FROM "{table}" AS k JOIN f ON {on} WHERE k.{ROW} <> f.first_row ORDER BY k.{ROW}'
        )
        held = None
        if rule.against_target:
            found = [
                keys_in_target(rule.against_target, distinct, rule.label)
                for distinct in sets.batches(f'SELECT DISTINCT {listed} FROM "{table}" WHERE {complete}',  # nosec B608
                                             shape, rows=_TARGET_SLICE)
            ]
            text = pa.schema([(name, pa.string()) for name in rule.columns])
            held = pa.concat_tables([text.empty_table(), *(f.select(rule.columns).cast(text) for f in found)])
        return cls(rule, repeats, firsts, held)

    def failures(self, table: pa.Table, keys: pa.Table, first_row: int) -> tuple[pa.Array, Callable[[list[int]], list[str]]]:
        """The batch's mask and reasons; ``first_row``: the batch's first row's place in the run."""
        end = first_row + table.num_rows
        repeated = self.repeats[bisect.bisect_left(self.repeats, first_row):bisect.bisect_left(self.repeats, end)]
        firsts_here = self._wanted[bisect.bisect_left(self._wanted, first_row):bisect.bisect_left(self._wanted, end)]
        local_firsts = [row - first_row for row in firsts_here]
        self._first_origins.update(zip(firsts_here, origins(table, local_firsts, first_row)))
        earlier = {row - first_row: self.firsts[bisect.bisect_left(self.repeats, row)] for row in repeated}
        held = self._held(keys)
        index = positions(0, table.num_rows)
        mask = pc.is_in(index, value_set=pa.array(sorted(set(earlier) | held), pa.int64()))
        rule = self.rule

        def details(indices: list[int]) -> list[str]:
            shown = [show_key(tuple(row.values())) for row in keys.take(pa.array(indices, pa.int64())).to_pylist()]
            return [
                "; ".join(
                    ([f"{key} repeats {self._first_origins[earlier[i]]}"] if i in earlier else [])
                    + ([f"{key} already in target {rule.against_target}"] if i in held else [])
                )
                for i, key in zip(indices, shown)
            ]

        return mask, details

    def _held(self, keys: pa.Table) -> set[int]:
        """Rows of the batch whose complete key the target holds; keys compare as text."""
        if self.held is None:
            return set()
        as_text = _as_text(keys).append_column("_i", positions(0, keys.num_rows)).filter(_complete(keys))
        return set(as_text.join(self.held, keys=self.rule.columns, join_type="inner").column("_i").to_pylist())
