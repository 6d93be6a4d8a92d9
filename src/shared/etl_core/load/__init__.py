"""Load: write one run's valid rows into one target, so that re-running replaces, never duplicates.

One loader per target type, registered in ``LOADERS`` under the spec's ``type``. Loaders
that need a driver or an SDK import it when called: psycopg ships only in the load
function's package, and the lake targets must work without either.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa
from aws_lambda_powertools import Logger, Tracer

from etl_core.errors import TargetError
from etl_core.layout import RunLayout
from etl_core.load.lake import write_aggregate, write_partitioned
from etl_core.load.rows import RUN_COLUMN, Rows
from etl_core.settings import Settings
from etl_core.spec import PipelineSpec, confined_uri

logger = Logger(child=True)
tracer = Tracer()

__all__ = ["LOADED", "LOADERS", "RUN_COLUMN", "LoadContext", "Rows", "load_identity", "load_target"]


@dataclass(frozen=True)
class LoadContext:
    spec: PipelineSpec
    layout: RunLayout
    settings: Settings

    def uri(self, template: str) -> str:
        """A lake target's URI, expanded and confined to the lake root (or the s3:// bucket it names)."""
        index = next(i for i, t in enumerate(self.spec.targets) if getattr(t, "uri", None) == template)
        values = {"lake_uri": self.layout.lake_uri, "raw_uri": self.settings.raw_uri, "pipeline": self.spec.pipeline}
        return confined_uri(self.spec, f"targets[{index}].uri", template, {"lake_uri": self.layout.lake_uri}, **values)


def _lake_parquet(rows: Rows, target: Any, ctx: LoadContext) -> dict:
    uri = ctx.uri(target.uri)
    return {"rows": write_partitioned(rows, uri, target.partition_by, ctx.layout.run_id), "uri": uri}


def _lake_aggregate(rows: Rows, target: Any, ctx: LoadContext) -> dict:
    uri = ctx.uri(target.uri)
    return {"rows": write_aggregate(rows, uri, target, ctx.layout.run_id), "input_rows": rows.num_rows, "uri": uri}


def _postgres(rows: Rows, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.postgres import upsert

    return {"rows": upsert(rows, target, ctx.settings, ctx.layout.run_id), "table": target.table}


def _redshift(rows: Rows, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.redshift import merge_into_redshift

    return merge_into_redshift(rows, target, ctx.layout)


def _dynamodb(rows: Rows, target: Any, ctx: LoadContext) -> dict:
    from etl_core.load.dynamodb import write_items

    return {"rows": write_items(rows, target, ctx.layout.run_id), "table": target.table}


#: The spec's target ``type`` -> its loader: (publishable rows, target model, context) -> result fields.
LOADERS: dict[str, Callable[[Rows, Any, LoadContext], dict]] = {
    "lake_parquet": _lake_parquet,
    "lake_aggregate": _lake_aggregate,
    "postgres": _postgres,
    "redshift": _redshift,
    "dynamodb": _dynamodb,
}


#: The status of a load that wrote its rows (a skipped one: etl_core.idempotency.SKIPPED).
LOADED = "loaded"


def load_identity(spec: PipelineSpec, pipeline: str, run_id: str, target_name: str, fingerprint: str) -> dict[str, str]:
    """What identifies a load: the run, the target with a hash of its definition (a changed
    aggregate or key must load again), and the fingerprint Validate gave the run's rows."""
    definition = spec.target(target_name).model_dump_json()
    return {
        "pipeline": pipeline,
        "run_id": run_id,
        "target": target_name,
        "definition": "sha256:" + hashlib.sha256(definition.encode()).hexdigest(),
        "fingerprint": fingerprint,
    }


@tracer.capture_method
def load_target(spec: PipelineSpec, target_name: str, layout: RunLayout, settings: Settings) -> dict:
    """Replace the run's rows in the target; ``rows`` is what the target holds for the run afterwards."""
    target = spec.target(target_name)
    logger.debug("loading target", extra={"target": target.name, "type": target.type})
    try:
        rows = Rows.validated(layout.validated, layout.run_id)
        result = LOADERS[target.type](rows, target, LoadContext(spec, layout, settings))
    except OSError as exc:  # a full disk, a read-only or denied folder, a damaged object: say which target, and where
        raise TargetError(f"target {target.name!r} ({target.type}): {exc.strerror or exc}") from exc
    except pa.ArrowInvalid as exc:  # an object Arrow cannot read, or a value the target's type cannot hold
        raise TargetError(f"target {target.name!r} ({target.type}): {exc}") from exc
    return {"target": target.name, "type": target.type, "status": LOADED, **result}
