"""The expression layer sits on the engine's hot path (target: <= 50 us per state transition).

Speed itself is measured by `make bench`, never by a test: wall-clock bounds fail on a loaded
machine. What a test can hold deterministically is the work one warm call does, counted as
Python function calls (a profiler hook): parsing or compiling again on every call, the
regression that matters, multiplies that count several times. Bounds are about 3x today's.
"""
from __future__ import annotations

import sys
import threading
from typing import Callable

import pytest

from etl_local.asl.choice import choice_rule_matches
from etl_local.asl.jsonata_eval import evaluate_jsonata_template
from etl_local.asl.paths import apply_result_path, read_path
from etl_local.asl.payload import render_template

DATA = {"a": {"b": [1, 2, {"c": 3}]}, "x": 5, "name": "alpha-beta"}
CONTEXT = {"Execution": {"Id": "arn:exec"}, "State": {"Name": "S"}}
TEMPLATE = {"FunctionName": "arn", "Payload.$": "$", "id.$": "$$.Execution.Id", "c.$": "$.a.b[2].c",
            "msg.$": "States.Format('{}-{}', $.x, $.name)", "fixed": {"k": [1, 2]}}
RULE = {"And": [{"Variable": "$.x", "NumericGreaterThan": 1}, {"Variable": "$.name", "StringMatches": "alpha*"}]}
BINDINGS = {"states": {"input": DATA, "context": CONTEXT}, "v": 1}


def calls_per_warm_call(action: Callable[[], object]) -> int:
    """Function calls (Python and C) one call of ``action`` makes once its caches are warm."""
    action()
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize(("name", "action", "bound"), [
    # (name, action, bound): today 9, 8, 77, 35 and 20 calls warm; 107, 342 and 119 when parsing again
    ("read_path", lambda: read_path("$.a.b[2].c", DATA, CONTEXT, {}), 30),
    ("apply_result_path", lambda: apply_result_path(DATA, "$.r.s", 1), 30),
    ("render_template", lambda: render_template(TEMPLATE, DATA, CONTEXT, {}, state_name="S", entered_event_id=2), 200),
    ("choice_rule_matches", lambda: choice_rule_matches(RULE, DATA, CONTEXT, {}), 100),
    ("jsonata lookup", lambda: evaluate_jsonata_template({"o": "{% $states.input.a %}"}, BINDINGS, field="Output"), 60),
])
def test_hot_operations_do_not_parse_again(name: str, action: Callable[[], object], bound: int) -> None:
    assert calls_per_warm_call(action) < bound, name


def test_jsonata_evaluates_correctly_from_many_threads() -> None:
    failures: list[object] = []

    def work(seed: int) -> None:
        for step in range(100):
            bindings = {"states": {"input": {"x": seed, "l": [seed, step]}}}
            result = evaluate_jsonata_template({"a": "{% $states.input.x * 2 + $sum($states.input.l) %}"},
                                               bindings, field="Output")
            if result != {"a": 3 * seed + step}:
                failures.append(result)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
