"""A local AWS Step Functions interpreter: runs Amazon States Language definitions in-process.

The engine (StateMachine, states, Retry/Catch, history, clocks, task dispatch) sits on the
expression layer (paths, payload templates, intrinsics, Choice rules, JSONata, validation).
"""
from __future__ import annotations

from .clock import Clock, RealClock, VirtualClock
from .errors import DefinitionError, StatesError, TaskFailed
from .machine import ExecutionResult, StateMachine
from .tasks import TaskContext, TaskHandler, TaskRegistry, lambda_function_name

__all__ = [
    "Clock",
    "DefinitionError",
    "ExecutionResult",
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
