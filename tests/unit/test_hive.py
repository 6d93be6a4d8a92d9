"""etl_core.hive: every row lands once, in input order, in the folder pyarrow's own dataset
writer would name; row groups, dictionaries, codec and statistics as the module promises."""
from __future__ import annotations

import datetime as dt
import posixpath
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from etl_core.hive import CODEC, dictionary_columns, write_hive_partitions

BASENAME = "part-r-0.parquet"


def write(tmp_path: Path, table: pa.Table, partition_by: list[str], batch_rows: int, **options) -> tuple[Path, list[str]]:
    root = tmp_path / "out"
    files = write_hive_partitions(table.to_batches(max_chunksize=batch_rows), table.schema, pafs.LocalFileSystem(), str(root),
                                  partition_by, BASENAME, row_group_rows=options.pop("row_group_rows", 4), **options)
    return root, files


def reference_folders(tmp_path: Path, table: pa.Table, partition_by: list[str]) -> set[str]:
    """The folders ``pyarrow.dataset.write_dataset`` makes for the same rows."""
    root = tmp_path / "reference"
    ds.write_dataset(table, root, format="parquet", partitioning=partition_by, partitioning_flavor="hive")
    return {str(p.parent.relative_to(root)) for p in root.rglob("*.parquet")}


def expected_partitions(table: pa.Table, partition_by: list[str]) -> dict[tuple, list[dict]]:
    """Each partition's rows (without its key columns) in input order, computed row by row."""
    groups: dict[tuple, list[dict]] = {}
    for row in table.to_pylist():
        key = tuple(row.pop(c) for c in partition_by)
        groups.setdefault(key, []).append(row)
    return groups


def folder_of(table: pa.Table, partition_by: list[str], key: tuple) -> str:
    """The folder pyarrow's hive partitioning names for the key values ``key``."""
    fields = [table.schema.field(c) for c in partition_by]
    expression = None
    for field, value in zip(fields, key):
        term = ds.field(field.name).is_null() if value is None else ds.field(field.name) == pa.scalar(value, field.type)
        expression = term if expression is None else expression & term
    return ds.partitioning(pa.schema(fields), flavor="hive").format(expression)[0]


def check(tmp_path: Path, table: pa.Table, partition_by: list[str], batch_rows: int, **options) -> list[str]:
    """Write ``table`` and compare every file with the rows computed row by row."""
    root, files = write(tmp_path, table, partition_by, batch_rows, **options)
    written = {posixpath.relpath(posixpath.dirname(f), str(root)): f for f in files}
    assert len(written) == len(files)
    assert set(written) == reference_folders(tmp_path, table, partition_by)
    data_schema = pa.schema([f for f in table.schema if f.name not in partition_by])
    expected = expected_partitions(table, partition_by)
    assert set(written) == {folder_of(table, partition_by, key) for key in expected}
    for key, rows in expected.items():
        got = pq.read_table(written[folder_of(table, partition_by, key)])
        assert got.schema.equals(data_schema)
        assert got.to_pylist() == rows, key  # the same rows, in input order
    return files


@pytest.mark.parametrize("batch_rows", [1, 3, 7, 1000])
def test_scattered_rows_land_once_in_input_order(tmp_path: Path, batch_rows: int) -> None:
    years = [1995, 1993, None, 1995, 1994, 1993, None, 1995, 1993, 1994, 1995, 1993, 1996]
    table = pa.table({
        "id": list(range(len(years))),
        "year": pa.array(years, pa.int32()),
        "note": [f"row {i}" if i % 4 else None for i in range(len(years))],
        "day": [dt.date(2020, 1, 1 + i % 3) for i in range(len(years))],
    })
    check(tmp_path, table, ["year"], batch_rows)


@pytest.mark.parametrize("batch_rows", [2, 5, 1000])
def test_several_partition_columns_strings_that_need_escaping_and_nulls(tmp_path: Path, batch_rows: int) -> None:
    table = pa.table({
        "region": ["eu/west", "us", "eu/west", None, "us", "eu/west", "us", None, "a=b c"],
        "year": pa.array([2020, 2020, 2021, 2020, 2020, 2020, 2021, None, 2020], pa.int64()),
        "v": list(range(9)),
    })
    check(tmp_path, table, ["region", "year"], batch_rows)


