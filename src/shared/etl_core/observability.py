"""The one wrapper every handler shares: parse the event, then log, trace and measure the stage.

Powertools' Logger, Tracer and Metrics are created per handler module (when the module is
imported), so each function gets its own service name from its own environment; the
execution id travels in every event and becomes the logs' correlation id.
"""
from __future__ import annotations

import functools
import sys
import time
from typing import Any, Callable, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from etl_core.errors import InputError

E = TypeVar("E", bound=BaseModel)


class CurrentStdout:
    """A stream that writes to whatever ``sys.stdout`` is at the time of writing.

    On Lambda that is always the same stdout; a host that redirects stdout per invocation
    (the local runtime, a test's capture) would otherwise leave the logger writing to the
    stream that was current when the handler module was first imported.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<event>'}: {e['msg']}" for e in exc.errors())


def parse_event(event: Any, model: type[E]) -> E:
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        raise InputError(f"invalid {model.__name__} event: {_describe(exc)}") from None
    except Exception as exc:  # Powertools wraps validation failures in its own error type
        cause = exc.__cause__ if isinstance(exc.__cause__, ValidationError) else None
        if cause is not None:
            raise InputError(f"invalid {model.__name__} event: {_describe(cause)}") from None
        raise


def stage_handler(stage: str, model: type[E]) -> Callable[[Callable[[E, LambdaContext], dict]], Callable[[dict, LambdaContext], dict]]:
    """Wrap ``fn(event_model, context) -> dict`` as a Lambda handler for ``stage``.

    The result's ``records`` (if any) is published as the ``RecordsProcessed`` metric;
    ``ProcessingTime`` is always published, both with the stage as a dimension.
    """
    logger = Logger(stream=CurrentStdout())
    tracer = Tracer()
    metrics = Metrics()

    def decorate(fn: Callable[[E, LambdaContext], dict]) -> Callable[[dict, LambdaContext], dict]:
        @functools.wraps(fn)
        @logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
        @tracer.capture_lambda_handler(capture_response=False)
        @metrics.log_metrics
        def handler(event: dict, context: LambdaContext) -> dict:
            started = time.perf_counter()
            parsed = parse_event(event, model)
            metrics.add_dimension(name="stage", value=stage)
            tracer.put_annotation(key="stage", value=stage)
            result = fn(parsed, context)
            elapsed = time.perf_counter() - started
            metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Seconds, value=elapsed)
            if isinstance(result, dict) and isinstance(result.get("records"), int):
                metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=result["records"])
            logger.info(f"{stage} finished", extra={"stage": stage, "seconds": round(elapsed, 3), "result": result})
            return result

        return handler

    return decorate
