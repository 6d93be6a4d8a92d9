"""etl_core.load.rows: the validated rows every loader gets, the run id stamped on every row
whatever the batches' sizes (the stamp is sliced from one array that grows with the longest batch)."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from etl_core.load.rows import RUN_COLUMN, Rows

RUN = "2026-12-01"


def validated(tmp_path: Path, groups: list[int]) -> tuple[pa.Table, Rows]:
    """A valid object whose row groups (so batches) have the given sizes, short and long mixed."""
    n = sum(groups)
    table = pa.table({"id": pa.array(range(n), pa.int64()), "name": [f"row {i}" for i in range(n)], "_origin": ["f.csv:1"] * n})
    folder = tmp_path / "valid"
    folder.mkdir()
    with pq.ParquetWriter(folder / "part-0.parquet", table.schema) as writer:
        start = 0
        for size in groups:
            writer.write_table(table.slice(start, size), row_group_size=size)
            start += size
    return table, Rows.validated(str(folder), RUN)


def test_every_row_is_stamped_with_the_run_whatever_the_batch_sizes(tmp_path: Path) -> None:
    groups = [3, 10, 1, 7, 25, 2]
    table, rows = validated(tmp_path, groups)
    assert rows.column_names == ["id", "name", RUN_COLUMN] and rows.stamped == RUN
    batches = list(rows.batches())
    assert [b.num_rows for b in batches] == groups
    got = pa.Table.from_batches(batches)
    assert got.schema == rows.schema
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    assert got.column("name").to_pylist() == table.column("name").to_pylist()
    assert got.column(RUN_COLUMN).to_pylist() == [RUN] * sum(groups)
    assert all(b.column(RUN_COLUMN).null_count == 0 for b in batches)


def test_the_stamp_only_when_asked_and_in_the_order_asked(tmp_path: Path) -> None:
    _, rows = validated(tmp_path, [4, 9])
    assert [b.schema.names for b in rows.batches(["name"])] == [["name"]] * 2
    stamped = pa.Table.from_batches(list(rows.batches([RUN_COLUMN, "id"])))
    assert stamped.schema.names == [RUN_COLUMN, "id"]
    assert stamped.column(RUN_COLUMN).to_pylist() == [RUN] * 13
