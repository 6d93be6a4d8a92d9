"""Every function driven by its events/ file, through the runtime's in-process invoke (`etl invoke`)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from etl_local.asl.tasks import LambdaFunctionFailed

REPO = Path(__file__).resolve().parents[2]


def event(name: str, **changes) -> dict:
    return {**json.loads((REPO / "events" / name).read_text()), **changes}


@pytest.fixture
def runtime(make_runtime, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)  # the events name the sample by paths relative to the project
    return make_runtime()


def test_the_stage_events_run_in_order(runtime) -> None:
    plan = runtime.invoke("PlanFunction", event("plan.json"))
    assert plan["run_id"] == "2026-11-26" and plan["targets"] == ["processed", "daily_revenue", "warehouse"]
    orders = runtime.invoke("ExtractFunction", event("extract.json"))
    customers_source = {"name": "customers", "uri": "sample/raw/customers/customers.jsonl"}
    customers = runtime.invoke("ExtractFunction", event("extract.json", source=customers_source))
    tiers = runtime.invoke("ExtractFunction", event("extract.json", source={"name": "tiers", "uri": "postgres:tiers"}))
    assert tiers["rows_staged"] == 400  # the RDS source, seeded from sample/rds/ into the embedded PostgreSQL
    validate_event = event("validate.json")
    assert [orders["rows_read"], orders["rows_staged"], orders["rows_rejected"]] == [
        validate_event["extracted"][0][k] for k in ("rows_read", "rows_staged", "rows_rejected")
    ], "events/validate.json must describe what the sample extracts"
    assert customers["rows_staged"] == validate_event["extracted"][1]["rows_staged"]
    transformed = runtime.invoke("TransformFunction", event("transform.json"))
    assert transformed["records"] == orders["rows_staged"]
    validation = runtime.invoke("ValidateFunction", validate_event)
    assert validation["passed"] is True
    assert validation["extracted"] == validation["valid"] + validation["quarantined"] + validation["deduplicated"]
    assert validation["corrections"] == {"trim(status)": 0, "case(status)": 0}  # the sample's statuses are clean
    assert validation["fingerprint"] == event("load.json")["fingerprint"], "events/load.json must name the sample's valid rows"
    loaded = runtime.invoke("LoadFunction", event("load.json"))
    assert loaded["rows"] == validation["valid"] and loaded["status"] == "loaded"
    again = runtime.invoke("LoadFunction", event("load.json"))
    assert again == {**loaded, "status": "skipped: unchanged"}
    decision = runtime.invoke("ErrorHandlerFunction", event("error_handler.json"))
    assert decision["retry"] is True and decision["classification"] == "retryable"


def test_plan_defaults_the_run_date_to_the_execution_start(runtime) -> None:
    plan = runtime.invoke("PlanFunction", event("plan.json", input={"pipeline": "orders"}))
    assert plan["run_date"] == "2026-11-26"


@pytest.mark.parametrize(
    ("function", "bad", "message"),
    [
        ("PlanFunction", event("plan.json", input={"run_date": "2026-11-26"}), "invalid execution input .*pipeline: Field required"),
        ("PlanFunction", event("plan.json", input={"pipeline": "orders", "run_date": "26/11/2026"}), "run_date: Input should be a valid date"),
        ("PlanFunction", event("plan.json", input={"pipeline": "orders", "run_id": "../../etc"}), "run_id: Value error, must match"),
        ("PlanFunction", event("plan.json", input=["orders"]), "invalid execution input"),
        ("ExtractFunction", event("extract.json", source={"name": "orders"}), "invalid ExtractEvent event: source.uri: Field required"),
        ("LoadFunction", event("load.json", target=""), "invalid LoadEvent event: target: String should match pattern"),
        ("ErrorHandlerFunction", event("error_handler.json", attempt=-1), "attempt: Input should be greater than or equal to 0"),
        ("ValidateFunction", event("validate.json", surprise=1), "surprise: Extra inputs are not permitted"),
    ],
)
def test_bad_events_name_the_field(runtime, function: str, bad: dict, message: str) -> None:
    with pytest.raises(LambdaFunctionFailed) as failed:
        runtime.invoke(function, bad)
    assert failed.value.body["errorType"] == "InputError"
    assert re.search(message, failed.value.body["errorMessage"])


def test_unknown_pipeline_and_target_are_spec_errors(runtime) -> None:
    with pytest.raises(LambdaFunctionFailed) as failed:
        runtime.invoke("PlanFunction", event("plan.json", input={"pipeline": "nope"}))
    assert failed.value.body["errorType"] == "SpecError" and "unknown pipeline 'nope'" in failed.value.body["errorMessage"]
    runtime.invoke("PlanFunction", event("plan.json"))
    with pytest.raises(LambdaFunctionFailed) as failed:
        runtime.invoke("LoadFunction", event("load.json", target="x"))
    assert failed.value.body["errorType"] == "SpecError"
    assert "pipeline 'orders' has no target named 'x'" in failed.value.body["errorMessage"]
