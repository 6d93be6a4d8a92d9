"""Glue (Spark) transform: the pipeline's SQL over the staged sources, for inputs too big for Lambda.

The same file is the EMR Serverless job for the largest inputs (the state machine asks Glue
where `sam deploy` put it and submits it with ``--manifest_uri``).

The run manifest (written by Plan) pins the source folders, the SQL text and the output folder,
so this job needs one argument, ``--manifest_uri``, and gives the same rows as the single-node
engine (``etl_core.transform``): same SQL, same column types, same values.

The script is self-contained (Glue receives this one file, not the ``etl_core`` layer) and keeps
every Glue-only call inside ``main()``'s Glue branch, so the local runtime and the tests run the
very same file on a plain local Spark:

    python glue/etl_transform.py --JOB_NAME local --manifest_uri /lake/staging/orders/<run>/_manifest.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F

#: Settings that make Spark's output identical to the single-node engine's (DuckDB + pyarrow).
#: All are runtime SQL settings, so they apply to Glue's ready-made session as well.
PARITY_CONF: dict[str, str] = {
    # DuckDB runs with TimeZone=UTC and staged timestamps are UTC: CAST(ts AS DATE) must agree.
    "spark.sql.session.timeZone": "UTC",
    # Spark's default INT96 reads back as timestamp[ns] without a zone; MICROS with UTC
    # adjustment reads back as timestamp[us, tz=UTC], exactly what the staged data holds.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Dates and timestamps are proleptic Gregorian in pyarrow and DuckDB; never rebase them to
    # the hybrid Julian calendar, and never refuse an ancient date on write or read.
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    # Standard Parquet decimals (INT32/INT64 by precision), as pyarrow writes them, not Hive's
    # legacy layout: Spark's default, pinned so a cluster-wide setting cannot change it.
    "spark.sql.parquet.writeLegacyFormat": "false",
    # DuckDB fails on a bad cast, a decimal or integer overflow and an unparseable string;
    # Spark's non-ANSI default silently turns those into NULLs. ANSI mode fails like DuckDB.
    "spark.sql.ansi.enabled": "true",
    # The same codec as the single-node engine's Parquet files.
    "spark.sql.parquet.compression.codec": "zstd",
}


class TransformError(Exception):
    """The run cannot be transformed as planned; the message names the pipeline and the cause.

    Glue reports the exception's type and message as the job run's ErrorMessage, which the
    state machine passes to the error handler as the failure's cause.
    """


def configure(spark: SparkSession) -> SparkSession:
    """Apply :data:`PARITY_CONF` to a session someone else built (Glue's, or a test's)."""
    for key, value in PARITY_CONF.items():
        spark.conf.set(key, value)
    return spark


def local_session(app_name: str = "etl-transform") -> SparkSession:
    """A small local Spark for the local runtime and tests: two cores, no UI, few shuffle partitions."""
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    for key, value in PARITY_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read_manifest(spark: SparkSession, manifest_uri: str) -> dict:
    """The run manifest, read through Spark's Hadoop file system so ``s3://`` on Glue and local paths take the same code.

    Spark's file readers (``spark.read.text``, ``wholeTextFiles``) skip every file whose name
    starts with ``_`` or ``.``, even one named explicitly, so they cannot read ``_manifest.json``;
    the Hadoop ``FileSystem`` API behind them has no such filter.
    """
    jvm = spark.sparkContext._jvm
    try:
        path = jvm.org.apache.hadoop.fs.Path(manifest_uri)
        stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(path)
        buffer = jvm.java.io.ByteArrayOutputStream()
        jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, buffer, 1 << 16, True)
        text = buffer.toString("UTF-8")
    except Py4JError as exc:
        raise TransformError(f"cannot read the run manifest {manifest_uri}: {_reason(exc)}") from exc
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise TransformError(f"the run manifest {manifest_uri} is not JSON: {exc}") from exc
    missing = [k for k in ("pipeline", "sources", "transform_sql", "transformed_uri") if k not in manifest]
    if missing:
        raise TransformError(f"the run manifest {manifest_uri} lacks {', '.join(missing)}")
    return manifest


def _reason(exc: Exception) -> str:
    """Why Spark failed, in a line or a few: the root Java cause rather than py4j's stack report.

    A failure inside a Spark job (an overflow while writing, say) reaches Python as a
    ``Py4JJavaError`` wrapping "Job aborted" around the real cause; the root cause is what
    the error handler and the person reading the run's history need.
    """
    if isinstance(exc, Py4JJavaError):
        cause = exc.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        return str(cause.toString())
    return str(exc)


def run(spark: SparkSession, manifest_uri: str) -> int:
    """Run the manifest's SQL over its staged sources and write ``transformed_uri``; returns the row count.

    Each source becomes a temp view named after it, as the single-node engine registers each
    source as a table of that name, so the one SQL text resolves the same tables on both.
    The output folder is overwritten, so a retried or redriven run leaves exactly one result.
    """
    manifest = read_manifest(spark, manifest_uri)
    pipeline = manifest["pipeline"]
    for name, uri in manifest["sources"].items():
        try:
            spark.read.parquet(uri).createOrReplaceTempView(name)
        except (PySparkException, Py4JError) as exc:
            raise TransformError(f"pipeline {pipeline!r}: cannot read staged source {name!r} at {uri}: {_reason(exc)}") from exc
    rows = Observation("transform")
    try:
        result = spark.sql(manifest["transform_sql"])
        result.observe(rows, F.count(F.lit(1)).alias("rows")).write.mode("overwrite").parquet(
            manifest["transformed_uri"]
        )
    except (PySparkException, Py4JError) as exc:
        raise TransformError(f"transform SQL of pipeline {pipeline!r} failed: {_reason(exc)}") from exc
    return int(rows.get["rows"])


def _glue_main() -> None:
    """The Glue entry point: Glue's own argument parsing, context and job bookkeeping."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "manifest_uri"])
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    rows = run(configure(glue.spark_session), args["manifest_uri"])
    print(json.dumps({"job": args["JOB_NAME"], "manifest_uri": args["manifest_uri"], "rows": rows}))
    job.commit()


def submitted_session(app_name: str) -> SparkSession:
    """The session spark-submit prepared (EMR Serverless), with the job's parity settings."""
    builder = SparkSession.builder.appName(app_name)
    for key, value in PARITY_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _spark_main(argv: list[str]) -> None:
    """The same job outside Glue: under spark-submit (EMR Serverless) on the cluster it was
    given, as a plain ``python`` process (the local runtime, tests) on a local Spark.
    Glue's arguments are accepted and extra ones ignored, as Glue does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--JOB_NAME", default="etl-transform")
    parser.add_argument("--manifest_uri", required=True)
    args, _ = parser.parse_known_args(argv)
    under_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit's Python runner sets it
    spark = submitted_session(args.JOB_NAME) if under_spark_submit else local_session(args.JOB_NAME)
    try:
        rows = run(spark, args.manifest_uri)
    except TransformError as exc:
        sys.exit(f"{type(exc).__name__}: {exc}")
    finally:
        spark.stop()
    print(json.dumps({"job": args.JOB_NAME, "manifest_uri": args.manifest_uri, "rows": rows}))


def main() -> None:
    """Run as a Glue job where Glue's library exists, else as a plain Spark job with the same arguments."""
    try:
        import awsglue  # noqa: F401  (only present on Glue)
    except ImportError:
        _spark_main(sys.argv[1:])
    else:
        _glue_main()


if __name__ == "__main__":
    main()
