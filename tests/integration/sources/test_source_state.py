"""Source state and the Finalize function, on a lake folder; nothing emulated.

Staged candidates become committed state only through Finalize, idempotently, never
backwards; the plan accepts sources that are not storage objects; the sample specs parse.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from etl_core.errors import InputError, SpecError
from etl_core.plan import RunRequest, plan_run
from etl_core.settings import Settings
from etl_core.source_state import commit_run_state, committed_state, stage_state
from etl_core.spec import load_spec

SPECS = Path(__file__).resolve().parent / "specs"
FINALIZE = Path(__file__).resolve().parents[3] / "src" / "finalize" / "app.py"


def finalize_handler():
    spec = importlib.util.spec_from_file_location("finalize_app", FINALIZE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def test_finalize_commits_what_the_run_staged_and_is_idempotent(lake, lake_env, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "etl-test")  # the template's Globals set it on AWS
    layout = lake.layout("r1")
    stage_state(layout, "orders", {"watermark": "5"}, previous=None)
    stage_state(layout, "clicks", {"shards": {"s-0": "42"}}, previous=None)
    assert committed_state(layout, "orders") is None  # staged is not committed

    handler = finalize_handler()
    event = {"pipeline": "demo", "run_id": "r1"}  # invoked outside an execution: no run lease to hold
    first = handler(event, lambda_context)
    assert first == {
        "pipeline": "demo", "run_id": "r1", "stale": {},
        "committed": {"clicks": {"shards": {"s-0": "42"}}, "orders": {"watermark": "5"}},
    }
    assert handler(event, lambda_context) == first
    assert committed_state(lake.layout("r2"), "orders") == {"watermark": "5"}  # every later run reads it
    with pytest.raises(InputError, match="run_id"):
        handler({"pipeline": "demo"}, lambda_context)


def test_a_run_without_incremental_sources_commits_nothing(lake) -> None:
    assert commit_run_state(lake.layout("never-extracted")) == {"committed": {}, "stale": {}}


def test_a_rerun_of_a_committed_run_moves_on_from_its_own_state(lake) -> None:
    layout = lake.layout("r1")
    stage_state(layout, "orders", {"watermark": "5"}, previous=None)
    commit_run_state(layout)
    stage_state(layout, "orders", {"watermark": "9"}, previous={"watermark": "5"})
    assert commit_run_state(layout)["committed"] == {"orders": {"watermark": "9"}}


@pytest.mark.parametrize("pipeline", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_the_sample_specs_parse_and_plan(pipeline: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_URI", str(SPECS))
    monkeypatch.setenv("LAKE_URI", str(tmp_path / "lake"))
    spec = load_spec(str(SPECS), pipeline)
    plan = plan_run(RunRequest(pipeline=pipeline, run_date="2026-11-26"), Settings.from_env())
    assert plan["sources"] == [{"name": spec.sources[0].name, "uri": spec.sources[0].uri.replace("{run_date}", "2026-11-26")}]
    assert plan["input_bytes"] == 0


@pytest.mark.parametrize(
    "source, message",
    [
        ("{name: a, type: http, url: u, columns: {x: string}, auth: {type: bearer}}", "give exactly one of secret_arn or env"),
        ("{name: a, type: http, url: u, columns: {x: string}, pagination: {style: cursor}}", "needs cursor_path"),
        ("{name: a, type: http, url: u, columns: {x: string}, pagination: {style: offset}}", "needs size and size_param"),
        ("{name: a, type: kinesis, stream: s, columns: {x: string}, optional: [y]}", "optional names undeclared column"),
        ("{name: a, type: dynamodb, table: t, columns: {}}", "declare at least one column"),
        ("{name: a, type: postgres, columns: {x: string}}", r"sources\[0\]\.postgres\.query: Field required"),
        ("{name: a, type: ftp, columns: {x: string}}", "does not match any of the expected tags"),
    ],
)
def test_invalid_source_specs_name_the_field(lake, source: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        lake.spec(source)
