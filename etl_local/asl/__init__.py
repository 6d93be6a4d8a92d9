"""A local AWS Step Functions interpreter: runs Amazon States Language definitions in-process.

The engine (StateMachine, states, Retry/Catch, history, clocks, task dispatch) sits on the
expression layer (paths, payload templates, intrinsics, Choice rules, JSONata, validation)::

    tasks = TaskRegistry()
    tasks.set_lambda_resolver(lambda name_or_arn: HANDLERS[lambda_function_name(name_or_arn)])
    tasks.register("arn:aws:states:::sqs:sendMessage", send_message)   # handler(parameters, ctx)
    result = StateMachine(definition, name="etl").execute({"pipeline": "orders"}, tasks=tasks,
                                                          clock=VirtualClock(), on_event=print,
                                                          s3=LocalBuckets({"lake": "/data/lake"}))
    result.status, result.output, result.error, result.cause, result.history

``s3`` is the storage a Distributed Map's ItemReader/ResultWriter use (buckets as folders);
``.waitForTaskToken`` tasks wait for ``tasks.callbacks.send_task_success(token, output)``.
``on_event`` may be called from worker threads (concurrent Map iterations / Parallel branches).

Comments citing ``AWS_BEHAVIOURS #N`` refer to the numbered facts in
``tests/conformance/AWS_BEHAVIOURS.md`` (recorded AWS behaviour, with the recording each comes from).
"""
from __future__ import annotations

from .clock import Clock, RealClock, VirtualClock
from .errors import DefinitionError, StatesError, TaskFailed
from .machine import ExecutionResult, StateMachine
from .storage import LocalBuckets, ObjectStore
from .tasks import TaskContext, TaskHandler, TaskRegistry, lambda_function_name

__all__ = [
    "Clock",
    "DefinitionError",
    "ExecutionResult",
    "LocalBuckets",
    "ObjectStore",
    "RealClock",
    "StateMachine",
    "StatesError",
    "TaskContext",
    "TaskFailed",
    "TaskHandler",
    "TaskRegistry",
    "VirtualClock",
    "lambda_function_name",
]
