"""Security end to end (issue 9), through the real template, state machine and handlers.

Confinement: every traversal a spec, an execution input or the CLI can express ends FAILED (or
is refused) naming the field, and nothing is written outside the home folder. Secrets: a
password given the ways the CLI, the environment and the runtime accept one, with failures at
every stage, appears in no file under the home folder (history, logs, outbox, lake, manifests,
idempotency records). Causes for people: the final cause, the DLQ message and the notification
carry the error type and a short message, no traceback and no source paths; the raw Lambda
error with its stackTrace stays in the task's history events.

Real parts: the local runtime, PostgreSQL (the shared server), files. Nothing is emulated.
"""
from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from etl_local.cli import main
from etl_local.integrations import read_messages
from etl_local.names import InvalidName
from etl_local.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[2]
ORDERS_SPEC = (REPO / "src" / "shared" / "pipelines" / "orders.yaml").read_text()
DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetterQueue"
TOPIC = "arn:aws:sns:us-east-1:123456789012:NotificationTopic"
STAGES = ["PlanFunction", "ExtractFunction", "TransformFunction", "ValidateFunction", "LoadFunction", "FinalizeFunction"]


def files_under(root: Path, *, skip: Path | None = None) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if p.is_file() and not (skip and skip in p.parents)}


def occurrences(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose bytes contain ``needle`` (the embedded server's data excluded: it is
    the warehouse itself, not an artefact of the run)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and "pg" not in path.relative_to(root).parts[:1] and needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def project(tmp_path: Path):
    """A pipelines folder of the test's own (PIPELINES_URI through an env file), and a runtime over it."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "orders.sql").write_text((REPO / "src" / "shared" / "pipelines" / "orders.sql").read_text())
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"]["PIPELINES_URI"] = str(pipelines)
    env_file = tmp_path / "local.env.json"
    env_file.write_text(json.dumps(env))

    def make(spec_text: str, warehouse_dsn: str, **kwargs) -> LocalRuntime:
        (pipelines / "evil.yaml").write_text(spec_text.replace("pipeline: orders", "pipeline: evil"))
        return LocalRuntime(REPO, home=tmp_path / "home", warehouse_dsn=warehouse_dsn, env_file=env_file, virtual_clock=True, **kwargs)

    return make


RUN = {"pipeline": "evil", "run_date": "2026-11-26"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("sql: orders.sql", "sql: ../../../../etc/hostname"), "transform.sql"),
        (("sql: orders.sql", "sql: /etc/hostname"), "transform.sql"),
        (('uri: "{raw_uri}/orders/{run_date}/"', 'uri: "{raw_uri}/../../../../etc/"'), "sources[0].s3.uri"),
        (('uri: "{raw_uri}/orders/{run_date}/"', 'uri: "file:///etc/"'), "sources[0].s3.uri"),
        (('uri: "{raw_uri}/orders/{run_date}/"', 'uri: "{lake_uri}/../../elsewhere/"'), "sources[0].s3.uri"),
        (('uri: "{lake_uri}/processed/orders"', 'uri: "{lake_uri}/../../../outside"'), "targets[0].lake_parquet.uri"),
        (("- name: orders\n", "- name: ../orders\n"), "sources[0].s3.name"),
        (("- name: processed\n", "- name: ../../processed\n"), "targets[0].lake_parquet.name"),
    ],
)
def test_spec_traversals_end_failed_naming_the_field_and_write_nothing_outside_home(
    project, warehouse_dsn: str, tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    assert change[0] in ORDERS_SPEC
    runtime = project(ORDERS_SPEC.replace(*change), warehouse_dsn)
    outside = files_under(tmp_path, skip=runtime.home)
    result = runtime.run(RUN)
    assert result.status == "FAILED" and result.error == "SpecError", (result.error, result.cause)
    assert f"evil.yaml: {field}" in result.cause
    assert files_under(tmp_path, skip=runtime.home) == outside
    assert not (tmp_path.parent / "outside").exists() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("change", "field", "stage"),
    [
        # Placeholders expand to roots: where the expansion lands is checked before any I/O.
        (('uri: "{raw_uri}/orders/{run_date}/"', 'uri: "{lake_uri}/processed/orders/"'), "sources[0].uri", "Plan"),
        (('uri: "{lake_uri}/processed/orders"', 'uri: "{raw_uri}/hijacked"'), "targets[0].uri", "Load"),
    ],
)
def test_expanded_uris_must_stay_under_their_root(project, warehouse_dsn: str, change, field: str, stage: str) -> None:
    runtime = project(ORDERS_SPEC.replace(*change), warehouse_dsn)
    result = runtime.run(RUN)
    assert result.status == "FAILED" and result.error == "SpecError", (result.error, result.cause)
    assert f"evil.yaml: {field}" in result.cause and "outside {" in result.cause
    body = json.loads(read_messages(runtime.messaging.queue_file(DLQ))[0]["Body"])
    assert body["failed_state"] == stage
    assert not (REPO / "sample" / "raw" / "hijacked").exists()


def test_a_run_id_with_separators_is_an_input_error(make_runtime) -> None:
    runtime = make_runtime()
    result = runtime.run({"pipeline": "orders", "run_date": "2026-11-26", "run_id": "../../../escaped"})
    assert result.status == "FAILED" and result.error == "InputError" and "run_id" in result.cause
    assert not list(runtime.home.parent.glob("escaped*")) and not (runtime.home / "escaped").exists()


def test_an_execution_name_with_separators_is_refused_before_anything_is_written(make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime()
    with pytest.raises(InvalidName, match="Invalid Name: '../../x'"):
        runtime.run({"pipeline": "orders"}, name="../../x")
    assert not list(tmp_path.rglob("x.json")) and not list(tmp_path.rglob("x.events.jsonl"))


def test_the_cli_refuses_a_traversing_execution_name(tmp_path: Path, warehouse_dsn: str, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    home = tmp_path / "deep" / "home"
    code = main(["--home", str(home), "--warehouse-dsn", warehouse_dsn, "--virtual-clock", "run", "--name", "../../x"])
    assert code == 2 and "InvalidName: Invalid Name: '../../x'" in capsys.readouterr().err
    assert not list(tmp_path.rglob("x.json"))


# --- secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("dsn", "echoed"),
    [
        # libpq cannot parse the percent-encoding and echoes the password
        ("postgresql://u:PW%ZZSecret@127.0.0.1:5999/w", "PW%ZZSecret"),
        # libpq ends the user info at the first '@' and echoes the rest of the password as a host
        ("postgresql://u:pa@ssZq7Secret@127.0.0.1:5999/w", "ssZq7Secret"),
    ],
)
@pytest.mark.parametrize("given", ["option", "environment"])
def test_a_bad_warehouse_dsn_leaves_no_secret_under_home(tmp_path: Path, monkeypatch, capsys, dsn: str, echoed: str, given: str) -> None:
    monkeypatch.chdir(REPO)
    home = tmp_path / "home"
    monkeypatch.delenv("ETL_WAREHOUSE_DSN", raising=False)
    if given == "environment":
        monkeypatch.setenv("ETL_WAREHOUSE_DSN", dsn)
        args = ["--home", str(home), "--virtual-clock", "run", "--quiet", "--name", "bad-dsn"]
    else:
        args = ["--home", str(home), "--warehouse-dsn", dsn, "--virtual-clock", "run", "--quiet", "--name", "bad-dsn"]
    assert main(args) == 1
    out = capsys.readouterr()
    assert "FAILED" in out.out
    assert "Secret" not in out.out + out.err
    assert occurrences(home, "Secret") == []
    # Not vacuous: the echo happened, and was masked, in the raw task failure of the history.
    history = json.loads((home / "executions" / "bad-dsn.json").read_text())["events"]
    failures = [e["lambdaFunctionFailedEventDetails"]["cause"] for e in history if e["type"] == "LambdaFunctionFailed"]
    assert failures and all("***" in cause and "stackTrace" in cause for cause in failures)


@pytest.fixture
def planted_dsn(warehouse_dsn: str) -> str:
    """The test warehouse reached as a role with a password (in the key=value and URL encodings the
    password may take): the server trusts local connections, so the run works and carries it everywhere."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'planted') THEN "
                     "CREATE ROLE planted LOGIN SUPERUSER PASSWORD 'pw@Zq7Secret%41'; END IF; END $$")
    return psycopg.conninfo.make_conninfo(warehouse_dsn, user="planted", password="pw@Zq7Secret%41")


