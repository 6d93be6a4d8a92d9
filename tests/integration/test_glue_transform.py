"""The Glue job script on a real local Spark gives exactly the single-node engine's rows.

The Choice state sends small runs to DuckDB in Lambda and large ones to Glue; a run must not
change its result with its size. Both engines run the same manifest (same staged Parquet, same
SQL text) and their outputs, read back with pyarrow as every later stage reads them, must agree
on columns, types and values.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from etl_core import storage
from etl_core.errors import SourceError
from etl_core.extract import ExtractContext, extract_source
from etl_core.layout import RunLayout
from etl_core.plan import RunRequest, plan_run
from etl_core.settings import Settings
from etl_core.spec import load_spec
from etl_core.transform import run_transform
from etl_local.warehouse import apply_sql

pytestmark = pytest.mark.spark

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "orders"
RUN_DATE = "2026-11-26"
#: order_id is the spec's key but the sample has duplicates (for the unique rule); _origin breaks ties.
SORT_KEYS = [("order_id", "ascending"), ("_origin", "ascending")]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[dict]:
    """Plan and extract the bundled sample into a fresh lake; return the run's manifest.

    The sample's RDS source reads the shared test PostgreSQL, seeded as the local runtime
    seeds its embedded server."""
    apply_sql(postgres_server, sorted((REPO_ROOT / "sample" / "rds").glob("*.sql")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DSN", postgres_server)
        yield _plan_and_extract(tmp_path_factory.mktemp("lake"))


def _plan_and_extract(lake: Path) -> dict:
    settings = dataclasses.replace(Settings.from_env(), lake_uri=str(lake), raw_uri=str(REPO_ROOT / "sample" / "raw"))
    run = plan_run(RunRequest(pipeline=PIPELINE, run_date=RUN_DATE), settings)
    spec = load_spec(settings.pipelines_uri, PIPELINE)
    layout = RunLayout(settings.lake_uri, PIPELINE, run["run_id"])
    for source in run["sources"]:
        extract_source(spec, source["name"], ExtractContext(source["uri"], layout, settings, run["run_date"]))
    return storage.read_json(layout.manifest)


@pytest.fixture(scope="module")
def duckdb_rows(staged: dict) -> pa.Table:
    """The single-node engine's output for the staged run: the reference Spark must reproduce."""
    run_transform(staged)
    return _sorted(storage.read_parquet(staged["transformed_uri"]))


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by(SORT_KEYS)


