"""Error classification: decides between a bounded re-attempt and the dead-letter queue.

The table maps Step Functions error names (exception types of our Lambdas, Lambda's own
service errors, Glue and state machine errors) onto what the pipeline should do. Users
extend it with the ERROR_CLASSES environment variable (JSON: name -> class), for example
to mark a driver's exception as retryable, without touching code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from aws_lambda_powertools import Tracer

from etl_core.settings import Settings

tracer = Tracer()

Classification = Literal["retryable", "non_retryable", "data_quality"]

DEFAULT_CLASSES: dict[str, Classification] = {
    "TransientError": "retryable",
    "States.Timeout": "retryable",
    "States.HeartbeatTimeout": "retryable",
    "Lambda.ServiceException": "retryable",
    "Lambda.AWSLambdaException": "retryable",
    "Lambda.SdkClientException": "retryable",
    "Lambda.TooManyRequestsException": "retryable",
    "Glue.ConcurrentRunsExceededException": "retryable",
    "Glue.AWSGlueException": "retryable",
    "ThrottlingException": "retryable",
    "ConnectionResetError": "retryable",
    "TimeoutError": "retryable",
    "IdempotencyAlreadyInProgressError": "retryable",
    "DataQualityError": "data_quality",
    "ConservationError": "non_retryable",
    # The state machine already waited for the other execution (Plan's Retry): stop, do not loop.
    "RunInProgress": "non_retryable",
    "InputError": "non_retryable",
    "SpecError": "non_retryable",
    "SourceNotFound": "non_retryable",
    "SourceError": "non_retryable",
    "TargetError": "non_retryable",
    "States.Runtime": "non_retryable",
    "States.DataLimitExceeded": "non_retryable",
}

#: Markers in a cause that betray a transient failure whatever the error name.
TRANSIENT_MARKERS = ("throttl", "rate exceeded", "timed out", "connection reset", "503", "502", "504", "too many requests")


@dataclass(frozen=True)
class Decision:
    classification: Classification
    retry: bool
    attempt: int
    max_attempts: int
    delay_seconds: int
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def error_classes() -> dict[str, Classification]:
    """The default table, extended or overridden by the ``ERROR_CLASSES`` setting."""
    return {**DEFAULT_CLASSES, **Settings.from_env().error_classes}  # type: ignore[dict-item]


def classify(error: str, cause: str) -> Classification:
    known = error_classes().get(error)
    if known:
        return known
    lowered = (cause or "").lower()
    if any(marker in lowered for marker in TRANSIENT_MARKERS):
        return "retryable"
    return "non_retryable"


@tracer.capture_method
def decide(error: str, cause: str, attempt: int, max_attempts: int, base_delay: int = 30) -> Decision:
    """Re-attempt a retryable failure while ``attempt < max_attempts``; everything else gives up.

    ``attempt`` counts the stage re-attempts this execution has already made, carried in the
    execution state, so the handler-to-stage loop always ends.
    """
    classification = classify(error, cause)
    if classification != "retryable":
        return Decision(classification, False, attempt, max_attempts, 0, f"{error} is {classification.replace('_', '-')}")
    if attempt >= max_attempts:
        return Decision(classification, False, attempt, max_attempts, 0, f"{error} persisted after {attempt} re-attempt(s)")
    return Decision(
        classification, True, attempt + 1, max_attempts, base_delay * 2**attempt, f"{error} is retryable: re-attempt {attempt + 1} of {max_attempts}"
    )
