"""Run an ASL conformance corpus (the format of tests/conformance/asl_cases.json) on the local engine.

Each case's definition runs on a virtual clock with the corpus's helper Lambdas; the
outcome is compared with what AWS recorded: status, output, error, cause and, where the case
carries one, the whole execution history event by event (see ``history_compare``). Without
``--strict`` a cause is only checked for the fragments in ``cause_contains``; with it, every
cause (execution, history events) must be AWS's word for word.

A case marked ``"pending": "<who>"`` documents a behaviour another piece of work is
changing: it is run and reported, but its failure does not fail the corpus.
Prints every mismatch, a pass/fail table per category, and ends with ``N passed, M failed``.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, TextIO

from etl_local.asl import (
    DefinitionError,
    LocalBuckets,
    StateMachine,
    TaskContext,
    TaskFailed,
    TaskRegistry,
    VirtualClock,
    lambda_function_name,
)
from etl_local.asl.paths import PathNotFound, read_path
from etl_local.history_compare import compare_histories, values_match
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef

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


def _raise_exception(event: Any, ctx: TaskContext) -> Any:
    """A function that raises, as localstack's raise_exception Lambda does on AWS."""
    raise Exception("Some exception was raised.")


def _wait_60_seconds(event: Any, ctx: TaskContext) -> Any:
    """A function that runs for a minute (localstack's wait_60_seconds Lambda), to time out."""
    ctx.clock.sleep(60)
    return event


def _big_payload(event: Any, ctx: TaskContext) -> Any:
    return "a" * event["size"]


def _sleep(event: Any, ctx: TaskContext) -> Any:
    ctx.clock.sleep(event["seconds"])
    return event


HELPERS: dict[str, Helper] = {
    "echo": _echo, "add": _add, "fail_with": _fail_with, "fail_n_times": _fail_n_times,
    "fail_sequence": _fail_sequence, "big_payload": _big_payload, "sleep": _sleep,
    "raise_exception": _raise_exception, "wait_60_seconds": _wait_60_seconds,
}


def helper_registry(functions: dict[str, str] | None = None, host: LambdaHost | None = None) -> TaskRegistry:
    """A registry whose Lambda functions are the corpus helpers, by name or ARN, and the corpus's
    own ``handlers`` (real functions run by ``host``, a Lambda host of worker processes).

    ``functions`` maps other function names a case uses to helpers (a recording names its
    function ``lambda_function_name``; the case runs ``echo`` under that name)."""
    aliases = functions or {}
    registry = TaskRegistry()

    def resolve(function: str) -> Helper:
        name = lambda_function_name(function)
        if host is not None and name in host.functions:
            return lambda event, ctx: host.invoke(name, event)
        return HELPERS[aliases.get(name, name)]

    registry.set_lambda_resolver(resolve)
    return registry


def corpus_functions(functions: dict[str, dict[str, Any]], folder: Path) -> dict[str, FunctionDef]:
    """A corpus's ``handlers`` ({name: {Handler, Code, Timeout?, MemorySize?}}) written out as code folders."""
    found = {}
    for name, spec in functions.items():
        code = folder / name
        module = spec["Handler"].rpartition(".")[0]
        code.mkdir(parents=True, exist_ok=True)
        (code / f"{module.replace('.', '/')}.py").write_text(spec["Code"])
        found[name] = FunctionDef(logical_id=name, code_uri=code, handler=spec["Handler"],
                                  runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
                                  timeout=int(spec.get("Timeout", 3)), memory_size=int(spec.get("MemorySize", 128)),
                                  environment={}, layer_dirs=[],
                                  reserved_concurrency=spec.get("ReservedConcurrentExecutions"))
    return found


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


def check_execution(case: dict[str, Any], strict: bool = False, host: LambdaHost | None = None) -> list[str]:
    """Run one execution case; return its mismatches (empty when it conforms)."""
    expected = case["expected"]
    try:
        machine = StateMachine(case["definition"], name=case["id"][:80])
    except DefinitionError as err:
        return [f"definition rejected: {err}"]
    clock = VirtualClock()
    with tempfile.TemporaryDirectory(prefix="conformance-s3-") as folder:
        result = machine.execute(case.get("input"), name=case["id"][:80],
                                 tasks=helper_registry(case.get("functions"), host), clock=clock,
                                 s3=_buckets(case.get("s3", {}), Path(folder)))
    problems: list[str] = []

    def compare(field: str, actual: Any) -> None:
        if field in expected and not json_equal(expected[field], actual):
            problems.append(f"{field}: expected {_show(expected[field])}, got {_show(actual)}")

    compare("status", result.status)
    if result.status == "SUCCEEDED":
        compare("output", result.output)
    compare("error", result.error)
    if strict and "cause" in expected and not values_match(expected["cause"], result.cause, True, "cause"):
        problems.append(f"cause: expected {_show(expected['cause'])}, got {_show(result.cause)}")
    for fragment in expected.get("cause_contains", []):
        if result.cause is None or fragment not in result.cause:
            problems.append(f"cause: expected to contain {_show(fragment)}, got {_show(result.cause)}")
    for check in expected.get("output_checks", []):
        problems.extend(_output_check(check, result.output))
    compare("history_types", [event["type"] for event in result.history])
    if "history" in expected:
        problems.extend(compare_histories(expected["history"], result.history, strict))
    if "retry_delays_seconds" in expected:
        compare("retry_delays_seconds", clock.sleeps)
    if problems and result.status == "FAILED" and expected.get("status") != "FAILED":
        problems.append(f"(execution failed with {result.error}: {result.cause})")
    return problems


