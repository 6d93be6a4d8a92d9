"""The one wrapper every handler shares: parse the event, then log, trace and measure the stage.

Powertools' Logger, Tracer and Metrics are created per handler module (when the module is
imported), so each function gets its own service name from its own environment; the
execution id travels in every event and becomes the logs' correlation id. Domain modules
use child loggers (``Logger(child=True)``) and ``Tracer().capture_method``, as Powertools
documents, so their lines and subsegments belong to the function that runs them.

Metrics follow one contract (the dashboard and the alarms in template.yaml read it):
namespace ``POWERTOOLS_METRICS_NAMESPACE``; dimensions ``service`` (Powertools adds it),
``stage`` (a default dimension, fixed per function) and ``pipeline`` (per invocation) on
every metric;

- ``RecordsProcessed`` (Count) and ``ProcessingTime`` (Milliseconds): every stage, on success;
- ``QuarantinedRecords`` (Count) and ``QuarantineRatio`` (Percent): Validate;
- ``LoadedRecords`` and ``SkippedLoads`` (Count): Load, with the extra dimension ``target``;
- ``Failures`` (Count): any stage that fails, with the extra dimension ``error_type`` (the
  Step Functions error name). Validate also counts a ``DataQualityError`` failure when the
  run's quarantine ratio is over the spec's limit: the quality gate fails the run there.
"""
from __future__ import annotations

import functools
import re
import time
from typing import Any, Callable, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidEnvelopeError, InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from etl_core.errors import InputError
from etl_core.redaction import redact, scrubbed

E = TypeVar("E", bound=BaseModel)

#: Dimension values come from events: only a pipeline name a spec could have becomes one.
_PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
UNKNOWN = "unknown"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, every record passed through the one redaction point."""

    def serialize(self, log: dict) -> str:
        return redact(super().serialize(log))


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<event>'}: {e['msg']}" for e in exc.errors())


def parse_event(event: Any, model: type[E]) -> E:
    """Powertools' parser, its documented exceptions turned into an InputError naming the field."""
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        raise InputError(f"invalid {model.__name__} event: {_describe(exc)}") from None
    except (InvalidModelTypeError, InvalidEnvelopeError):
        raise InputError(f"invalid {model.__name__} event: it cannot be read as a {model.__name__}") from None


def pipeline_of(event: Any) -> str:
    """The pipeline an event is about (a stage event's ``pipeline``, Plan's ``input.pipeline``).

    Read from the raw event so that a stage failing to parse its event still reports its
    failure under its pipeline; anything that is not a valid spec name becomes ``unknown``.
    """
    if not isinstance(event, dict):
        return UNKNOWN
    candidate = event.get("pipeline")
    if candidate is None and isinstance(event.get("input"), dict):
        candidate = event["input"].get("pipeline")
    return candidate if isinstance(candidate, str) and _PIPELINE_NAME.match(candidate) else UNKNOWN


def count_failure(pipeline: str, error_type: str) -> None:
    """One ``Failures`` datapoint: the stage's dimensions plus ``error_type``."""
    _dimensioned_count("Failures", 1, pipeline=pipeline, error_type=error_type)


def count_quarantine(pipeline: str, quarantined: int, extracted: int, *, passed: bool) -> None:
    """Validate's metrics; a run over its spec's quarantine limit counts as a DataQualityError failure."""
    metrics = Metrics()
    metrics.add_metric(name="QuarantinedRecords", unit=MetricUnit.Count, value=quarantined)
    metrics.add_metric(name="QuarantineRatio", unit=MetricUnit.Percent, value=100.0 * quarantined / extracted if extracted else 0.0)
    if not passed:
        count_failure(pipeline, "DataQualityError")


def count_load(pipeline: str, target: str, rows: int, *, replayed: bool) -> None:
    """Load's metrics per target: the rows written, or one skipped load when idempotency replayed it."""
    if replayed:
        _dimensioned_count("SkippedLoads", 1, pipeline=pipeline, target=target)
    else:
        _dimensioned_count("LoadedRecords", rows, pipeline=pipeline, target=target)


def _dimensioned_count(name: str, value: float, **dimensions: str) -> None:
    # A metric with dimensions of its own is its own EMF blob (Powertools' single_metric),
    # so the stage's other metrics keep exactly (service, pipeline, stage).
    with single_metric(name=name, unit=MetricUnit.Count, value=value, default_dimensions=Metrics().default_dimensions) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def _annotate(tracer: Tracer, **annotations: Any) -> None:
    for key, value in annotations.items():
        if isinstance(value, (str, int, float, bool)):
            tracer.put_annotation(key=key, value=value)


def stage_handler(stage: str, model: type[E]) -> Callable[[Callable[[E, LambdaContext], dict]], Callable[[dict, LambdaContext], dict]]:
    """Wrap ``fn(event_model, context) -> dict`` as a Lambda handler for ``stage``.

    The result's ``records`` (if any) is published as ``RecordsProcessed``, and the stage's
    duration as ``ProcessingTime``. A failure is logged with its traceback and the
    correlation id, counted as ``Failures`` with its error type, and re-raised unchanged so
    that Step Functions sees the same error name.
    """
    logger = Logger(logger_formatter=RedactingFormatter())
    tracer = Tracer()
    metrics = Metrics()

    def decorate(fn: Callable[[E, LambdaContext], dict]) -> Callable[[dict, LambdaContext], dict]:
        @functools.wraps(fn)
        @logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
        @tracer.capture_lambda_handler(capture_response=False)
        @metrics.log_metrics(capture_cold_start_metric=True)
        def handler(event: dict, context: LambdaContext) -> dict:
            started = time.perf_counter()
            pipeline = pipeline_of(event)
            # Powertools keeps default dimensions in class state shared by every Metrics of the
            # process, so the stage is (re)set per invocation; the pipeline is an invocation's own
            # dimension, cleared with each flush.
            metrics.set_default_dimensions(stage=stage)
            metrics.add_dimension(name="pipeline", value=pipeline)
            logger.append_keys(stage=stage, pipeline=pipeline)
            try:
                parsed = parse_event(event, model)
                run = getattr(parsed, "run_id", None)
                _annotate(tracer, stage=stage, pipeline=pipeline, execution=getattr(parsed, "execution_id", None), run=run)
                result = fn(parsed, context)
            except Exception as exc:
                logger.exception(f"{stage} failed: {type(exc).__name__}", extra={"error_type": type(exc).__name__})
                count_failure(pipeline, type(exc).__name__)
                # What Lambda reports (and Step Functions records) carries no secret (etl_core.redaction).
                clean = scrubbed(exc)
                if clean is exc:
                    raise
                raise clean.with_traceback(exc.__traceback__) from None
            if run is None and isinstance(result, dict):  # Plan fixes the run id
                _annotate(tracer, run=result.get("run_id"))
            elapsed_ms = (time.perf_counter() - started) * 1000
            metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds, value=round(elapsed_ms, 3))
            if isinstance(result, dict) and isinstance(result.get("records"), int):
                metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=result["records"])
            logger.info(f"{stage} finished", extra={"milliseconds": round(elapsed_ms, 1), "result": result})
            return result

        return handler

    return decorate
