"""What the Lambda host writes to a function's log about each invocation, by its LoggingConfig.

Lambda's system logs: with ``LogFormat: Text`` (or no LoggingConfig) the ``START``/``END``/``REPORT``
lines; with ``JSON`` (what template.yaml sets) one JSON record per line, in the Telemetry API's
event shape: ``platform.initStart`` on a cold start, ``platform.start``, ``platform.report`` with
the metrics and the status (``success``, ``error`` + ``errorType``, ``timeout``), and no END.
Shapes as AWS documents them (telemetry-schema-reference) and as real CloudWatch Logs of
JSON-format functions show them. Real worker processes throughout; the records are read back with
``etl_local.telemetry``, the reader ``etl rightsize`` uses.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef, SamApp, TemplateError
from etl_local.telemetry import read_lines, report_lines

CURRENT = f"python{sys.version_info.major}.{sys.version_info.minor}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

HANDLER = ("import json, os, sys, time\n\ndef handler(event, context):\n"
           "    print(json.dumps({'level': 'INFO', 'message': 'application output', 'n': event.get('n')}))\n"
           "    if event.get('raise'):\n        raise ValueError('the handler failed')\n"
           "    if event.get('exit'):\n        sys.stdout.flush()\n        os._exit(4)\n"
           "    time.sleep(event.get('seconds', 0))\n    return event.get('n')\n")
#: name -> (LogFormat, SystemLogLevel)
FUNCTIONS = {"TextFn": ("Text", "INFO"), "JsonFn": ("JSON", "INFO"), "QuietFn": ("JSON", "WARN"),
             "DebugFn": ("JSON", "DEBUG"), "SlowFn": ("JSON", "INFO"), "FailingFn": ("JSON", "INFO")}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaHost]:
    root = tmp_path_factory.mktemp("system-logs")
    functions = {}
    for name, (log_format, level) in FUNCTIONS.items():
        (root / name).mkdir()
        (root / name / "app.py").write_text(HANDLER)
        functions[name] = FunctionDef(name, root / name, "app.handler", CURRENT, 1 if name == "SlowFn" else 30, 256, {}, [],
                                      log_format=log_format, system_log_level=level)
    (root / "BrokenFn").mkdir()
    (root / "BrokenFn" / "app.py").write_text("import not_a_module_anywhere\n")
    functions["BrokenFn"] = FunctionDef("BrokenFn", root / "BrokenFn", "app.handler", CURRENT, 30, 256, {}, [],
                                        log_format="JSON")
    with LambdaHost(functions, lambda name: {}, root / "logs") as shared:
        yield shared


def _log(host: LambdaHost, name: str) -> list[str]:
    assert host.log_dir is not None
    return read_lines(host.log_dir / f"{name}.log")


def _records(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON system-log records among a log's lines (application output has no "type")."""
    return [record for record in (json.loads(line) for line in lines if line.startswith('{"time"')) if "type" in record]


def _billed(billed: int, duration: float, init: float | None, rounding: float) -> bool:
    """Billed is the duration plus a cold start's init, rounded up to the ms (init billed since
    2025-08-01; a real JSON record: durationMs 1233.96 + initDurationMs 463.512 -> 1698), allowing
    for the printed values' own rounding."""
    spent = duration + (init or 0.0)
    return spent - 2 * rounding <= billed < spent + 1 + 2 * rounding


def test_text_format_keeps_start_end_and_report_lines(host: LambdaHost) -> None:
    first, second = host.invoke("TextFn", {"n": 1}), host.invoke("TextFn", {"n": 2})
    lines = _log(host, "TextFn")
    assert _records(lines) == [] and not any("platform." in line for line in lines)
    assert lines.count(f"START RequestId: {first.request_id} Version: $LATEST") == 1
    assert f"END RequestId: {second.request_id}" in lines
    assert re.fullmatch(rf"REPORT RequestId: {first.request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t",
                        next(line for line in lines if line.startswith(f"REPORT RequestId: {first.request_id}")))
    reports = list(report_lines(lines))
    assert [r.request_id for r in reports] == [first.request_id, second.request_id]
    assert reports[0].init_ms is not None and reports[1].init_ms is None
    assert all(r.memory_mb == 256 for r in reports)
    assert all(_billed(r.billed_ms, r.duration_ms, r.init_ms, 0.01) for r in reports)


