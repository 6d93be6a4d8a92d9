"""The semi-structured path: nested JSON columns expanded into plain columns before the SQL.

A source column declared ``json`` lands in staging as JSON text. Flatten rewrites each such
staged source with one extra text column per leaf path, named ``<column>__<key>__<key>``
(double underscores, because a dot would need engine-specific quoting in DuckDB and Spark),
so the spec's SQL can select and cast leaves like any column. Arrays stay JSON text.
Two streaming passes (find the paths, then write) keep memory bounded by one batch.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from aws_lambda_powertools import Logger, Tracer

from etl_core import storage
from etl_core.layout import RunLayout
from etl_core.spec import PipelineSpec

logger = Logger(child=True)
tracer = Tracer()

SEPARATOR = "__"


def leaves(value: Any, prefix: str) -> Iterator[tuple[str, str | None]]:
    """Every leaf of a parsed JSON value as (column name, text)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}{SEPARATOR}{key}")
    elif value is None or isinstance(value, str):
        yield prefix, value
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    elif isinstance(value, list):
        yield prefix, json.dumps(value, separators=(",", ":"))
    else:
        yield prefix, str(value)


def _batches(uri: str) -> Iterator[pa.RecordBatch]:
    fs, path = storage.resolve(uri)
    with fs.open_input_file(path) as handle:
        yield from pq.ParquetFile(handle).iter_batches(batch_size=64 * 1024)


def flatten_source(uri: str, json_columns: list[str]) -> list[str]:
    """Rewrite one staged Parquet object with its JSON columns expanded; returns the new columns."""
    paths: dict[str, None] = {}
    for batch in _batches(uri):
        for column in json_columns:
            for text in batch.column(column).to_pylist():
                if text is not None:
                    for name, _ in leaves(json.loads(text), column):
                        paths.setdefault(name)
    new_columns = [p for p in paths if p not in json_columns]
    schema = None
    sink = None
    try:
        for batch in _batches(uri):
            values: dict[str, list[str | None]] = {name: [None] * batch.num_rows for name in new_columns}
            for column in json_columns:
                for row, text in enumerate(batch.column(column).to_pylist()):
                    if text is not None:
                        for name, leaf in leaves(json.loads(text), column):
                            if name in values:
                                values[name][row] = leaf
            table = pa.Table.from_batches([batch])
            table = table.drop_columns([n for n in new_columns if n in table.column_names])  # a re-run recomputes
            for name in new_columns:
                table = table.append_column(name, pa.array(values[name], pa.string()))
            if sink is None:
                schema = table.schema
                sink = storage.ParquetSink(uri, schema)
            sink.write(table)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    if sink is not None:
        sink.close()
    return new_columns


@tracer.capture_method
def flatten_run(spec: PipelineSpec, layout: RunLayout) -> dict[str, list[str]]:
    """Flatten every staged source that has ``json`` columns; returns the columns added per source."""
    added = {}
    for source in spec.sources:
        json_columns = [name for name, type_name in source.columns.items() if type_name == "json"]
        if json_columns:
            uri = storage.join(layout.staged_source(source.name), "part-0.parquet")
            added[source.name] = flatten_source(uri, json_columns)
            logger.info("json columns flattened", extra={"source": source.name, "columns_added": len(added[source.name])})
    return added