def test_rows_already_grouped_by_partition_land_in_input_order(tmp_path: Path) -> None:
    """Time-ordered data: each partition's rows come in one run (written without a sort)."""
    table = pa.table({"day": ["a"] * 5 + ["b"] * 3 + ["c"] * 6, "v": [9, 3, 7, 1, 5, 2, 8, 4, 6, 0, 11, 10, 13, 12]})
    check(tmp_path, table, ["day"], 4)


def test_a_dictionary_partition_column(tmp_path: Path) -> None:
    table = pa.table({"k": pa.array(["x", "y", "x", None, "y"]).dictionary_encode(), "v": [1, 2, 3, 4, 5]})
    root, files = write(tmp_path, table, ["k"], 2)
    got = {posixpath.relpath(posixpath.dirname(f), str(root)): pq.read_table(f).column("v").to_pylist() for f in files}
    assert got == {"k=x": [1, 3], "k=y": [2, 5], "k=__HIVE_DEFAULT_PARTITION__": [4]}


def test_no_partition_columns_write_one_file(tmp_path: Path) -> None:
    table = pa.table({"v": list(range(50))})
    root, files = write(tmp_path, table, [], 7)
    assert files == [str(root / BASENAME)]
    assert pq.read_table(files[0]).column("v").to_pylist() == list(range(50))


def row_groups(path: str) -> list[int]:
    meta = pq.read_metadata(path)
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_row_groups_hold_a_partitions_share_of_a_chunk_not_of_a_batch(tmp_path: Path) -> None:
    table = pa.table({"p": [i % 2 for i in range(4000)], "v": list(range(4000))})
    chunk = table.slice(0, 1000).nbytes  # 1000 rows of input per chunk: 500 per partition
    files = check(tmp_path, table, ["p"], 100, row_group_rows=200, chunk_bytes=chunk)
    for path in files:
        assert row_groups(path) == [500] * 4


def test_a_partition_short_of_a_row_group_waits_for_more_rows(tmp_path: Path) -> None:
    """A rare partition's rows are kept (copied) across chunks until they fill a row group."""
    table = pa.table({"p": ["rare" if i % 50 == 0 else "common" for i in range(5000)], "v": list(range(5000))})
    chunk = table.slice(0, 1000).nbytes
    root, _ = write(tmp_path, table, ["p"], 250, row_group_rows=60, chunk_bytes=chunk)
    assert row_groups(str(root / "p=rare" / BASENAME)) == [60, 40]  # 20 rows a chunk; written at 60, then the rest
    assert row_groups(str(root / "p=common" / BASENAME)) == [980] * 5
    check(tmp_path / "again", table, ["p"], 250, row_group_rows=60, chunk_bytes=chunk)


def test_many_small_partitions_write_early_rather_than_hold_everything(tmp_path: Path) -> None:
    """More partitions than memory holds at a row group each: the largest are written as smaller row groups."""
    table = pa.table({"p": [i % 300 for i in range(6000)], "v": list(range(6000))})
    chunk = table.slice(0, 600).nbytes
    files = check(tmp_path, table, ["p"], 200, row_group_rows=1000, chunk_bytes=chunk)
    assert max(len(row_groups(f)) for f in files) > 1  # written before the end although short of 1000 rows


