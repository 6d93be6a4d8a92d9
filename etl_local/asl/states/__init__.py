"""One class per ASL state type, and the compiler from definition JSON to them."""
from __future__ import annotations

from typing import Any

from ..execution import Program
from .base import State
from .choice import ChoiceState
from .map import MapState
from .parallel import ParallelState
from .pass_ import PassState
from .succeed_fail import FailState, SucceedState
from .task import TaskState
from .wait import WaitState

STATE_TYPES: dict[str, type[State]] = {
    "Task": TaskState, "Pass": PassState, "Choice": ChoiceState, "Wait": WaitState,
    "Succeed": SucceedState, "Fail": FailState, "Parallel": ParallelState, "Map": MapState,
}


def compile_program(spec: dict[str, Any], query_language: str) -> Program:
    """Compile a ``StartAt``/``States`` block; states default to ``query_language``."""
    states = {name: STATE_TYPES[body["Type"]](name, body, query_language)
              for name, body in spec.get("States", {}).items()}
    return Program(spec.get("StartAt", ""), states)


__all__ = ["STATE_TYPES", "State", "compile_program"]
