"""Run an ASL conformance corpus (the format of tests/conformance/asl_cases.json) on the local engine.

Each case's definition runs on a virtual clock with the corpus's helper Lambdas; the
outcome is compared with what AWS recorded. Prints every mismatch and ends with the line
``N passed, M failed``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, TextIO

from etl_local.asl import (
    DefinitionError,
    StateMachine,
    TaskContext,
    TaskFailed,
    TaskRegistry,
    VirtualClock,
    lambda_function_name,
)
from etl_local.asl.paths import PathNotFound, read_path

Helper = Callable[[Any, TaskContext], Any]


# -- the corpus's helper functions ("helpers" section) ---------------------------------------
def _echo(event: Any, ctx: TaskContext) -> Any:
    return event


def _add(event: Any, ctx: TaskContext) -> Any:
    return event["val1"] + event["val2"]


def _fail_with(event: Any, ctx: TaskContext) -> Any:
    raise TaskFailed(event["Error"], event["Cause"])


def _fail_n_times(event: Any, ctx: TaskContext) -> Any:
    if ctx.retry_count < event["n"]:
        raise TaskFailed("CustomError", f"fail_n_times attempt {ctx.retry_count}")
    return event


def _fail_sequence(event: Any, ctx: TaskContext) -> Any:
    errors = event["errors"]
    if ctx.retry_count < len(errors):
        raise TaskFailed(errors[ctx.retry_count], f"fail_sequence attempt {ctx.retry_count}")
    return event


def _big_payload(event: Any, ctx: TaskContext) -> Any:
    return "a" * event["size"]


def _sleep(event: Any, ctx: TaskContext) -> Any:
    ctx.clock.sleep(event["seconds"])
    return event


HELPERS: dict[str, Helper] = {
    "echo": _echo, "add": _add, "fail_with": _fail_with, "fail_n_times": _fail_n_times,
    "fail_sequence": _fail_sequence, "big_payload": _big_payload, "sleep": _sleep,
}


def helper_registry() -> TaskRegistry:
    """A registry whose Lambda functions are the corpus helpers, by name or ARN."""
    registry = TaskRegistry()
    registry.set_lambda_resolver(lambda function: HELPERS[lambda_function_name(function)])
    return registry


# -- comparing ------------------------------------------------------------------------------
def json_equal(left: Any, right: Any) -> bool:
    """Equality of parsed JSON: key order ignored, numbers by value, booleans are not numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 600 else text[:600] + f"... ({len(text)} chars)"


def check_execution(case: dict[str, Any]) -> list[str]:
    """Run one execution case; return its mismatches (empty when it conforms)."""
    expected = case["expected"]
    try:
        machine = StateMachine(case["definition"], name=case["id"][:80])
    except DefinitionError as err:
        return [f"definition rejected: {err}"]
    clock = VirtualClock()
    result = machine.execute(case.get("input"), name=case["id"][:80], tasks=helper_registry(), clock=clock)
    problems: list[str] = []

    def compare(field: str, actual: Any) -> None:
        if field in expected and not json_equal(expected[field], actual):
            problems.append(f"{field}: expected {_show(expected[field])}, got {_show(actual)}")

    compare("status", result.status)
    if result.status == "SUCCEEDED":
        compare("output", result.output)
    compare("error", result.error)
    compare("cause", result.cause)
    for fragment in expected.get("cause_contains", []):
        if result.cause is None or fragment not in result.cause:
            problems.append(f"cause: expected to contain {_show(fragment)}, got {_show(result.cause)}")
    for check in expected.get("output_checks", []):
        problems.extend(_output_check(check, result.output))
    compare("history_types", [event["type"] for event in result.history])
    if "retry_delays_seconds" in expected:
        compare("retry_delays_seconds", clock.sleeps)
    if problems and result.status == "FAILED" and expected.get("status") != "FAILED":
        problems.append(f"(execution failed with {result.error}: {result.cause})")
    return problems


def _output_check(check: dict[str, Any], output: Any) -> list[str]:
    path = check["path"]
    try:
        value = read_path(path, output, None, None)
    except PathNotFound as missing:
        return [f"output_checks {path}: {missing}"]
    if "equals" in check and not json_equal(check["equals"], value):
        return [f"output_checks {path}: expected {_show(check['equals'])}, got {_show(value)}"]
    if "regex" in check and not (isinstance(value, str) and re.search(check["regex"], value)):
        return [f"output_checks {path}: {_show(value)} does not match /{check['regex']}/"]
    return []


def check_definition(case: dict[str, Any]) -> list[str]:
    """A definition-validation case: StateMachine() must reject it with every expected phrase."""
    try:
        StateMachine(case["definition"], name=case["id"][:80])
    except DefinitionError as err:
        message = str(err)
        return [f"error message lacks {_show(fragment)}; it was {_show(message)}"
                for fragment in case["expected"].get("error_contains", []) if fragment not in message]
    return ["definition accepted, expected INVALID_DEFINITION"]


# -- running a corpus ---------------------------------------------------------------------------
def run_corpus(path: str | Path, out: TextIO = sys.stdout) -> tuple[int, int]:
    """Run every case of the corpus at ``path``; print mismatches; return (passed, failed)."""
    corpus = json.loads(Path(path).read_text())
    checks = [(case, check_execution) for case in corpus.get("cases", [])]
    checks += [(case, check_definition) for case in corpus.get("definition_validation_cases", [])]
    passed = failed = 0
    for case, check in checks:
        try:
            problems = check(case)
        except Exception:  # an engine crash is a failed case, reported with its traceback
            problems = ["engine raised:\n" + traceback.format_exc()]
        if problems:
            failed += 1
            print(f"FAIL {case['id']}", file=out)
            for problem in problems:
                print(f"    {problem}", file=out)
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl conformance", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a corpus JSON file in the asl_cases.json format")
    args = parser.parse_args(argv)
    _, failed = run_corpus(args.corpus)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