def test_lake_files_keep_snappy_statistics_and_dictionaries_where_they_pay(tmp_path: Path) -> None:
    n = 20_000
    table = pa.table({
        "year": pa.array([2020 + i % 3 for i in range(n)], pa.int32()),
        "id": pa.array(range(n), pa.int64()),
        "status": [("open", "closed", "void")[i % 3] for i in range(n)],
        "text": [f"free text number {i * 7919 % 100_003}" for i in range(n)],
        "point": pa.array([{"x": i % 5, "label": f"label {i}"} for i in range(n)]),
    })
    assert set(dictionary_columns(table.drop_columns(["year"]))) == {"status", "point.x"}
    root, files = write(tmp_path, table, ["year"], 4096, row_group_rows=1000)
    for path in files:
        meta = pq.read_metadata(path)
        for g in range(meta.num_row_groups):
            columns = {meta.row_group(g).column(i).path_in_schema: meta.row_group(g).column(i) for i in range(meta.num_columns)}
            assert {c.compression for c in columns.values()} == {CODEC.upper()}
            assert all(c.is_stats_set and c.statistics.has_min_max for c in columns.values())
            dictionary = {p for p, c in columns.items() if c.has_dictionary_page}
            assert dictionary == {"status", "point.x"}
    got = pq.read_table(str(root / "year=2021" / BASENAME))
    assert got.to_pylist() == table.filter(pc.equal(table["year"], 2021)).drop_columns(["year"]).to_pylist()


def test_memory_is_bounded_by_the_chunk_not_the_run(tmp_path: Path) -> None:
    """400k wide rows made batch by batch, in four common partitions and a rare one that never
    fills a row group: Arrow's peak stays far below the run's size (the rare partition's rows
    are copied out of their batches instead of keeping every batch alive)."""
    n, batch_rows = 400_000, 10_000
    schema = pa.schema([("p", pa.int32()), ("id", pa.int64()), ("text", pa.string())])

    def batches():
        for start in range(0, n, batch_rows):
            ids = range(start, start + batch_rows)
            yield pa.record_batch([pa.array([0 if i % 1000 == 0 else 1 + i % 4 for i in ids], pa.int32()), pa.array(ids, pa.int64()),
                                   pa.array([f"row {i:06d} " + "x" * 80 for i in ids])], schema=schema)

    size = next(batches()).nbytes * (n // batch_rows)
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        files = write_hive_partitions(batches(), schema, pafs.LocalFileSystem(), str(tmp_path / "out"), ["p"], BASENAME,
                                      row_group_rows=batch_rows, chunk_bytes=size // 10)
    finally:
        pa.set_memory_pool(previous)
    assert sum(pq.read_metadata(f).num_rows for f in files) == n
    assert row_groups(str(tmp_path / "out" / "p=0" / BASENAME)) == [n // 1000]
    assert pool.max_memory() < size / 4, f"Arrow peak {pool.max_memory():,} bytes for a {size:,}-byte run"


def test_a_failing_read_mid_run_is_raised(tmp_path: Path) -> None:
    table = pa.table({"p": [1, 2, 1, 2], "v": [1, 2, 3, 4]})

    def batches():
        yield from table.to_batches(max_chunksize=2)
        raise OSError("cannot read the valid rows")

    with pytest.raises(OSError, match="cannot read the valid rows"):
        write_hive_partitions(batches(), table.schema, pafs.LocalFileSystem(), str(tmp_path / "out"), ["p"], BASENAME, row_group_rows=1)


def test_decimals_up_to_18_digits_are_stored_as_integers_and_read_back_as_the_same_decimals(tmp_path: Path) -> None:
    """Parquet INT32/INT64 with the DECIMAL logical type (as Spark writes them), not 16-byte arrays;
    wider decimals stay fixed-length arrays. pyarrow reads the very same decimal128 values back."""
    from decimal import Decimal

    n = 50
    table = pa.table({
        "year": pa.array([2020 + i % 2 for i in range(n)], pa.int32()),
        "small": pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(9, 2)),
        "price": pa.array([None if i == 3 else Decimal(10**15 + i) / 100 for i in range(n)], pa.decimal128(18, 2)),
        "wide": pa.array([Decimal(10**30 + i) / 100 for i in range(n)], pa.decimal128(38, 2)),
    })
    files = check(tmp_path, table, ["year"], 16)
    for path in files:
        schema = pq.read_metadata(path).schema
        physical = {schema.column(i).name: schema.column(i).physical_type for i in range(len(schema))}
        assert physical == {"small": "INT32", "price": "INT64", "wide": "FIXED_LEN_BYTE_ARRAY"}
        assert {str(schema.column(i).logical_type) for i in range(len(schema))} == {
            "Decimal(precision=9, scale=2)", "Decimal(precision=18, scale=2)", "Decimal(precision=38, scale=2)"}
