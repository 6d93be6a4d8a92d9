"""Validate and the loaders stream: judged in batches of a few rows, a run gives exactly the
counts, reasons and aggregates it gives in one batch, and Arrow's peak memory stays bounded."""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_core import storage
from etl_core.layout import RunLayout
from etl_core.load.aggregates import aggregate_rows
from etl_core.load.rows import Rows
from etl_core.quality import validate_run
from etl_core.spec import parse_spec
from etl_core.spec.targets import AggregateTarget

N = 400


def _rows(n: int = N) -> pa.Table:
    """Duplicate keys, nulls, bad values and a stale date, spread over many batches."""
    return pa.table({
        "id": pa.array([None if i % 97 == 0 else i % 150 for i in range(n)], pa.int64()),
        "version": pa.array([None if i % 13 == 0 else i % 7 for i in range(n)], pa.int64()),
        "status": [" placed" if i % 3 else "LOST " for i in range(n)],
        "day": [f"{1 + i % 28:02d}/11/2026" if i % 41 else "31/02/2026" for i in range(n)],
        "customer_id": pa.array([i % 12 for i in range(n)], pa.int64()),
        "_origin": [None if i % 50 == 7 else f"f.csv:{i + 2}" for i in range(n)],
    })


SPEC = """
pipeline: demo
sources:
  - {name: s, type: s3, uri: x, format: csv, columns: {id: int64}}
  - {name: customers, type: s3, uri: c, format: csv, columns: {customer_id: int64}}
transform: {sql: demo.sql}
quality:
  max_quarantine_ratio: 1
  corrections:
    - {trim: status}
    - {case: {columns: status, to: lower}}
    - {cast: {column: day, to: date, format: '%d/%m/%Y'}}
    - {dedupe: {key: [id], keep_latest_by: version}}
  rules:
    - {check: unique, columns: [customer_id, version]}
    - {check: accepted_values, column: status, values: [placed]}
    - {check: references, column: customer_id, source: customers, source_column: customer_id}
    - {check: not_null, column: id, severity: warn}
    - {check: freshness, column: day, max_age_hours: 1, severity: warn}
targets: [{name: t, type: lake_parquet, uri: y}]
"""


def _validate(tmp_path: Path, batch_rows: int, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict[str, list]]:
    monkeypatch.setattr(storage, "BATCH_ROWS", batch_rows)
    layout = RunLayout(str(tmp_path / str(batch_rows)), "demo", "r1")
    rows = _rows()
    for start in range(0, N, 64):  # several files of several row groups, like a Spark transform's output
        storage.write_parquet(storage.join(layout.transformed, f"part-{start:05d}.parquet"), rows.slice(start, 64))
    storage.write_parquet(storage.join(layout.staged_source("customers"), "part-0.parquet"), pa.table({"customer_id": list(range(10))}))
    extracted = [{"source": "s", "rows_read": N + 3, "rows_staged": N, "rows_rejected": 3}]
    result = validate_run(parse_spec(SPEC, "demo.yaml"), layout, extracted, run_date=dt.date(2026, 12, 5)).to_dict()
    result.pop("quarantine_uri")
    files = {name: pq.read_table(layout.quarantine(name)).to_pylist() for name in ("validate", "warned", "dedupe")}
    files["valid"] = storage.read_parquet(layout.validated).to_pylist()
    return result, files


def test_validate_in_small_batches_matches_one_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, whole_files = _validate(tmp_path, 10_000, monkeypatch)
    assert whole["deduplicated"] and whole["quarantined"] > 3 and whole["warned"] and whole["warnings"]
    reasons = [r["_reasons"] for r in whole_files["validate"] + whole_files["dedupe"]]
    assert any(" repeats f.csv:" in r for r in reasons) and any("superseded by f.csv:" in r for r in reasons)
    assert any(r["_origin"] is None for r in whole_files["validate"] + whole_files["dedupe"] + whole_files["valid"])
    for batch_rows in (1, 7, 64):
        streamed, files = _validate(tmp_path, batch_rows, monkeypatch)
        assert streamed == whole
        assert files == whole_files


