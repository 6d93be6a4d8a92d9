"""The `etl` command as a user runs it: run (--json), executions, history, messages, invoke, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl_local.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def etl(tmp_path: Path, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ETL_WAREHOUSE_DSN", warehouse_dsn)  # one shared test server, not one per command

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--home", str(tmp_path / "home"), "--virtual-clock", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_run_json_is_describe_execution_shaped_and_history_is_kept(etl) -> None:
    code, out, err = etl("run", "--input", "events/execution-happy-path.json", "--json", "--name", "cli-run")
    assert code == 0, err
    described = json.loads(out)
    assert described["status"] == "SUCCEEDED"
    assert described["executionArn"].endswith(":execution:EtlStateMachine:cli-run")
    assert json.loads(described["output"])["counts"]["valid"] > 0
    assert "ok    Plan" in err  # per-state progress on stderr

    code, out, _ = etl("executions")
    assert code == 0 and "SUCCEEDED" in out and "cli-run" in out
    code, out, _ = etl("history", "cli-run")
    assert code == 0 and "ExecutionStarted" in out.splitlines()[0] and "ExecutionSucceeded" in out.splitlines()[-1]


def test_failed_run_exits_nonzero_with_error_and_cause(etl) -> None:
    code, out, _ = etl("run", "--input", "events/execution-failing-source.json", "--quiet")
    assert code == 1
    assert "FAILED" in out and "error  SourceNotFound" in out
    code, out, _ = etl("messages")
    assert "== sqs: DeadLetterQueue" in out and "== sns: NotificationTopic" in out


def test_redrive_from_the_command_line(etl) -> None:
    code, _, _ = etl("run", "--input", "events/execution-failing-source.json", "--name", "to-redrive", "--quiet")
    assert code == 1
    code, out, err = etl("redrive", "to-redrive", "--from", "Plan")
    assert code == 1 and "error  SourceNotFound" in out and "ok    Plan" in err  # still missing: fails again
    with pytest.raises(SystemExit, match="state 'Nope' was never entered"):
        etl("redrive", "to-redrive", "--from", "Nope")


def test_invoke_prints_the_result_or_the_lambda_error(etl, tmp_path: Path) -> None:
    code, out, _ = etl("invoke", "ErrorHandlerFunction", "--event", "events/error_handler.json")
    assert code == 0 and json.loads(out)["classification"] == "retryable"
    bad = tmp_path / "bad.json"
    bad.write_text('{"pipeline": "orders"}')
    code, out, _ = etl("invoke", "LoadFunction", "--event", str(bad))
    assert code == 1 and json.loads(out)["errorType"] == "InputError"


def test_user_mistakes_get_clear_messages(etl, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="input file nope.json does not exist"):
        etl("run", "--input", "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SystemExit, match="is not valid JSON: line 1 column 2"):
        etl("run", "--input", str(broken))
    with pytest.raises(SystemExit, match="no function 'Nope' in the template"):
        etl("invoke", "Nope", "--event", "events/load.json")
    with pytest.raises(SystemExit, match="no execution 'missing'"):
        etl("history", "missing")
    with pytest.raises(SystemExit, match="--fail expects FUNCTION=ERROR"):
        etl("--fail", "oops", "executions")


def test_fault_injection_from_the_command_line(etl) -> None:
    code, out, err = etl("--fail", "ExtractFunction=TransientError", "run", "--input", "events/execution-happy-path.json")
    assert code == 0 and "SUCCEEDED" in out
    assert "LambdaFunctionFailed" in err and "TransientError" in err
