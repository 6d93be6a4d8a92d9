"""Key sets out of core (etl_core.keysets): unique, dedupe, references and count_distinct over a
run whose keys exceed DuckDB's memory limit complete with exact results, while memory stays at
a batch's size, never the run's keys (each test fails on the in-memory key sets of 8f66e0c)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from etl_core import storage
from etl_core.keysets import key_sets
from etl_core.layout import RunLayout
from etl_core.quality import validate_run
from etl_core.settings import Settings
from etl_core.spec import parse_spec

N = 1_500_000
#: Rows whose id repeats the row ``REPEAT_GAP`` before it, and rows whose customer is unknown.
REPEAT_GAP, REPEAT_EVERY, UNKNOWN_EVERY = 1_000, 50_000, 30_000

SPEC = """
pipeline: keys
sources:
  - {name: s, type: s3, uri: x, format: csv, columns: {id: int64}}
  - {name: customers, type: s3, uri: c, format: csv, columns: {customer_id: int64}}
transform: {sql: keys.sql}
quality:
  max_quarantine_ratio: 1
  corrections:
    - {dedupe: {key: [order_id, line]}}
  rules:
    - {check: unique, columns: [id]}
    - {check: references, column: customer_id, source: customers, source_column: customer_id}
targets: [{name: t, type: lake_parquet, uri: y}]
"""


#: Proxy pools stay alive: buffers allocated through one (etl_core.arrays' cached positions) outlive the test.
_POOLS: list[pa.MemoryPool] = []


def _arrow_peak(run) -> tuple[object, int]:
    """What ``run`` returns, and the peak of Arrow's memory while it ran."""
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    _POOLS.append(pool)
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        return run(), pool.max_memory()
    finally:
        pa.set_memory_pool(previous)


def _ids() -> pa.Array:
    ids = pc.add(pa.array(range(N), pa.int64()), 10 * N)
    repeats = [i for i in range(REPEAT_GAP, N, REPEAT_EVERY)]
    values = ids.to_pylist()
    for i in repeats:
        values[i] = values[i - REPEAT_GAP]
    return pa.array(values, pa.int64())


def test_validate_judges_keys_beyond_duckdbs_memory_limit_with_arrow_at_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1.5 M distinct keys per rule against a 64 MB limit: DuckDB spills; Arrow holds no run-wide key set."""
    monkeypatch.setattr(storage, "BATCH_ROWS", 16_384)
    monkeypatch.setenv("SPILL_MEMORY_MB", "64")
    monkeypatch.setenv("SPILL_DIR", str(tmp_path / "spill"))
    (tmp_path / "spill").mkdir()
    layout = RunLayout(str(tmp_path / "lake"), "keys", "r1")
    Path(layout.transformed).mkdir(parents=True)
    rows = pa.table({
        "id": _ids(),
        "order_id": pa.array(range(N), pa.int64()),  # every (order_id, line) distinct: dedupe removes nothing
        "line": pa.array([1] * N, pa.int32()),
        "customer_id": pa.array([-1 if i % UNKNOWN_EVERY == 7 else i % 500_000 for i in range(N)], pa.int64()),
    })
    with pq.ParquetWriter(storage.join(layout.transformed, "part-0.parquet"), rows.schema) as writer:
        for batch in rows.to_batches(max_chunksize=16_384):
            writer.write_batch(batch)
    keys_bytes = rows.column("id").nbytes
    del rows
    storage.write_parquet(storage.join(layout.staged_source("customers"), "part-0.parquet"),
                          pa.table({"customer_id": pa.array(range(500_000), pa.int64())}))
    extracted = [{"source": "s", "rows_read": N, "rows_staged": N, "rows_rejected": 0}]

    result, peak = _arrow_peak(lambda: validate_run(parse_spec(SPEC, "keys.yaml"), layout, extracted))

    repeated = len(range(REPEAT_GAP, N, REPEAT_EVERY))
    unknown = len(range(7, N, UNKNOWN_EVERY))
    assert (result.quarantined, result.deduplicated, result.valid) == (repeated + unknown, 0, N - repeated - unknown)
    reasons = pq.read_table(layout.quarantine("validate")).column("_reasons").to_pylist()
    assert f"unique(id): {10 * N} repeats row 1 [quarantine]" in reasons
    assert sum("references(customer_id): -1 not in customers.customer_id" in r for r in reasons) == unknown
    # In-memory key sets held every key with its row number: 137-174 MB of Arrow here. Batches of
    # 16k rows (read one row group ahead, written 128k rows at a time) take 2-7 MB.
    assert peak < keys_bytes, f"Arrow peak {peak:,} bytes for {keys_bytes:,} bytes of keys"
    assert not any((tmp_path / "spill").iterdir()), "the key sets' folder outlives the run"


_COUNT_DISTINCT = """
import resource, sys
import duckdb  # noqa: F401 - loaded before the baseline, as any run with count_distinct loads it
import pyarrow as pa, pyarrow.compute as pc
from etl_core.arrays import positions
from etl_core.load.aggregates import aggregate_rows
from etl_core.load.rows import Rows
from etl_core.spec.targets import AggregateTarget
n = int(sys.argv[1])
schema = pa.schema([("g", pa.int64()), ("v", pa.int64())])
def batches(columns):  # made batch by batch: the input never sits in memory
    for start in range(0, n, 65536):
        v = positions(start, min(n, start + 65536) - start)
        yield pa.record_batch([pc.bit_wise_and(v, 3), v], schema=schema).select(columns)
target = AggregateTarget.model_validate({"name": "a", "type": "lake_aggregate", "uri": "x", "group_by": ["g"],
                                         "aggregates": [{"column": "v", "function": "count_distinct", "name": "vs"}]})
aggregate_rows(Rows(schema, 1, lambda columns: iter([])), target)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
counts = aggregate_rows(Rows(schema, n, batches), target).column("vs").to_pylist()
print(counts, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


def test_count_distinct_of_4m_values_grows_a_process_by_far_less_than_its_pairs(tmp_path: Path) -> None:
    """4 M distinct values in 4 groups under a 64 MB limit, in a child process: exact counts, and its
    peak RSS grows by under 200 MB (the in-memory pairs grew it by 393 MB)."""
    env = {**os.environ, "SPILL_MEMORY_MB": "64", "SPILL_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _COUNT_DISTINCT, "4000000"], capture_output=True, text=True, env=env, check=True)
    counts, growth_mb = done.stdout.strip().rsplit(" ", 1)
    assert counts == "[1000000, 1000000, 1000000, 1000000]"
    assert int(growth_mb) < 200, f"peak RSS grew by {growth_mb} MB"


def test_a_key_set_spills_rather_than_failing_at_its_limit(tmp_path: Path) -> None:
    """A hash aggregate over 3 M distinct keys (about 100 MB) completes inside a 64 MB limit."""
    settings = Settings.from_env()
    settings = Settings(**{**settings.__dict__, "spill_memory_mb": 64, "spill_dir": str(tmp_path)})
    with key_sets(settings) as sets:
        for start in range(0, 3_000_000, 100_000):
            sets.append("k", pa.table({"key": pa.array(range(start, start + 100_000), pa.int64())}))
        (count,) = sets.rows('SELECT count(*) FROM (SELECT c0 FROM "k" GROUP BY c0)')
        assert list(count) == [3_000_000]
        (limit,), = sets.con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit.replace(" ", "") in ("61.0MiB", "64.0MiB", "64MB"), limit
