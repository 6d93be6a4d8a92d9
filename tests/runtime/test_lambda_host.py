"""The Lambda host: functions run in worker processes as Lambda runs them (issue 10).

Real processes throughout: each function below is a real handler file run by the host's worker
(lambda_worker.py). Concurrency is checked from the recorded start/end of invocations, never
from how long something took.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from etl_local.asl import RealClock, StateMachine, TaskFailed, TaskRegistry
from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef

from .conftest import exits_soon

CURRENT = f"python{sys.version_info.major}.{sys.version_info.minor}"

HANDLERS = {
    "Counter": "import os\nCOUNT = 0\n\ndef handler(event, context):\n    global COUNT\n    COUNT += 1\n"
               "    os.environ['LEAKED_BY_COUNTER'] = 'yes'\n"
               "    return {'count': COUNT, 'pid': os.getpid(), 'secret': os.environ.get('ONLY_COUNTER'),\n"
               "            'leaked': os.environ.get('LEAKED_BY_COUNTER_BEFORE')}\n",
    "Other": "import os, sys\n\ndef handler(event, context):\n"
             "    return {'secret': os.environ.get('ONLY_COUNTER'), 'leaked': os.environ.get('LEAKED_BY_COUNTER'),\n"
             "            'path': sys.path, 'name': os.environ['AWS_LAMBDA_FUNCTION_NAME'],\n"
             "            'memory': os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'], 'region': os.environ['AWS_REGION'],\n"
             "            'from_layer': __import__('shared_thing').VALUE}\n",
    "ImportsProject": "import etl_local  # the project is not in a Lambda package\n\ndef handler(event, context):\n    return 1\n",
    "Sleeper": "import time\n\ndef handler(event, context):\n    time.sleep(event.get('seconds', 0))\n"
               "    return {'index': event.get('index')}\n",
    "Napper": "import time\n\ndef handler(event, context):\n    time.sleep(event.get('seconds', 0))\n"
              "    return {'index': event.get('index')}\n",
    "Clock": "import time\n\ndef handler(event, context):\n    first = context.get_remaining_time_in_millis()\n"
             "    time.sleep(0.05)\n    return [first, context.get_remaining_time_in_millis(), context.aws_request_id]\n",
    "Gate": "import os, time\n\ndef handler(event, context):\n    while not os.path.exists(event['gate']):\n"
            "        time.sleep(0.02)\n    return 'opened'\n",
    "Printer": "import sys\n\ndef handler(event, context):\n    print('to stdout', event)\n"
               "    print('to stderr', file=sys.stderr)\n    return None\n",
}
TIMEOUTS = {"Sleeper": 1}
RESERVED = {"Gate": 1}


def _functions(root: Path) -> dict[str, FunctionDef]:
    layer = root / "layer"
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "shared_thing.py").write_text("VALUE = 'from the layer'\n")
    found = {}
    for name, code in HANDLERS.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.py").write_text(code)
        found[name] = FunctionDef(
            logical_id=name, code_uri=folder, handler="app.handler", runtime=CURRENT,
            timeout=TIMEOUTS.get(name, 30), memory_size=256,
            environment={"ONLY_COUNTER": "counter's"} if name == "Counter" else {},
            layer_dirs=[layer], reserved_concurrency=RESERVED.get(name))
    return found


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaHost]:
    root = tmp_path_factory.mktemp("functions")
    with LambdaHost(_functions(root), lambda name: {"FROM_ENV_FILE": name}, root / "logs") as shared:
        yield shared


def test_one_functions_environment_and_module_state_are_invisible_to_another(host: LambdaHost) -> None:
    first, second = host.value("Counter", {}), host.value("Counter", {})
    other = host.value("Other", {})
    assert second["count"] == first["count"] + 1 and second["pid"] == first["pid"]  # warm: same environment
    assert first["secret"] == "counter's" and other["secret"] is None
    assert other["leaked"] is None  # what Counter put in its os.environ stays in its process
    assert other["name"] == "Other" and other["memory"] == "256" and other["region"]
    assert other["from_layer"] == "from the layer"


def test_the_path_holds_the_function_and_its_layers_and_nothing_of_the_project(host: LambdaHost) -> None:
    path = host.value("Other", {})["path"]
    code, layer = str(host.functions["Other"].code_uri), str(host.functions["Other"].layer_dirs[0])
    assert path[:2] == [code, layer]
    repo = str(Path(__file__).resolve().parents[2])
    assert not [entry for entry in path if entry == repo or entry.startswith(repo + "/etl_local")]
    with pytest.raises(LambdaFunctionFailed) as failed:
        host.value("ImportsProject", {})
    assert failed.value.body["errorType"] == "Runtime.ImportModuleError"
    assert failed.value.body["errorMessage"] == "Unable to import module 'app': No module named 'etl_local'"


def test_the_context_counts_down_from_the_timeout(host: LambdaHost) -> None:
    first, second, request_id = host.value("Clock", {})
    assert 0 < second < first <= 30_000
    assert re.fullmatch(r"[0-9a-f-]{36}", request_id)


def test_output_goes_to_the_functions_log_with_report_lines(host: LambdaHost) -> None:
    response = host.invoke("Printer", {"n": 1})
    host.invoke("Printer", {"n": 2})
    assert response.payload == b"null"
    log = (host.log_dir / "Printer.log").read_text()
    assert "to stdout {'n': 1}" in log and "to stderr" in log
    reports = re.findall(r"^REPORT RequestId: ([0-9a-f-]{36})\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
                         r"Memory Size: 256 MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d\d) ms\t)?$",
                         log, re.MULTILINE)
    assert len(reports) == 2
    assert reports[0][0] == response.request_id
    assert reports[0][4] and not reports[1][4]  # Init Duration on the cold start only
    assert all(int(billed) >= float(duration) for _, duration, billed, _, _ in reports)
    assert f"START RequestId: {response.request_id} Version: $LATEST" in log


def test_a_timed_out_invocation_kills_its_environment(host: LambdaHost) -> None:
    host.value("Sleeper", {"seconds": 0})
    with pytest.raises(LambdaFunctionFailed) as failed:
        host.value("Sleeper", {"seconds": 60})
    body = failed.value.body
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", body["errorMessage"])
    assert "Task timed out after 1.00 seconds" in (host.log_dir / "Sleeper.log").read_text()
    host.value("Sleeper", {"seconds": 0})
    sleeper = [record for record in host.records if record.function == "Sleeper"]
    assert [record.cold for record in sleeper] == [True, False, True]  # the next one starts a new environment


def test_reserved_concurrency_throttles_beyond_it(host: LambdaHost, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(host.value("Gate", {"gate": str(gate)})))
    first.start()
    while host._pools["Gate"].busy == 0:  # the first invocation holds the only reserved environment
        time.sleep(0.01)
    with pytest.raises(TaskFailed) as throttled:
        host.value("Gate", {"gate": str(gate)})
    gate.touch()
    first.join()
    assert results == ["opened"]
    assert throttled.value.error == "Lambda.TooManyRequestsException"
    assert throttled.value.cause.startswith("Rate Exceeded. (Service: AWSLambda; Status Code: 429; "
                                            "Error Code: TooManyRequestsException; Request ID: ")


def test_map_iterations_invoke_concurrently_up_to_max_concurrency(host: LambdaHost) -> None:
    definition = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "MaxConcurrency": 4, "End": True,
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "seconds": 1},
        "ItemProcessor": {"StartAt": "Sleep", "States": {"Sleep": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Napper", "End": True}}}}}}
    tasks = TaskRegistry()
    tasks.set_lambda_resolver(lambda name: (host.resolve(name), lambda event, ctx: host.invoke(name, event))[1])
    before = len(host.records)
    result = StateMachine(definition).execute(list(range(4)), tasks=tasks, clock=RealClock())
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [{"index": i} for i in range(4)]
    runs = host.records[before:]
    assert len(runs) == 4
    assert max(run.started for run in runs) < min(run.ended for run in runs)  # all four ran at the same time


def test_environments_exit_when_their_host_dies(tmp_path: Path) -> None:
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom etl_local.lambda_host import LambdaHost\n"
        "from etl_local.sam_template import FunctionDef\n"
        f"fn = FunctionDef('Counter', Path({str(tmp_path)!r}), 'app.handler', {CURRENT!r}, 30, 128, {{}}, [])\n"
        "host = LambdaHost({'Counter': fn}, lambda name: {})\n"
        "print(host.value('Counter', {})['pid'], flush=True)\n"
        "import os; os._exit(0)  # no close(): the environment must notice by itself\n"
    )
    (tmp_path / "app.py").write_text(HANDLERS["Counter"])
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    pid = int(out.stdout.strip())
    assert exits_soon(pid)


def test_a_package_missing_from_the_build_fails_as_on_aws(tmp_path: Path) -> None:
    """--from-build: the function's build folder and its layer's python/ folder, nothing else."""
    build = tmp_path / ".aws-sam" / "build"
    (build / "Fn").mkdir(parents=True)
    (build / "Fn" / "app.py").write_text("import duckdb\n\ndef handler(event, context):\n    return 1\n")
    (build / "Layer" / "python").mkdir(parents=True)
    (build / "Ok").mkdir(parents=True)
    (build / "Ok" / "app.py").write_text("import sys, boto3, layer_mod\n\ndef handler(event, context):\n"
                                         "    return [sys.version_info[0], sys.version_info[1], layer_mod.X]\n")
    (build / "Layer" / "python" / "layer_mod.py").write_text("X = 7\n")
    functions = {name: FunctionDef(name, tmp_path / "src", "app.handler", "python3.12", 30, 128, {}, [],
                                   build_dir=build / name, layer_build_dirs=[build / "Layer"]) for name in ("Fn", "Ok")}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs", from_build=True,
                    runtime_dir=tmp_path / "runtime", warn=lambda message: None) as host:
        with pytest.raises(LambdaFunctionFailed) as failed:
            host.value("Fn", {})
        assert failed.value.body == {"errorMessage": "Unable to import module 'app': No module named 'duckdb'",
                                     "errorType": "Runtime.ImportModuleError", "requestId": failed.value.body["requestId"],
                                     "stackTrace": []}
        major, minor, layer_value = host.value("Ok", {})  # boto3 comes from the runtime, as on Lambda
        assert layer_value == 7
        expected = "3.12" if host.interpreter(functions["Ok"]) != sys.executable else CURRENT.removeprefix("python")
        assert f"{major}.{minor}" == expected


def test_responses_are_marshalled_as_lambdas_python_runtime_does(tmp_path: Path) -> None:
    cases = {"Bytes": "return b'[1, 2]'", "Unjson": "return {1, 2}", "Text": "return 'x'", "Huge": "return 'a' * 6_300_000"}
    functions = {}
    for name, body in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(f"def handler(event, context):\n    {body}\n")
        functions[name] = FunctionDef(name, tmp_path / name, "app.handler", CURRENT, 30, 128, {}, [])
    with LambdaHost(functions, lambda name: {}) as host:
        assert host.invoke("Bytes", {}).payload == b"[1, 2]"
        assert host.invoke("Text", {}).payload == b'"x"'
        with pytest.raises(LambdaFunctionFailed) as too_large:
            host.invoke("Huge", {})
        with pytest.raises(LambdaFunctionFailed) as failed:
            host.invoke("Unjson", {})
    assert too_large.value.body == {"errorMessage": "Response payload size (6300002 bytes) exceeded maximum allowed "
                                                    "payload size (6291556 bytes).",
                                    "errorType": "Function.ResponseSizeTooLarge"}
    assert failed.value.body["errorType"] == "Runtime.MarshalError"
    assert failed.value.body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert json.loads(json.dumps(failed.value.body))["stackTrace"] == []


def test_the_lambda_cases_match_aws_recordings() -> None:
    """tests/conformance/lambda_cases.json: real handlers in worker processes against AWS's recorded results."""
    import io

    from etl_local.conformance import run_corpus

    corpus = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "lambda_cases.json"
    out = io.StringIO()
    passed, failed = run_corpus(corpus, out, strict=True)
    assert failed == 0, out.getvalue()
    assert passed == len(json.loads(corpus.read_text())["cases"])


