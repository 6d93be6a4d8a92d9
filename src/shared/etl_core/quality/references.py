"""Which rows of a run a ``references`` rule does not find in the source it names, out of core.

Judged batch by batch in memory, every batch would be compared with the distinct values of
the referenced column, which grow with that source. Over a run the run's column is a key set
(etl_core.keysets, filled by Validate's facts pass) and the referenced column goes beside it,
cast by Arrow to the run column's type batch by batch (as the in-memory check casts it); one
anti-join in DuckDB, which spills beyond its memory limit, returns the rows not found.
"""
from __future__ import annotations

from array import array

import pyarrow as pa
import pyarrow.compute as pc

from etl_core import storage
from etl_core.errors import DataQualityError
from etl_core.keysets import ROW, KeySets
from etl_core.spec import Rule


def missing_references(sets: KeySets, table: str, rule: Rule, source: storage.ParquetParts, run_type: pa.DataType) -> array:
    """The run rows (ascending) of key set ``table`` whose non-null value the source's column lacks."""
    referenced = f"{table}_referenced"
    sets.create(referenced, pa.schema([pa.field("value", run_type)]))
    for batch in source.batches([rule.source_column]):
        try:
            values = pc.cast(batch.column(rule.source_column), run_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise DataQualityError(f"rule {rule.label}: cannot be applied to column {rule.column!r} ({run_type}): {exc}") from None
        sets.append(referenced, pa.table({"value": values}))
    return sets.rows(
        f'SELECT r.{ROW} FROM "{table}" AS r WHERE r.c0 IS NOT NULL '  # nosec B608 - our own table names
        f'AND NOT EXISTS (SELECT 1 FROM "{referenced}" AS s WHERE s.c0 = r.c0) ORDER BY r.{ROW}'
    )[0]