@pytest.mark.parametrize("function", STAGES)
def test_a_planted_password_is_in_no_artefact_whatever_stage_fails(tmp_path: Path, planted_dsn: str, monkeypatch, function: str) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-Zq7Secret-env")  # a secret-named variable in the functions' environment
    runtime = LocalRuntime(REPO, home=tmp_path / "home", warehouse_dsn=planted_dsn, virtual_clock=True,
                           faults={function: ["SourceError"] * 10})
    result = runtime.run({"pipeline": "orders", "run_date": "2026-11-26"}, name="planted")
    assert result.status == "FAILED"
    assert read_messages(runtime.messaging.queue_file(DLQ)) and read_messages(runtime.messaging.topic_file(TOPIC))
    assert occurrences(runtime.home, "Zq7Secret") == []


# --- causes for people ------------------------------------------------------------------------

def assert_for_people(text: str) -> None:
    for marker in ("Traceback", 'File "', "stackTrace", ".py\"", "/etl_core/", "/var/task", "line "):
        assert marker not in text, (marker, text)


def test_failing_source_causes_dlq_and_notification_carry_no_stack_trace(make_runtime) -> None:
    runtime = make_runtime()
    result = runtime.run(json.loads((REPO / "events" / "execution-failing-source.json").read_text()), name="failing")
    assert result.status == "FAILED" and result.error == "SourceNotFound"
    assert result.cause.startswith("no object or prefix at ") and len(result.cause) < 1000
    assert_for_people(result.cause)

    [dead] = read_messages(runtime.messaging.queue_file(DLQ))
    body = json.loads(dead["Body"])
    assert body["error"] == {"Error": "SourceNotFound", "Cause": result.cause}
    assert_for_people(dead["Body"])
    [note] = read_messages(runtime.messaging.topic_file(TOPIC))
    assert "SourceNotFound: no object or prefix at" in note["Message"]
    assert_for_people(note["Message"] + note["Subject"])

    # The raw Lambda error keeps AWS's shape in the task's history events.
    stored = runtime.store.load("failing")["events"]
    raw = [json.loads(e["lambdaFunctionFailedEventDetails"]["cause"]) for e in stored if e["type"] == "LambdaFunctionFailed"]
    assert raw and all(set(r) >= {"errorMessage", "errorType", "stackTrace"} and r["stackTrace"] for r in raw)
    assert stored[-1]["type"] == "ExecutionFailed" and stored[-1]["executionFailedEventDetails"]["cause"] == result.cause