def test_json_format_writes_platform_records_and_no_text_lines(host: LambdaHost) -> None:
    first, second = host.invoke("JsonFn", {"n": 1}), host.invoke("JsonFn", {"n": 2})
    lines = _log(host, "JsonFn")
    assert not [line for line in lines if re.match(r"(START|END|REPORT) RequestId", line)]
    # Application output (already JSON, as Powertools writes it) is what the function printed.
    assert [json.loads(line)["n"] for line in lines if '"application output"' in line] == [1, 2]
    records = _records(lines)
    assert [r["type"] for r in records] == ["platform.initStart", "platform.start", "platform.report",
                                            "platform.start", "platform.report"]
    assert all(re.fullmatch(TIME, r["time"]) for r in records)
    assert all(line == json.dumps(r, separators=(",", ":")) for line, r in zip(
        [line for line in lines if line.startswith('{"time"')], records))  # one compact record per line
    init, start, report = records[:3]
    assert init["record"] == {"initializationType": "on-demand", "phase": "init", "functionName": "JsonFn",
                              "functionVersion": "$LATEST", "instanceMaxMemory": 256 * 1024 * 1024}
    assert start["record"] == {"requestId": first.request_id, "functionArn": host.functions["JsonFn"].arn,
                               "version": "$LATEST"}
    assert list(report["record"]) == ["requestId", "metrics", "status"]
    assert report["record"]["requestId"] == first.request_id and report["record"]["status"] == "success"
    metrics = report["record"]["metrics"]
    assert list(metrics) == ["durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"]
    assert metrics["memorySizeMB"] == 256 and metrics["maxMemoryUsedMB"] > 0 and metrics["initDurationMs"] > 0
    assert isinstance(metrics["billedDurationMs"], int)
    assert _billed(metrics["billedDurationMs"], metrics["durationMs"], metrics["initDurationMs"], 0.001)
    warm = records[4]["record"]["metrics"]
    assert _billed(warm["billedDurationMs"], warm["durationMs"], None, 0.001)
    assert "initDurationMs" not in records[4]["record"]["metrics"]  # warm: no init
    # The application's line comes between the invocation's start and its report.
    assert lines.index(next(line for line in lines if '"n": 1' in line)) < lines.index(
        next(line for line in lines if '"platform.report"' in line))
    reports = list(report_lines(lines))
    assert [r.request_id for r in reports] == [first.request_id, second.request_id]
    assert reports[0].init_ms == metrics["initDurationMs"] and reports[1].init_ms is None
    assert reports[0].duration_ms == metrics["durationMs"] and reports[0].max_memory_used_mb == metrics["maxMemoryUsedMB"]


def test_system_log_level_warn_hides_the_platform_records_and_not_the_application_output(host: LambdaHost) -> None:
    host.invoke("QuietFn", {"n": 7})
    host.invoke("DebugFn", {"n": 8})
    quiet, debug = _log(host, "QuietFn"), _log(host, "DebugFn")
    assert _records(quiet) == [] and list(report_lines(quiet)) == []
    assert [json.loads(line)["n"] for line in quiet] == [7]
    assert [r["type"] for r in _records(debug)] == ["platform.initStart", "platform.start", "platform.report"]


def test_a_functions_error_is_a_report_with_status_success_and_its_error_lines(host: LambdaHost) -> None:
    """The runtime catches the handler's exception and answers with it: for the platform the
    invocation succeeded (AWS: aws-samples/aws-lambda-extensions#85), the error is in the log."""
    host.invoke("FailingFn", {"n": 0})
    with pytest.raises(LambdaFunctionFailed) as failed:
        host.invoke("FailingFn", {"raise": True})
    lines = _log(host, "FailingFn")
    assert "[ERROR] ValueError: the handler failed" in lines
    report = _records(lines)[-1]
    assert report["type"] == "platform.report" and report["record"]["status"] == "success"
    assert "errorType" not in report["record"] and failed.value.body["errorType"] == "ValueError"


