"""Plan Lambda: check the execution input and the spec, write the run manifest."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.events import PlanEvent
from etl_core.observability import stage_handler
from etl_core.plan import parse_request, plan_run
from etl_core.settings import Settings


@stage_handler("plan", PlanEvent)
def lambda_handler(event: PlanEvent, context: LambdaContext) -> dict:
    return plan_run(parse_request(event.input), Settings.from_env(), execution_start=event.execution_start, owner=event.execution_id)
