"""The `etl` command as a user runs it: run (--json), executions, history, messages, invoke, errors."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
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
    assert "retry ExtractSources[0]/ExtractSource" in err and "TransientError" in err


def test_a_failed_state_is_shown_failed_with_its_error(etl) -> None:
    code, out, err = etl("run", "--pipeline", "nope", "--run-date", "2026-11-26")
    assert code == 1 and "error  SpecError" in out
    assert "cause  unknown pipeline 'nope'" in out and "stackTrace" not in out  # the message, not Lambda's JSON
    plan = [line for line in err.splitlines() if line.split()[1:2] == ["Plan"] and not line.startswith("  start")]
    assert len(plan) == 1 and plan[0].split()[0] == "fail" and "SpecError: unknown pipeline 'nope'" in plan[0]
    assert "fail  PipelineFailed" in err


def test_run_takes_a_pipeline_and_date_or_standard_input(etl, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = etl("run", "--pipeline", "orders", "--run-date", "2026-11-26", "--quiet", "--name", "by-args")
    assert code == 0 and "valid        2964" in out, err
    code, out, _ = etl("sql", "select count(*) from analytics.orders")
    assert (code, out) == (0, "2964\n")
    code, out, _ = etl("rightsize")  # from the run's own platform.report records (the template sets LogFormat JSON)
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.endswith(("keep", "MB)", ")"))}
    functions = ["PlanFunction", "ExtractFunction", "TransformFunction", "ValidateFunction", "LoadFunction", "FinalizeFunction"]
    assert all("invocation(s)" in rows[name] for name in functions), out
    assert "no invocations" in rows["ErrorHandlerFunction"] and "GlueJob" in rows  # neither ran in a successful Lambda-engine run
    assert out.splitlines()[-1].startswith("sam deploy --parameter-overrides ")
    code, out, _ = etl("sql", "--header", "select 1 as one, null as nothing")
    assert out == "one\tnothing\n1\t\n"
    code, _, err = etl("sql", "select nope")
    assert code == 1 and 'etl sql: column "nope" does not exist' in err and "Traceback" not in err

    monkeypatch.setattr("sys.stdin", io.StringIO('{"pipeline": "nope"}'))
    code, out, _ = etl("run", "--input", "-", "--quiet")
    assert code == 1 and "SpecError" in out
    assert etl("run", "--pipeline", "orders", "--run-date", "26/11/2026")[0] == 2
    assert etl("run", "--input", "x.json", "--run-date", "2026-11-26")[0] == 2
    with pytest.raises(SystemExit):  # argparse: --input and --pipeline exclude each other
        etl("run", "--input", "x.json", "--pipeline", "orders")


def test_sam_parameter_overrides_and_env_vars_reach_the_functions(etl, tmp_path: Path) -> None:
    code, out, _ = etl("invoke", "ErrorHandlerFunction", "--event", "events/error_handler.json")
    assert json.loads(out)["retry"] is True
    code, out, _ = etl("invoke", "ErrorHandlerFunction", "-e", "events/error_handler.json", "--parameter-overrides", "MaxRecoveryAttempts=0")
    assert code == 0 and json.loads(out)["retry"] is False
    long_form = "ParameterKey=MaxRecoveryAttempts,ParameterValue=0 ParameterKey=LogLevel,ParameterValue=DEBUG"
    code, out, _ = etl("invoke", "ErrorHandlerFunction", "-e", "events/error_handler.json", "--parameter-overrides", long_form)
    assert json.loads(out)["retry"] is False
    env = tmp_path / "env.json"
    env.write_text(json.dumps({**json.loads((REPO / "local.env.json").read_text()), "ErrorHandlerFunction": {"MAX_RECOVERY_ATTEMPTS": "0"}}))
    code, out, _ = etl("invoke", "ErrorHandlerFunction", "-e", "events/error_handler.json", "--env-vars", str(env))
    assert json.loads(out)["retry"] is False
    assert etl("invoke", "ErrorHandlerFunction", "-e", "events/error_handler.json", "--parameter-overrides", "oops")[0] == 2
    assert etl("invoke", "ErrorHandlerFunction", "-e", "events/error_handler.json", "--env-vars", "missing.json")[0] == 2


def test_messages_are_filtered_by_queue_topic_execution_and_age(etl) -> None:
    assert etl("run", "--input", "events/execution-failing-source.json", "--name", "dead-one", "--quiet")[0] == 1
    code, out, _ = etl("messages", "--queue", "DeadLetterQueue")
    assert "== sqs: DeadLetterQueue" in out and "== sns:" not in out and "dead-one" in out
    code, out, _ = etl("messages", "--topic", "NotificationTopic", "--execution", "dead-one")
    assert "== sns: NotificationTopic" in out and "== sqs:" not in out
    assert etl("messages", "--execution", "other-one")[1] == "no messages match\n"
    assert etl("messages", "--since", "1h")[1].count("dead-one") == 2
    assert etl("messages", "--since", "2999-01-01")[1] == "no messages match\n"
    code, _, err = etl("messages", "--since", "yesterday")
    assert code == 2 and "--since expects an age like 30m" in err
    lines = [json.loads(line) for line in etl("messages", "--json")[1].splitlines()]
    assert {next(iter(m.items()))[0] for m in lines} == {"sqs", "sns"}


def _etl_process(home: Path, dsn: str, *args: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "etl_local.cli", "--home", str(home), "--virtual-clock", *args],
        cwd=REPO, env={**os.environ, "ETL_WAREHOUSE_DSN": dsn}, stderr=subprocess.PIPE, text=True, **options,
    )


def test_a_closed_pipe_ends_quietly(etl, tmp_path: Path, warehouse_dsn: str) -> None:
    assert etl("run", "--pipeline", "nope", "--name", "piped", "--quiet")[0] == 1
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as after `| head -1`
    process = _etl_process(tmp_path / "home", warehouse_dsn, "history", "piped", stdout=write_end)
    os.close(write_end)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 141 and err == ""


def _as_a_terminal_starts_it() -> None:
    """In the child before exec: Ctrl-C's signal at its default, as a shell gives a job it runs in
    the foreground. A job started in the background without job control (``cmd &`` in a script,
    a CI runner's) inherits SIGINT ignored, and Python then leaves it ignored: the test would wait
    for a KeyboardInterrupt that never comes (it hung so, once, under such a runner)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_a_redrivable_execution(etl, tmp_path: Path, warehouse_dsn: str) -> None:
    process = _etl_process(tmp_path / "home", warehouse_dsn, "--fail", "PlanFunction=hang", "run", "--name", "stopped",
                           preexec_fn=_as_a_terminal_starts_it)
    for line in process.stderr:  # progress: Plan has started, and hangs
        if "start Plan" in line:
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted; execution stopped stopped where it was" in err and "etl redrive stopped" in err
    assert "Traceback" not in err
    code, out, _ = etl("executions")
    assert "RUNNING    stopped" in out
    code, out, err = etl("redrive", "stopped")
    assert code == 0 and "SUCCEEDED" in out, err
