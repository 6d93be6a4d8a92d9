"""Key checks for targets that do not enforce keys themselves (Redshift, DynamoDB).

Redshift's PRIMARY KEY is informational and DynamoDB's last write of a key silently wins,
so rows sharing a key, or without one, would load without an error and make the result
depend on row order — and a NULL key would even duplicate on every re-run. Such rows are
refused before anything is written, with the offending key in the message. The check reads
only the key columns, so its memory grows with the keys, never with whole rows.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from etl_core.errors import TargetError
from etl_core.load.rows import Rows


def require_columns(rows: Rows | pa.Table, key: list[str], target: str) -> None:
    missing = [k for k in key if k not in rows.column_names]
    if missing:
        raise TargetError(f"target {target!r}: key column(s) {missing} not in the rows' columns {rows.column_names}")


def require_unique_keys(rows: Rows | pa.Table, key: list[str], target: str) -> None:
    """Every row has a complete key, and no two rows share one."""
    require_columns(rows, key, target)
    keys = pa.Table.from_batches(list(Rows.of(rows).batches(key)), pa.schema([rows.schema.field(k) for k in key]))
    for column in key:
        nulls = keys.column(column).null_count
        if nulls:
            raise TargetError(f"target {target!r}: {nulls} row(s) have no value in key column {column!r}")
    counts = keys.group_by(key, use_threads=False).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if repeated.num_rows:
        first = repeated.slice(0, 1).to_pylist()[0]
        times = first.pop("count_all")
        raise TargetError(
            f"target {target!r}: duplicate keys within one load: {repeated.num_rows} key(s) repeat, "
            f"e.g. {first} appears {times} times"
        )