def _manifest_copy(manifest: dict, folder: Path, **changes: str) -> str:
    """Write a copy of the manifest next to the test's own output folder; return its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    uri = str(folder / "_manifest.json")
    storage.write_json(uri, {**manifest, "transformed_uri": str(folder / "transformed"), **changes})
    return uri


def _assert_same_rows(actual: pa.Table, expected: pa.Table) -> None:
    """Same column names in the same order, same Arrow types, same values row by row."""
    assert actual.column_names == expected.column_names
    assert [(f.name, f.type) for f in actual.schema] == [(f.name, f.type) for f in expected.schema]
    assert actual.num_rows == expected.num_rows
    for index, (got, want) in enumerate(zip(actual.to_pylist(), expected.to_pylist())):
        assert got == want, f"row {index} differs"


def test_spark_gives_the_single_node_engines_rows(
    glue_script: ModuleType, spark: SparkSession, staged: dict, duckdb_rows: pa.Table, tmp_path: Path
) -> None:
    # The sample exercises the join's edge cases: orders with no customer and repeated order ids.
    assert duckdb_rows["customer_country"].null_count > 0
    assert duckdb_rows.num_rows > len(set(duckdb_rows["order_id"].to_pylist()))

    manifest_uri = _manifest_copy(staged, tmp_path)

    rows = glue_script.run(spark, manifest_uri)

    assert rows == duckdb_rows.num_rows
    _assert_same_rows(_sorted(storage.read_parquet(str(tmp_path / "transformed"))), duckdb_rows)


def test_a_rerun_replaces_the_output(
    glue_script: ModuleType, spark: SparkSession, staged: dict, duckdb_rows: pa.Table, tmp_path: Path
) -> None:
    manifest_uri = _manifest_copy(staged, tmp_path)

    glue_script.run(spark, manifest_uri)
    rows = glue_script.run(spark, manifest_uri)

    assert rows == duckdb_rows.num_rows
    assert storage.read_parquet(str(tmp_path / "transformed")).num_rows == duckdb_rows.num_rows


def test_bad_sql_fails_naming_the_pipeline(
    glue_script: ModuleType, spark: SparkSession, staged: dict, tmp_path: Path
) -> None:
    manifest_uri = _manifest_copy(staged, tmp_path, transform_sql="SELECT no_such_column FROM orders")

    with pytest.raises(glue_script.TransformError, match=r"transform SQL of pipeline 'orders' failed") as failure:
        glue_script.run(spark, manifest_uri)

    assert "no_such_column" in str(failure.value)
    assert not (tmp_path / "transformed").exists()


def test_decimal_overflow_fails_on_both_engines(
    glue_script: ModuleType, spark: SparkSession, staged: dict, tmp_path: Path
) -> None:
    # Without ANSI mode Spark would write NULL amounts where DuckDB fails the run.
    sql = "SELECT CAST(unit_price * 1000000000000000 AS DECIMAL(18, 2)) AS amount FROM orders"
    with pytest.raises(SourceError, match="pipeline 'orders'"):
        run_transform({**staged, "transform_sql": sql, "transformed_uri": str(tmp_path / "duckdb")})

    manifest_uri = _manifest_copy(staged, tmp_path, transform_sql=sql)
    with pytest.raises(glue_script.TransformError, match="pipeline 'orders'"):
        glue_script.run(spark, manifest_uri)


def test_a_missing_manifest_is_named(glue_script: ModuleType, spark: SparkSession, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere" / "_manifest.json")

    with pytest.raises(glue_script.TransformError, match="cannot read the run manifest .*nowhere"):
        glue_script.run(spark, missing)


class _GlueStandIn:
    """Stand-ins for the ``awsglue`` modules, which cannot run outside Glue, recording the job's calls.

    They follow Glue's documented API: ``getResolvedOptions`` picks the named ``--options`` out
    of argv, ``GlueContext`` wraps the SparkContext and exposes ``spark_session``, and ``Job``
    is initialised with the job name and arguments and committed at the end.
    """

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        recorder = self

        class GlueContext:
            def __init__(self, sc: object) -> None:
                self.spark_session = SparkSession.builder.getOrCreate()

        class Job:
            def __init__(self, glue_context: GlueContext) -> None:
                pass

            def init(self, name: str, args: dict) -> None:
                recorder.calls.append(("init", name, args))

            def commit(self) -> None:
                recorder.calls.append(("commit",))

        def get_resolved_options(argv: list[str], options: list[str]) -> dict:
            return {name: argv[argv.index(f"--{name}") + 1] for name in options}

        self.modules = {
            "awsglue": ModuleType("awsglue"),
            "awsglue.context": ModuleType("awsglue.context"),
            "awsglue.job": ModuleType("awsglue.job"),
            "awsglue.utils": ModuleType("awsglue.utils"),
        }
        self.modules["awsglue.context"].GlueContext = GlueContext
        self.modules["awsglue.job"].Job = Job
        self.modules["awsglue.utils"].getResolvedOptions = get_resolved_options

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, module in self.modules.items():
            monkeypatch.setitem(sys.modules, name, module)


@pytest.fixture
def on_glue(monkeypatch: pytest.MonkeyPatch, spark: SparkSession) -> _GlueStandIn:
    """Make ``awsglue`` importable, so ``main()`` takes the Glue path over the shared session."""
    glue = _GlueStandIn()
    glue.install(monkeypatch)
    return glue


def test_on_glue_the_job_is_initialised_run_and_committed(
    glue_script: ModuleType,
    on_glue: _GlueStandIn,
    staged: dict,
    duckdb_rows: pa.Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest_uri = _manifest_copy(staged, tmp_path)
    # Glue passes its own arguments too (the template's --lake_uri default among them).
    monkeypatch.setattr(
        sys, "argv", ["etl_transform.py", "--JOB_NAME", "etl-transform", "--manifest_uri", manifest_uri, "--lake_uri", "s3://lake"]
    )

    glue_script.main()

    assert on_glue.calls == [
        ("init", "etl-transform", {"JOB_NAME": "etl-transform", "manifest_uri": manifest_uri}),
        ("commit",),
    ]
    assert storage.read_parquet(str(tmp_path / "transformed")).num_rows == duckdb_rows.num_rows


def test_on_glue_a_failed_transform_is_not_committed(
    glue_script: ModuleType, on_glue: _GlueStandIn, staged: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_uri = _manifest_copy(staged, tmp_path, transform_sql="SELECT * FROM no_such_table")
    monkeypatch.setattr(sys, "argv", ["etl_transform.py", "--JOB_NAME", "etl-transform", "--manifest_uri", manifest_uri])

    with pytest.raises(glue_script.TransformError, match="transform SQL of pipeline 'orders' failed.*no_such_table"):
        glue_script.main()

    assert [call[0] for call in on_glue.calls] == ["init"]


def test_the_command_line_runs_the_job_on_its_own_spark(
    glue_script: ModuleType, staged: dict, duckdb_rows: pa.Table, tmp_path: Path
) -> None:
    """What the local runtime does for ``glue:startJobRun.sync``: one run of the file, as Glue would."""
    manifest_uri = _manifest_copy(staged, tmp_path)

    done = subprocess.run(
        [sys.executable, glue_script.__file__, "--JOB_NAME", "local", "--manifest_uri", manifest_uri],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "job": "local",
        "manifest_uri": manifest_uri,
        "rows": duckdb_rows.num_rows,
    }
    output = tmp_path / "transformed"
    assert (output / "_SUCCESS").exists()
    _assert_same_rows(_sorted(storage.read_parquet(str(output))), duckdb_rows)
