"""The expression layer sits on the engine's hot path (target: <= 50 us per state transition).

Bounds are ~10x what a laptop measures, so only a real regression (e.g. re-parsing on every
call) trips them.
"""
from __future__ import annotations

import threading
import timeit
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


def microseconds(action: Callable[[], object], number: int = 2000) -> float:
    action()
    return timeit.timeit(action, number=number) / number * 1e6


@pytest.mark.parametrize(("name", "action", "bound"), [
    ("read_path", lambda: read_path("$.a.b[2].c", DATA, CONTEXT, {}), 10),
    ("apply_result_path", lambda: apply_result_path(DATA, "$.r.s", 1), 10),
    ("render_template", lambda: render_template(TEMPLATE, DATA, CONTEXT, {}, state_name="S", entered_event_id=2), 40),
    ("choice_rule_matches", lambda: choice_rule_matches(RULE, DATA, CONTEXT, {}), 30),
    ("jsonata lookup", lambda: evaluate_jsonata_template({"o": "{% $states.input.a %}"}, BINDINGS, field="Output"), 30),
])
def test_hot_operations_are_fast(name: str, action: Callable[[], object], bound: float) -> None:
    assert microseconds(action) < bound, name


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