def test_a_failed_init_is_a_report_with_status_error_and_its_error_type(host: LambdaHost) -> None:
    with pytest.raises(LambdaFunctionFailed) as failed:
        host.invoke("BrokenFn", {})
    assert failed.value.body["errorType"] == "Runtime.ImportModuleError"
    records = _records(_log(host, "BrokenFn"))
    assert [r["type"] for r in records] == ["platform.initStart", "platform.start", "platform.report"]
    assert records[-1]["record"]["status"] == "error"
    assert records[-1]["record"]["errorType"] == "Runtime.ImportModuleError"
    assert records[-1]["record"]["metrics"]["initDurationMs"] > 0


def test_the_hosts_own_reports_timeout_and_exit_carry_their_status(host: LambdaHost) -> None:
    with pytest.raises(LambdaFunctionFailed) as timed_out:
        host.invoke("SlowFn", {"seconds": 60})
    with pytest.raises(LambdaFunctionFailed) as exited:
        host.invoke("SlowFn", {"exit": True})
    assert timed_out.value.body["errorType"] == "Sandbox.Timedout" and exited.value.body["errorType"] == "Runtime.ExitError"
    lines = _log(host, "SlowFn")
    assert not [line for line in lines if re.match(r"(START|END|REPORT) RequestId", line)]
    reports = [r["record"] for r in _records(lines) if r["type"] == "platform.report"]
    assert [(r["status"], r.get("errorType")) for r in reports] == [("timeout", None), ("error", "Runtime.ExitError")]
    assert reports[0]["metrics"]["durationMs"] == 1000.0 and reports[0]["metrics"]["billedDurationMs"] == 1000  # the Timeout
    assert reports[0]["metrics"]["memorySizeMB"] == 256
    assert all(re.fullmatch(UUID, r["requestId"]) for r in reports)
    assert [r.request_id for r in report_lines(lines)] == [r["requestId"] for r in reports]
    assert any(line.endswith("Task timed out after 1.00 seconds") for line in lines)


TEMPLATE = """
Globals:
  Function:
    Runtime: python3.12
    LoggingConfig:
      LogFormat: JSON
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/fn/, Handler: app.handler}
  Quiet:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/fn/, Handler: app.handler, LoggingConfig: {SystemLogLevel: WARN}}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/fn/, Handler: app.handler, LoggingConfig: {LogFormat: Text}}
"""


def test_the_templates_logging_config_reaches_each_function(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    functions = SamApp(tmp_path / "template.yaml").functions()
    assert {name: (fn.log_format, fn.system_log_level) for name, fn in functions.items()} == {
        "Fn": ("JSON", "INFO"), "Quiet": ("JSON", "WARN"), "Plain": ("Text", "INFO")}
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("LogFormat: Text", "LogFormat: Json"))
    with pytest.raises(TemplateError, match=r"template.yaml: Plain: LoggingConfig.LogFormat must be Text or JSON, not 'Json'"):
        SamApp(tmp_path / "template.yaml").functions()


def test_memory_past_the_functions_size_is_a_report_with_status_error_out_of_memory(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return len(bytearray(event['mb'] * 1024 * 1024))\n")
    fn = FunctionDef("Hungry", tmp_path, "app.handler", CURRENT, 30, 256, {}, [], log_format="JSON")
    with LambdaHost({"Hungry": fn}, lambda name: {}, tmp_path / "logs", enforce_memory=True) as host:
        host.invoke("Hungry", {"mb": 1})
        with pytest.raises(LambdaFunctionFailed) as failed:
            host.invoke("Hungry", {"mb": 512})
    assert failed.value.body["errorType"] == "Runtime.OutOfMemory"
    reports = [r["record"] for r in _records(read_lines(tmp_path / "logs" / "Hungry.log")) if r["type"] == "platform.report"]
    assert [(r["status"], r.get("errorType")) for r in reports] == [("success", None), ("error", "Runtime.OutOfMemory")]
