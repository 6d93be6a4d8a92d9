"""Load: write one run's valid rows into one target, so that re-running replaces, never duplicates.

One loader per target type, registered in ``LOADERS`` under the spec's ``type``. Loaders
that need a driver or an SDK import it when called: psycopg ships only in the load
function's package, and the lake targets must work without either.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa

from etl_core import storage
from etl_core.layout import RunLayout
from etl_core.load.lake import write_aggregate, write_partitioned
from etl_core.settings import Settings
from etl_core.spec import PipelineSpec, expand

RUN_COLUMN = "etl_run_id"


@dataclass(frozen=True)
class LoadContext:
    spec: PipelineSpec
    layout: RunLayout
    settings: Settings

    def uri(self, template: str) -> str:
        return expand(template, lake_uri=self.layout.lake_uri, raw_uri=self.settings.raw_uri, pipeline=self.spec.pipeline)


def publishable(table: pa.Table, run_id: str) -> pa.Table:
    """Drop pipeline-internal columns (``_origin`` ...) and stamp the run for lineage."""
    kept = table.select([c for c in table.column_names if not c.startswith("_")])
    return kept.append_column(RUN_COLUMN, pa.array([run_id] * kept.num_rows, pa.string()))


def _lake_parquet(rows: pa.Table, target: Any, ctx: LoadContext) -> dict:
    uri = ctx.uri(target.uri)
    return {"rows": write_partitioned(rows, uri, target.partition_by, ctx.layout.run_id), "uri": uri}


def _lake_aggregate(rows: pa.Table, target: Any, ctx: LoadContext) -> dict:
    uri = ctx.uri(target.uri)
    return {"rows": rows.num_rows, "groups": write_aggregate(rows, uri, target, ctx.layout.run_id), "uri": uri}


def _postgres(rows: pa.Table, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.postgres import upsert

    return {"rows": upsert(rows, target, ctx.settings), "table": target.table}


def _redshift(rows: pa.Table, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.redshift import merge_into_redshift

    return merge_into_redshift(rows, target, ctx.layout)


def _dynamodb(rows: pa.Table, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.dynamodb import write_items

    return {"rows": write_items(rows, target), "table": target.table}


#: The spec's target ``type`` -> its loader: (publishable rows, target model, context) -> result fields.
LOADERS: dict[str, Callable[[pa.Table, Any, LoadContext], dict]] = {
    "lake_parquet": _lake_parquet,
    "lake_aggregate": _lake_aggregate,
    "postgres": _postgres,
    "redshift": _redshift,
    "dynamodb": _dynamodb,
}


def load_target(spec: PipelineSpec, target_name: str, layout: RunLayout, settings: Settings) -> dict:
    target = spec.target(target_name)
    rows = publishable(storage.read_parquet(layout.validated), layout.run_id)
    result = LOADERS[target.type](rows, target, LoadContext(spec, layout, settings))
    return {"target": target.name, "type": target.type, **result}