def test_aggregates_from_partial_batches_equal_one_pass() -> None:
    rows = pa.table({
        "g": pa.array([i % 5 if i % 11 else None for i in range(1000)], pa.int64()),
        "n": pa.array([None if i % 17 == 0 else i % 23 for i in range(1000)], pa.int32()),
        "d": pa.array([None if i % 19 == 0 else Decimal(i % 37) / 8 for i in range(1000)], pa.decimal128(18, 3)),
    })
    target = AggregateTarget.model_validate({
        "name": "a", "type": "lake_aggregate", "uri": "x", "group_by": ["g"],
        "aggregates": [{"function": "count", "name": "rows"}, {"column": "n", "function": "count", "name": "ns"},
                       {"column": "n", "function": "sum", "name": "n_sum"}, {"column": "n", "function": "mean", "name": "n_mean"},
                       {"column": "d", "function": "sum", "name": "d_sum"}, {"column": "d", "function": "mean", "name": "d_mean"},
                       {"column": "d", "function": "min", "name": "d_min"}, {"column": "n", "function": "max", "name": "n_max"},
                       {"column": "n", "function": "count_distinct", "name": "n_distinct"}],
    })
    expected = rows.group_by(["g"], use_threads=False).aggregate([
        ([], "count_all"), ("n", "count"), ("n", "sum"), ("n", "mean"), ("d", "sum"), ("d", "mean"), ("d", "min"), ("n", "max"),
        ("n", "count_distinct")]).sort_by([("g", "ascending")])
    batched = Rows(rows.schema, rows.num_rows, lambda columns: iter(rows.select(columns).to_batches(max_chunksize=13)))
    got = aggregate_rows(batched, target)
    assert got.column_names == ["g", "rows", "ns", "n_sum", "n_mean", "d_sum", "d_mean", "d_min", "n_max", "n_distinct"]
    arrow_names = ["g", "count_all", "n_count", "n_sum", "n_mean", "d_sum", "d_mean", "d_min", "n_max", "n_count_distinct"]
    for name, arrow_name in zip(got.column_names, arrow_names):
        assert got.column(name).to_pylist() == expected.column(arrow_name).to_pylist(), name
        assert got.schema.field(name).type == expected.schema.field(arrow_name).type, name


def test_validate_memory_is_bounded_by_the_batch_not_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """300k wide rows through Validate in 10k-row batches: Arrow's peak stays far below the run's size."""
    monkeypatch.setattr(storage, "BATCH_ROWS", 10_000)
    n = 300_000
    rows = pa.table({"id": pa.array(range(n), pa.int64()), "text": pa.array([f"row {i:06d} " + "x" * 80 for i in range(n)])})
    layout = RunLayout(str(tmp_path), "demo", "r1")
    Path(layout.transformed).mkdir(parents=True)
    with pq.ParquetWriter(storage.join(layout.transformed, "part-0.parquet"), rows.schema) as writer:
        for batch in rows.to_batches(max_chunksize=10_000):
            writer.write_batch(batch)
    size = rows.nbytes
    del rows
    spec = parse_spec(SPEC.split("quality:")[0] + "quality: {rules: [{check: not_null, column: id}]}\n"
                      "targets: [{name: t, type: lake_parquet, uri: y}]\n", "demo.yaml")
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        result = validate_run(spec, layout, [{"source": "s", "rows_read": n, "rows_staged": n, "rows_rejected": 0}])
    finally:
        pa.set_memory_pool(previous)
    assert result.valid == n
    assert pool.max_memory() < size / 5, f"Arrow peak {pool.max_memory():,} bytes for a {size:,}-byte run"


@pytest.mark.parametrize("bad_at", [None, 0, 50, 99])
def test_valid_rows_are_the_transformed_rows_less_the_quarantined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_at: int | None) -> None:
    """Batches that pass unchanged are not re-encoded: a clean run publishes the transformed object
    itself; a run that quarantines a row writes the rows before it from the transformed object."""
    rows = pa.table({"id": pa.array(range(100), pa.int64()), "status": ["lost" if i == bad_at else "placed" for i in range(100)],
                     "_origin": [f"f.csv:{i + 2}" for i in range(100)]})
    spec = parse_spec(SPEC.split("quality:")[0] + "quality: {max_quarantine_ratio: 1, rules: [{check: accepted_values, column: status, "
                      "values: [placed]}]}\ntargets: [{name: t, type: lake_parquet, uri: y}]\n", "demo.yaml")
    results = {}
    for batch_rows in (7, 10_000):
        monkeypatch.setattr(storage, "BATCH_ROWS", batch_rows)
        layout = RunLayout(str(tmp_path / str(batch_rows)), "demo", "r1")
        storage.write_parquet(storage.join(layout.transformed, "part-0.parquet"), rows)
        result = validate_run(spec, layout, [{"source": "s", "rows_read": 100, "rows_staged": 100, "rows_rejected": 0}])
        kept = [r for i, r in enumerate(rows.to_pylist()) if i != bad_at]
        assert storage.read_parquet(layout.validated).to_pylist() == kept
        assert result.valid == len(kept) and result.quarantined == 100 - len(kept)
        same = Path(layout.validated, "part-0.parquet").samefile(Path(layout.transformed, "part-0.parquet"))
        assert same == (bad_at is None)
        results[batch_rows] = result.fingerprint
    assert results[7] == results[10_000]


