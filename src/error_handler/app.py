"""Error handler Lambda: classify a caught failure, decide (re-attempt, bounded, or give up), and shape
the error for the people who will read it (etl_core.causes)."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.causes import error_for_people
from etl_core.events import ErrorEvent
from etl_core.observability import stage_handler
from etl_core.recovery import decide
from etl_core.settings import Settings


@stage_handler("error_handler", ErrorEvent)
def lambda_handler(event: ErrorEvent, context: LambdaContext) -> dict:
    settings = Settings.from_env()
    decision = decide(
        event.error.Error,
        event.error.Cause or "",
        attempt=event.attempt,
        max_attempts=settings.max_recovery_attempts,
        base_delay=settings.recovery_delay_seconds,
    )
    # ``error`` is what the DLQ message, the notification and the execution's final cause show.
    return {**decision.to_dict(), "failed_state": event.failed_state, "error": error_for_people(event.error.Error, event.error.Cause)}