def _buckets(objects: dict[str, dict[str, str]], folder: Path) -> LocalBuckets:
    """The case's S3 objects (``{bucket: {key: text}}``) as files, for ItemReader and ResultWriter."""
    for bucket, keys in objects.items():
        for key, text in keys.items():
            path = folder / bucket / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return LocalBuckets({bucket: folder / bucket for bucket in objects})


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


def check_definition(case: dict[str, Any], strict: bool = False) -> list[str]:
    """A definition-validation case: StateMachine() must reject it with every expected phrase;
    with ``strict``, also with AWS's InvalidDefinition ``message`` and ValidateStateMachineDefinition
    ``diagnostics`` exactly, where the case records them."""
    expected = case["expected"]
    try:
        StateMachine(case["definition"], name=case["id"][:80])
    except DefinitionError as err:
        message = str(err)
        problems = [f"error message lacks {_show(fragment)}; it was {_show(message)}"
                    for fragment in expected.get("error_contains", []) if fragment not in message]
        if strict and "message" in expected and expected["message"] != err.aws_message:
            problems.append(f"message: expected {_show(expected['message'])}, got {_show(err.aws_message)}")
        if strict and "diagnostics" in expected and not json_equal(expected["diagnostics"], err.diagnostics()):
            problems.append(f"diagnostics: expected {_show(expected['diagnostics'])}, got {_show(err.diagnostics())}")
        return problems
    return ["definition accepted, expected INVALID_DEFINITION"]


# -- running a corpus ---------------------------------------------------------------------------
def category(case: dict[str, Any], default: str) -> str:
    """The category a case is reported under: ``category``, else ``area``, else the section's."""
    return str(case.get("category") or case.get("area") or default)


def run_corpus(path: str | Path, out: TextIO = sys.stdout, strict: bool = False) -> tuple[int, int]:
    """Run every case of the corpus at ``path``; print mismatches and a table per category;
    return (passed, failed). Pending cases that fail count in neither."""
    corpus = json.loads(Path(path).read_text())
    with tempfile.TemporaryDirectory(prefix="etl-conformance-") as folder:
        host = None
        if corpus.get("handlers"):  # real Lambda handlers, run by the Lambda host
            host = LambdaHost(corpus_functions(corpus["handlers"], Path(folder)), lambda name: {}, Path(folder) / "logs")
        try:
            return _run_checks(corpus, host, out, strict)
        finally:
            if host is not None:
                host.close()


def _run_checks(corpus: dict[str, Any], host: LambdaHost | None, out: TextIO, strict: bool) -> tuple[int, int]:
    checks = [(case, functools.partial(check_execution, host=host), "execution") for case in corpus.get("cases", [])]
    checks += [(case, check_definition, "definition") for case in corpus.get("definition_validation_cases", [])]
    passed = failed = pending = 0
    table: dict[str, list[int]] = {}
    histories = [0, 0]
    for case, check, section in checks:
        try:
            problems = check(case, strict)
        except Exception:  # an engine crash is a failed case, reported with its traceback
            problems = ["engine raised:\n" + traceback.format_exc()]
        row = table.setdefault(category(case, section), [0, 0, 0])
        has_history = "history" in case.get("expected", {})
        if has_history:
            histories[1] += 1
            histories[0] += not any(problem.startswith("history") for problem in problems)
        if problems and case.get("pending"):
            pending += 1
            row[2] += 1
            print(f"PENDING {case['id']} (awaits {case['pending']})", file=out)
        elif problems:
            failed += 1
            row[1] += 1
            print(f"FAIL {case['id']}", file=out)
        else:
            passed += 1
            row[0] += 1
        for problem in problems:
            print(f"    {problem}", file=out)
    print(f"\n{'category':<24} passed  failed  pending", file=out)
    for name in sorted(table):
        ok, bad, waiting = table[name]
        print(f"{name:<24} {ok:>6}  {bad:>6}  {waiting:>7}", file=out)
    print(f"histories matched event by event: {histories[0]}/{histories[1]}", file=out)
    print(f"mode: {'strict (causes word for word)' if strict else 'causes by fragment'}; pending: {pending}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl conformance", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a corpus JSON file in the asl_cases.json format")
    parser.add_argument("--strict", action="store_true", help="compare every cause word for word")
    args = parser.parse_args(argv)
    _, failed = run_corpus(args.corpus, strict=args.strict)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
