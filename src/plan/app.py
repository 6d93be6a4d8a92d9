"""Plan Lambda: check the execution input and the spec, write the run manifest."""
from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_core.observability import stage_handler
from etl_core.plan import RunRequest, plan_run
from etl_core.settings import Settings


@stage_handler("plan", RunRequest)
def lambda_handler(event: RunRequest, context: LambdaContext) -> dict:
    return plan_run(event, Settings.from_env())
