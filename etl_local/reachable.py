"""Which Lambda functions an execution can still invoke, read from its definition.

``etl run`` runs one execution and exits: once it has left the states that invoke a
function, and no state it can still reach invokes it, that function's warm environments
serve nobody for the rest of the process. Lambda keeps an idle environment as long as it
likes and reclaims it when it likes; here every environment holds this machine's memory, so
``LocalRuntime.run(release_unreachable=True)`` stops them as soon as the execution enters a
top-level state from which their function is unreachable (at TPC-H scale 10, Plan, Extract,
Transform and Validate's environments idle through Load's two minutes).

The reach is read from the definition: every transition of a run that goes well is followed
(Next, Choices, Default; a Retry stays in its state), every state inside a reachable Map or
Parallel counts, and a Task whose function is chosen at run time (``FunctionName.$``, a
JSONata expression) makes every function reachable. A Catch is not followed: this project's
error path loops back to any stage (HandleError -> ReattemptOrGiveUp -> RouteReattempt), so
following it would keep every environment to the end; a state reached only after an error
finds its function's environment cold, as it may on Lambda at any time.
"""
from __future__ import annotations

from typing import Any, Iterator

#: A function only known at run time.
ANY = "*"


def transitions(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(target, kind) of a state's transitions: next, choice, default, catch."""
    found = []
    if isinstance(state.get("Next"), str):
        found.append((state["Next"], "next"))
    for choice in state.get("Choices", []):
        if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
            found.append((choice["Next"], "choice"))
    if isinstance(state.get("Default"), str):
        found.append((state["Default"], "choice"))
    for catcher in state.get("Catch", []):
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            found.append((catcher["Next"], "catch"))
    return found


def nested_states(state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, state) of every state inside a Map's item processor or a Parallel's branches, at any depth."""
    blocks = [state.get("ItemProcessor") or state.get("Iterator") or {}, *state.get("Branches", [])]
    for block in blocks:
        for name, inner in (block.get("States") or {}).items():
            if isinstance(inner, dict):
                yield name, inner
                yield from nested_states(inner)


def invoked_function(state: dict[str, Any]) -> str | None:
    """The function (name or ARN, as written) a Task state invokes, ``ANY`` when it is chosen at
    run time, None when the state invokes no Lambda function."""
    if state.get("Type") != "Task":
        return None
    resource = state.get("Resource")
    if not isinstance(resource, str):
        return ANY
    if resource.startswith("arn:aws:lambda:"):
        return resource
    if not resource.startswith(("arn:aws:states:::lambda:invoke", "arn:aws:states:::aws-sdk:lambda:invoke")):
        return None
    arguments = state.get("Parameters") or state.get("Arguments") or {}
    name = arguments.get("FunctionName") if isinstance(arguments, dict) else None
    return name if isinstance(name, str) and not name.lstrip().startswith("{%") else ANY


def reachable_functions(definition: dict[str, Any], start: str) -> set[str]:
    """The functions (as written; ``ANY`` among them if one is chosen at run time) that the
    states reachable from top-level state ``start`` (itself included) can invoke."""
    states = definition.get("States") or {}
    found: set[str] = set()
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or not isinstance(states.get(name), dict):
            continue
        seen.add(name)
        state = states[name]
        for each in (state, *(inner for _, inner in nested_states(state))):
            function = invoked_function(each)
            if function is not None:
                found.add(function)
        pending.extend(target for target, kind in transitions(state) if kind != "catch")
    return found


def top_level_names(definition: dict[str, Any]) -> set[str]:
    """The top-level states whose name no nested state shares (a StateEntered event naming one
    of these is the top-level state's)."""
    states = {name: state for name, state in (definition.get("States") or {}).items() if isinstance(state, dict)}
    return set(states) - {name for state in states.values() for name, _ in nested_states(state)}
