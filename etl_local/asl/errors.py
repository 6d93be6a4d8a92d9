"""Errors raised while interpreting a state machine, carrying AWS's error name and cause.

Every failure the interpreter can report ends up as a (error, cause) pair exactly as AWS
Step Functions would show it, so the classes below carry both rather than a message only.
"""
from __future__ import annotations


class StatesError(Exception):
    """A failure with an ASL error name (e.g. ``States.Runtime``) and a cause string.

    ``cause`` may be ``None`` where AWS reports no cause at all (uncaught ``States.Timeout``,
    a ``Fail`` state without Cause).
    """

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause is not None else error)
        self.error = error
        self.cause = cause


class QueryEvaluationFailed(StatesError):
    """``States.QueryEvaluationError`` from a JSONata field; ``location`` is the field's path
    (``Output/result``), which AWS logs in the EvaluationFailed event."""

    def __init__(self, cause: str, location: str) -> None:
        super().__init__("States.QueryEvaluationError", cause)
        self.location = location


class ExecutionTimedOut(Exception):
    """The state machine's own TimeoutSeconds elapsed (the execution ends TIMED_OUT, nothing catches it)."""


class TaskTimedOut(Exception):
    """A task ran past its TimeoutSeconds or missed a heartbeat (AWS: ``States.Timeout``)."""


class TaskFailed(StatesError):
    """Raised by a task handler (Lambda, service integration) to report a task failure."""


class DefinitionError(Exception):
    """A state machine definition that AWS would reject; ``problems`` lists each finding."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid state machine definition:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems

    @property
    def aws_message(self) -> str:
        """The message of CreateStateMachine's InvalidDefinition error, as AWS words it."""
        return "Invalid State Machine Definition: '" + ", ".join(self.problems) + "'"

    def diagnostics(self) -> list[dict[str, str]]:
        """The findings as ValidateStateMachineDefinition lists them (code, message, location)."""
        found = []
        for problem in self.problems:
            code, _, rest = problem.partition(": ")
            message, at, location = rest.rpartition(" at ")
            entry = {"code": code, "message": message if at else rest, "severity": "ERROR"}
            if at:
                entry["location"] = location
            found.append(entry)
        return found