def test_enforced_memory_fails_as_lambda_does_and_discards_the_environment(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return len(bytearray(event['mb'] * 1024 * 1024))\n")
    fn = FunctionDef("Hungry", tmp_path, "app.handler", CURRENT, 30, 256, {}, [])
    with LambdaHost({"Hungry": fn}, lambda name: {}, tmp_path / "logs", enforce_memory=True) as host:
        assert host.value("Hungry", {"mb": 1}) == 1024 * 1024
        with pytest.raises(LambdaFunctionFailed) as failed:
            host.value("Hungry", {"mb": 512})
        assert failed.value.body["errorType"] == "Runtime.OutOfMemory"
        assert failed.value.body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
        host.value("Hungry", {"mb": 1})
        assert [record.cold for record in host.records] == [True, False, True]


def test_error_lines_in_the_functions_log_are_redacted(tmp_path: Path) -> None:
    """An error raised at import or in the handler may echo a secret (a driver quoting its DSN):
    the traceback Lambda logs for it reaches the function's log through redaction."""
    from etl_core.redaction import register

    secret = "tok-" + os.urandom(6).hex()
    register(secret)
    dsn = "postgresql://etl:pw-in-a-url-" + os.urandom(4).hex() + "@db/etl"
    (tmp_path / "AtImport").mkdir()
    (tmp_path / "AtImport" / "app.py").write_text(
        f"def connect():\n    raise RuntimeError('cannot connect with {secret}')\n\nconnect()\n\n"
        "def handler(event, context):\n    return 1\n")
    (tmp_path / "InHandler").mkdir()
    (tmp_path / "InHandler" / "app.py").write_text(
        f"def handler(event, context):\n    raise ValueError('bad DSN {dsn}')\n")
    functions = {name: FunctionDef(name, tmp_path / name, "app.handler", CURRENT, 30, 128, {}, [])
                 for name in ("AtImport", "InHandler")}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs") as host:
        with pytest.raises(LambdaFunctionFailed) as at_import:
            host.value("AtImport", {})
        with pytest.raises(LambdaFunctionFailed) as in_handler:
            host.value("InHandler", {})
    assert at_import.value.body["errorType"] == "RuntimeError"
    assert in_handler.value.body["errorType"] == "ValueError"
    import_log = (tmp_path / "logs" / "AtImport.log").read_text()
    handler_log = (tmp_path / "logs" / "InHandler.log").read_text()
    assert "[ERROR] RuntimeError: cannot connect with ***\nTraceback (most recent call last):\n" in import_log
    assert 'app.py", line 2, in connect' in import_log and "END RequestId: " in import_log
    assert "[ERROR] ValueError: bad DSN postgresql://etl:***@db/etl\nTraceback" in handler_log
    assert secret not in import_log and dsn not in handler_log and "pw-in-a-url" not in handler_log
    assert re.search(r"^REPORT RequestId: .*Init Duration", handler_log, re.MULTILINE)


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_an_environment_that_exits_is_a_runtime_exit_error(tmp_path: Path, fork_server: bool) -> None:
    """An exit at import or in the handler ends the environment: Runtime.ExitError with its exit
    status, as Lambda reports it (not a timeout), logged with END and REPORT; the next call starts afresh."""
    (tmp_path / "AtImport").mkdir()
    (tmp_path / "AtImport" / "app.py").write_text("import sys\nsys.exit(3)\n\ndef handler(event, context):\n    return 1\n")
    (tmp_path / "InHandler").mkdir()
    # Exiting slowly: its pipes close a second before the process ends (the host must not call that a timeout).
    (tmp_path / "InHandler" / "app.py").write_text("import os, time\n\ndef handler(event, context):\n"
                                                    "    if event.get('exit'):\n        os.closerange(3, 4096)\n"
                                                    "        time.sleep(1)\n        os._exit(5)\n    return 'ok'\n")
    functions = {name: FunctionDef(name, tmp_path / name, "app.handler", CURRENT, 30, 128, {}, [])
                 for name in ("AtImport", "InHandler")}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs", fork_server=fork_server) as host:
        with pytest.raises(LambdaFunctionFailed) as at_import:
            host.value("AtImport", {})
        with pytest.raises(LambdaFunctionFailed) as in_handler:
            host.value("InHandler", {"exit": True})
        assert host.value("InHandler", {}) == "ok"
        assert [record.cold for record in host.records if record.function == "InHandler"] == [True, True]
    assert at_import.value.body["errorType"] == in_handler.value.body["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3",
                        at_import.value.body["errorMessage"])
    assert in_handler.value.body["errorMessage"].endswith("Error: Runtime exited with error: exit status 5")
    log = (tmp_path / "logs" / "InHandler.log").read_text()
    assert "Error: Runtime exited with error: exit status 5\nRuntime.ExitError\nEND RequestId: " in log
    assert len(re.findall(r"^REPORT RequestId: ", log, re.MULTILINE)) == 2
