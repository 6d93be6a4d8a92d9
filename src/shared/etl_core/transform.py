"""Transform on the single-node engine: the spec's SQL over the staged sources, in DuckDB.

The Glue job (glue/etl_transform.py) runs the very same SQL text from the run manifest on
Spark; the SQL must therefore stay in the dialect both engines share.

DuckDB reads the staged Parquet with its own reader, from local files: scanning through a
pyarrow dataset instead kept most of the input alive (1.9 GB peak for 6M rows against
~0.3 GB). On Lambda the staged objects are first streamed to /tmp, which is sized for this
engine's inputs: anything larger than the Glue threshold goes to Spark instead.
"""
from __future__ import annotations

import os
import tempfile
from typing import Callable

import duckdb
import pyarrow as pa
from aws_lambda_powertools import Logger, Tracer

from etl_core import storage
from etl_core.errors import SourceError

logger = Logger(child=True)
tracer = Tracer()

TRANSFORMED_FILE = "part-0.parquet"


#: (output shape, each source's staged shape) -> None, or a SpecError: checked before anything is written.
OutputCheck = Callable[[pa.Schema, dict[str, pa.Schema]], None]


def query_threads() -> int:
    """DuckDB's threads: every core but one, which the output's Parquet encoding (ParquetSink's
    thread) keeps busy. On 2 cores (scale 1, interleaved) one DuckDB thread beside the sink took
    about 7% less CPU and 30 MB less memory than two threads contending with it, and no longer."""
    return max(1, (os.cpu_count() or 1) - 1)


@tracer.capture_method
def run_transform(manifest: dict, check: OutputCheck | None = None) -> int:
    """Run the manifest's SQL and write ``transformed/part-0.parquet`` (and, past
    ``storage.ROW_GROUPS_PER_OBJECT`` row groups, the objects after it); returns the row count."""
    with tempfile.TemporaryDirectory(prefix="etl-transform-") as workdir:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET threads = {query_threads()}")
        for name, uri in manifest["sources"].items():
            con.read_parquet(storage.local_parquet_files(uri, workdir)).create_view(name)
        try:
            reader = con.sql(manifest["transform_sql"]).to_arrow_reader(batch_size=64 * 1024)
        except duckdb.Error as exc:
            raise SourceError(f"transform SQL of pipeline {manifest['pipeline']!r} failed: {exc}") from exc
        logger.debug("transform SQL planned", extra={"sources": sorted(manifest["sources"])})
        if check is not None:
            check(reader.schema, {name: storage.ParquetParts(uri).schema for name, uri in manifest["sources"].items()})
        storage.delete_prefix(manifest["transformed_uri"])  # a previous run may have been Spark's, with other file names
        target = storage.join(manifest["transformed_uri"], TRANSFORMED_FILE)
        with storage.ParquetSink(target, reader.schema, row_groups_per_object=storage.ROW_GROUPS_PER_OBJECT) as sink:
            for batch in reader:
                sink.write(pa.Table.from_batches([batch]))
        return sink.rows