def test_a_sink_writes_in_order_and_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    """Writes run on the sink's own thread: the batches still land in order, and an error there
    reaches the stage (at a later write or at close) with no object or temporary file left."""
    schema = pa.schema([("n", pa.int64())])
    good = tmp_path / "good" / "part-0.parquet"
    with storage.ParquetSink(str(good), schema) as sink:
        for start in range(0, 1000, 10):
            sink.write(pa.table({"n": pa.array(range(start, start + 10), pa.int64())}))
    assert pq.read_table(good).column("n").to_pylist() == list(range(1000))
    bad = tmp_path / "bad" / "part-0.parquet"
    with pytest.raises(pa.ArrowInvalid):
        with storage.ParquetSink(str(bad), schema) as sink:
            sink.write(pa.table({"n": pa.array(["1", "2"])}))
            sink.write(pa.table({"n": pa.array(["not a number"])}))  # cast to int64 fails on the sink's thread
    assert not bad.parent.exists()


def test_a_sink_packs_integer_stored_columns_and_reads_back_the_same_rows(tmp_path: Path) -> None:
    """Integers, dates, times, timestamps, durations and decimals of up to 18 digits are written
    DELTA_BINARY_PACKED, every other column PLAIN: pyarrow (as the stages read it) and DuckDB (as
    Transform reads it) get the same types and values, nulls and extremes included, in order."""
    n = 3000
    rows = pa.table({
        "i8": pa.array([None if i % 7 == 0 else (i % 256) - 128 for i in range(n)], pa.int8()),
        "key": pa.array([i * 4 - 2**62 if i % 11 else 2**63 - 1 for i in range(n)], pa.int64()),
        "u": pa.array([None if i % 5 == 0 else 2**64 - 1 - i for i in range(n)], pa.uint64()),
        "day": pa.array([None if i % 9 == 0 else dt.date(1900, 1, 1) + dt.timedelta(days=i * 17) for i in range(n)]),
        "at": pa.array([i * 1_000_003 - 10**12 for i in range(n)], pa.timestamp("us", tz="UTC")),
        "clock": pa.array([i * 997 for i in range(n)], pa.time64("us")),
        "took": pa.array([None if i % 3 else -i for i in range(n)], pa.duration("ms")),
        "qty": pa.array([Decimal(i % 50) + Decimal("0.25") for i in range(n)], pa.decimal128(10, 2)),
        "price": pa.array([None if i % 13 == 0 else Decimal(i * 7919) / 100 - Decimal("99999999999999.99") for i in range(n)], pa.decimal128(18, 2)),
        "wide": pa.array([Decimal(i) * 10**20 for i in range(n)], pa.decimal128(38, 0)),
        "_origin": [f"s3://b/raw/f.csv:{i + 2}" for i in range(n)],
    })
    path = tmp_path / "t" / "part-0.parquet"
    with storage.ParquetSink(str(path), rows.schema) as sink:
        for start in range(0, n, 700):
            sink.write(rows.slice(start, 700))
    chunk = pq.read_metadata(path).row_group(0)
    encodings = {chunk.column(i).path_in_schema: chunk.column(i).encodings for i in range(chunk.num_columns)}
    plain = {"wide", "_origin"}
    assert all(("DELTA_BINARY_PACKED" in e) == (name not in plain) and ("PLAIN" in e) == (name in plain) for name, e in encodings.items())
    parts = storage.ParquetParts(str(path.parent), batch_rows=500)
    assert parts.schema.equals(rows.schema)
    back = pa.concat_tables(parts.batches())
    assert back.schema.equals(rows.schema) and back.equals(rows)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    assert duck.sql(f"SELECT * FROM read_parquet('{path}')").arrow().read_all().cast(rows.schema).equals(rows)


def test_reading_staged_parquet_holds_a_row_group_not_the_object(tmp_path: Path) -> None:
    """pyarrow's pre-buffering keeps what one reader read until it ends: one reader per row group,
    so reading a run's rows holds about one row group, however many the object has."""
    rows = pa.table({"text": pa.array([os.urandom(48).hex() for _ in range(200_000)])})  # incompressible
    path = tmp_path / "t" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(rows, path, row_group_size=5_000, compression="zstd")
    del rows
    size = path.stat().st_size
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        seen = sum(batch.num_rows for batch in storage.ParquetParts(str(path.parent)).batches())
    finally:
        pa.set_memory_pool(previous)
    assert seen == 200_000
    assert pool.max_memory() < size / 4, f"Arrow peak {pool.max_memory():,} bytes reading a {size:,}-byte object"


