"""What a Task of an `etl serve` execution calls when the project does not serve its Lambda.

On AWS, invoking a function that does not exist fails the task with
``Lambda.ResourceNotFoundException`` (catchable, with Lambda's 404 in the cause). Locally
the template's functions are the only ones that exist, so any other function fails that way,
after the task's Scheduled/Started events, as on AWS. Other resources keep the engine's
handling: an integration nothing serves locally and no mock covers is a States.Runtime error
naming the resource.
"""
from __future__ import annotations

import uuid
from typing import Any

from etl_local.asl import TaskContext, TaskFailed, TaskHandler, TaskRegistry, lambda_function_name
from etl_local.sam_template import function_arn


def function_not_found(name_or_arn: str) -> TaskFailed:
    """AWS's error for a missing function, word for word."""
    arn = name_or_arn if name_or_arn.startswith("arn:") else function_arn(lambda_function_name(name_or_arn))
    return TaskFailed("Lambda.ResourceNotFoundException",
                      f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
                      f"ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)")


class ServedTaskRegistry(TaskRegistry):
    """``inner``'s handlers, and AWS's ResourceNotFoundException for functions the template lacks."""

    def __init__(self, inner: TaskRegistry) -> None:
        super().__init__(inner.callbacks)
        self.inner = inner

    def handler_for(self, resource: str) -> TaskHandler | None:
        return self.inner.handler_for(resource)

    def lambda_function(self, name_or_arn: str) -> TaskHandler | None:
        found = self.inner.lambda_function(name_or_arn)
        if found is not None:
            return found

        def missing(argument: Any, ctx: TaskContext) -> Any:
            raise function_not_found(name_or_arn)

        return missing


def served_registry(inner: TaskRegistry) -> TaskRegistry:
    return ServedTaskRegistry(inner)
