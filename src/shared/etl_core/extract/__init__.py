"""Extract: land one source of a run as typed Parquet in staging, rejects in quarantine."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc
from aws_lambda_powertools import Logger, Tracer

from etl_core import quarantine, storage
from etl_core.arrays import positions
from etl_core.errors import InputError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.dynamodb import read_table
from etl_core.extract.files import read_files
from etl_core.extract.http_api import read_api
from etl_core.extract.inference import infer_columns
from etl_core.extract.kinesis import read_stream
from etl_core.extract.postgres import read_query
from etl_core.schema import arrow_schema, cast_text_columns
from etl_core.settings import Settings
from etl_core.spec import PipelineSpec, Source, confined_uri, expand
from etl_core.spec.paths import same_location

logger = Logger(child=True)
tracer = Tracer()

__all__ = ["CONNECTORS", "ExtractContext", "ExtractResult", "TextBatch", "checked_source_uri", "extract_source", "planned_source_uri",
           "source_uri"]

ORIGIN = pa.field("_origin", pa.string())

#: Source ``type`` in the spec -> the connector that reads it.
CONNECTORS = {"s3": read_files, "postgres": read_query, "http": read_api, "kinesis": read_stream, "dynamodb": read_table}


@dataclass(frozen=True)
class ExtractResult:
    source: str
    rows_read: int
    rows_staged: int
    rows_rejected: int
    staged_uri: str

    def to_dict(self) -> dict:
        return asdict(self)


def source_uri(source: Source, *, raw_uri: str, lake_uri: str, run_date: str) -> str:
    """Where the source reads, placeholders filled: an object URI or a URL (others name their system)."""
    return expand(source.uri, raw_uri=raw_uri, lake_uri=lake_uri, run_date=run_date)


def planned_source_uri(spec: PipelineSpec, source_name: str, settings: Settings, run_date: str) -> str:
    """Where a source of the spec reads on ``run_date``: a file source must stay under the raw root
    (or the s3:// bucket its spec names outright); a SpecError names the field otherwise."""
    index, source = next((i, s) for i, s in enumerate(spec.sources) if s.name == source_name)
    values = {"raw_uri": settings.raw_uri, "lake_uri": settings.lake_uri, "run_date": run_date}
    if source.type != "s3":
        return expand(source.uri, **values)
    return confined_uri(spec, f"sources[{index}].uri", source.uri, {"raw_uri": settings.raw_uri}, **values)


def checked_source_uri(spec: PipelineSpec, source_name: str, settings: Settings, run_date: str, given: str) -> str:
    """The event's ``source.uri`` if it is the one Plan derives from the spec, so an Extract event cannot
    point a source anywhere else (another file, another host)."""
    source = spec.source(source_name)  # SpecError naming the source when the spec has none of that name
    expected = planned_source_uri(spec, source_name, settings, run_date)
    if given != expected and not (source.type == "s3" and same_location(given, expected)):
        raise InputError(f"source.uri: {given!r} is not where source {source_name!r} of {spec.pipeline}.yaml reads ({expected!r})")
    return given


@tracer.capture_method
def extract_source(spec: PipelineSpec, source_name: str, ctx: ExtractContext) -> ExtractResult:
    """Stream the source into ``staging/.../sources/<name>/part-0.parquet``; re-running replaces it."""
    source = spec.source(source_name)
    if source.columns is None:  # a file source left to inference
        source = source.model_copy(update={"columns": infer_columns(source, ctx.uri)})
        logger.info("columns inferred from the first object", extra={"source": source_name, "columns": source.columns})
    layout = ctx.layout
    schema = arrow_schema(source.columns).append(ORIGIN)
    staged = storage.join(layout.staged_source(source_name), "part-0.parquet")
    rejects = storage.ParquetSink(layout.quarantine(f"extract-{source_name}"), quarantine.RAW_REJECT_SCHEMA)
    with rejects, storage.ParquetSink(staged, schema) as sink:
        for batch in CONNECTORS[source.type](source, ctx):
            typed, problems = cast_text_columns(batch.table, source.columns)
            origins = batch.origins if isinstance(batch.origins, pa.Array) else pa.array(batch.origins, pa.string())
            if problems:
                bad = pa.array(sorted(problems), pa.int64())
                rejects.write(
                    quarantine.raw_rejects(
                        origins.take(bad).to_pylist(),
                        [_compact(r) for r in batch.table.take(bad).to_pylist()],
                        ["; ".join(problems[i]) for i in bad.to_pylist()],
                        "extract",
                    )
                )
                keep = pc.invert(pc.is_in(positions(0, typed.num_rows), value_set=bad))
                typed, origins = typed.filter(keep), origins.filter(keep)
            sink.write(typed.append_column(ORIGIN, origins))
            if batch.reject_origins:
                rejects.write(
                    quarantine.raw_rejects(batch.reject_origins, batch.reject_raws, batch.reject_reasons, "extract")
                )
    return ExtractResult(
        source=source_name,
        rows_read=sink.rows + rejects.rows,
        rows_staged=sink.rows,
        rows_rejected=rejects.rows,
        staged_uri=staged,
    )


def _compact(row: dict) -> str:
    return json.dumps(row, separators=(",", ":"), default=str)