LAZY_RULES = """quality:
  max_quarantine_ratio: 1
  rules:
    - {check: accepted_values, column: status, values: [" placed"]}
    - {check: not_null, column: id, severity: warn}
    - {check: range, column: version, min: 1}
targets: [{name: t, type: lake_parquet, uri: y}]
"""


@pytest.mark.parametrize("objects", [1, 3])
def test_origins_read_only_for_batches_that_show_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, objects: int) -> None:
    """Without corrections or unique rules Validate reads ``_origin`` only for batches with a row
    quarantined, warned or failed (or once the valid rows are being written): the counts,
    fingerprint, quarantine and valid rows are those of reading every column of every batch,
    in one object or several, for batches that cut row groups anywhere."""
    from etl_core import quality

    spec = parse_spec(SPEC.split("quality:")[0] + LAZY_RULES, "demo.yaml")
    assert quality._origin_unread(spec, _rows().schema)
    rows = _rows()
    clean = rows.slice(0, 0)
    for i in range(N):  # long runs of clean batches between the bad rows
        row = rows.slice(i, 1)
        if i % 97 and i % 13 and i % 3 and i not in (5, 111, 250):
            clean = pa.concat_tables([clean, row])
    mixed = pa.concat_tables([clean.slice(0, 150), rows.slice(0, 40), clean.slice(150, 60), rows.slice(90, 10), clean.slice(210)])

    def run(batch_rows: int, lazy: bool) -> tuple[dict, dict[str, list]]:
        monkeypatch.setattr(storage, "BATCH_ROWS", batch_rows)
        monkeypatch.setattr(quality, "_origin_unread", lambda spec, schema: lazy)
        layout = RunLayout(str(tmp_path / f"{batch_rows}-{lazy}"), "demo", "r1")
        step = -(-mixed.num_rows // objects)
        for n, start in enumerate(range(0, mixed.num_rows, step)):
            Path(layout.transformed).mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(storage.join(layout.transformed, f"part-{n}.parquet"), mixed.schema) as writer:
                writer.write_table(mixed.slice(start, step), row_group_size=23)
        n = mixed.num_rows
        result = validate_run(spec, layout, [{"source": "s", "rows_read": n, "rows_staged": n, "rows_rejected": 0}]).to_dict()
        result.pop("quarantine_uri")
        files = {name: pq.read_table(layout.quarantine(name)).to_pylist() for name in ("validate", "warned")}
        files["valid"] = storage.read_parquet(layout.validated).to_pylist()
        return result, files

    whole, whole_files = run(10_000, lazy=False)
    assert whole["quarantined"] and whole["warned"] and all(any(r["_origin"] for r in whole_files[f]) for f in ("validate", "warned"))
    for batch_rows in (1, 7, 64, 10_000):
        assert run(batch_rows, lazy=True) == (whole, whole_files)


def test_parts_read_from_any_row_and_any_rows_of_a_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``batches(start=)`` and ``rows`` across objects and row groups give the rows of the whole run at those places."""
    monkeypatch.setattr(storage, "BATCH_ROWS", 7)
    rows = _rows(100)
    for n, start in enumerate(range(0, 100, 40)):
        Path(tmp_path, "t").mkdir(exist_ok=True)
        pq.write_table(rows.slice(start, 40), tmp_path / "t" / f"part-{n}.parquet", row_group_size=9)
    parts = storage.ParquetParts(str(tmp_path / "t"))
    for start in (0, 1, 8, 9, 39, 40, 41, 99, 100):
        read = list(parts.batches(["id", "_origin"], start))
        assert pa.concat_tables([parts.schema.empty_table().select(["id", "_origin"]), *read]) == rows.select(["id", "_origin"]).slice(start)
        assert all(batch.num_rows <= 7 for batch in read)
        for count in (0, 1, 9, 30):
            assert parts.rows("_origin", start, count) == rows.column("_origin").slice(start, count).combine_chunks()


def test_rows_of_consecutive_batches_decode_their_row_group_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch after batch of one large row group (Spark's are about a million rows), ``rows`` decodes
    the group's column once, not once per batch, and still gives each batch its own rows."""
    rows = _rows(100)
    Path(tmp_path, "t").mkdir()
    pq.write_table(rows, tmp_path / "t" / "part-0.parquet", row_group_size=60)  # groups of 60 and 40 rows
    decoded: list[int] = []
    read_row_group = pq.ParquetFile.read_row_group

    def counted(self, group, *args, **kwargs):
        decoded.append(group)
        return read_row_group(self, group, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counted)
    parts = storage.ParquetParts(str(tmp_path / "t"))
    for first in range(0, 100, 7):
        assert parts.rows("_origin", first, 7) == rows.column("_origin").slice(first, 7).combine_chunks()
    assert decoded == [0, 1]  # the batch across both groups (56..62) reads group 1 once, and 63.. reuses it
    assert parts.rows("id", 0, 3) == rows.column("id").slice(0, 3).combine_chunks() and decoded == [0, 1, 0]


def test_a_sink_rolls_to_objects_that_read_back_in_order_and_a_failure_leaves_none(tmp_path: Path) -> None:
    """Past ``row_groups_per_object`` row groups a sink begins its next object (its writer's
    metadata then stays bounded); the objects' names sort in the order written, so reading the
    prefix gives the rows in order; a failure after rolling leaves no object and no temporary file."""
    schema = pa.schema([("n", pa.int64())])
    root = tmp_path / "t"
    with storage.ParquetSink(str(root / "part-0.parquet"), schema, row_groups_per_object=3) as sink:
        for start in range(0, 1000, 10):
            sink.write(pa.table({"n": pa.array(range(start, start + 10), pa.int64())}))
    names = sorted(p.name for p in root.iterdir())
    assert names[:3] == ["part-0.parquet", "part-0.r000001.parquet", "part-0.r000002.parquet"] and len(names) == 34
    assert names[-1] == "part-0.r000033.parquet" and storage.rolled_name("x/part-0.parquet", 33) == "x/part-0.r000033.parquet"
    assert [pq.read_metadata(root / name).num_row_groups for name in names] == [3] * 33 + [1]
    parts = storage.ParquetParts(str(root))
    assert pa.concat_tables(parts.batches()).column("n").to_pylist() == list(range(1000))
    bad = tmp_path / "bad" / "part-0.parquet"
    with pytest.raises(pa.ArrowInvalid):
        with storage.ParquetSink(str(bad), schema, row_groups_per_object=1) as sink:
            for _ in range(3):
                sink.write(pa.table({"n": pa.array([1, 2], pa.int64())}))
            sink.write(pa.table({"n": pa.array(["not a number"])}))
    assert not bad.parent.exists()


@pytest.mark.parametrize("bad_at", [None, 50])
def test_valid_rows_of_several_transformed_objects_replace_every_earlier_valid_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_at: int | None) -> None:
    """A transform written as several objects (rolled, or Spark's parts) is published object by
    object when no row changes (each valid object is its transformed one), else rewritten; either
    way the valid prefix holds exactly this attempt's rows: an object an earlier attempt left
    there, which this one does not write, is gone."""
    monkeypatch.setattr(storage, "BATCH_ROWS", 7)
    rows = pa.table({"id": pa.array(range(100), pa.int64()), "status": ["lost" if i == bad_at else "placed" for i in range(100)],
                     "_origin": [f"f.csv:{i + 2}" for i in range(100)]})
    spec = parse_spec(SPEC.split("quality:")[0] + "quality: {max_quarantine_ratio: 1, rules: [{check: accepted_values, column: status, "
                      "values: [placed]}]}\ntargets: [{name: t, type: lake_parquet, uri: y}]\n", "demo.yaml")
    layout = RunLayout(str(tmp_path), "demo", "r1")
    with storage.ParquetSink(storage.join(layout.transformed, "part-0.parquet"), rows.schema, row_groups_per_object=4) as sink:
        for start in range(0, 100, 10):
            sink.write(rows.slice(start, 10))
    transformed = sorted(p.name for p in Path(layout.transformed).iterdir())
    assert len(transformed) == 3
    storage.write_parquet(storage.join(layout.validated, "part-0.r000009.parquet"), rows.slice(0, 5))  # a longer attempt's leftover
    result = validate_run(spec, layout, [{"source": "s", "rows_read": 100, "rows_staged": 100, "rows_rejected": 0}])
    kept = [r for i, r in enumerate(rows.to_pylist()) if i != bad_at]
    assert storage.read_parquet(layout.validated).to_pylist() == kept and result.valid == len(kept)
    assert sum(batch.num_rows for batch in Rows.validated(layout.validated, "r1").batches()) == len(kept)
    valid = sorted(p.name for p in Path(layout.validated).iterdir())
    assert "part-0.r000009.parquet" not in valid
    if bad_at is None:
        assert valid == transformed
        assert all(Path(layout.validated, n).samefile(Path(layout.transformed, n)) for n in valid)
