"""The execution graph: statuses from histories, `etl graph --out`, and the served pages in a real
headless Chromium (the Debian `chromium` package; .ci/run installs it when missing)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import pytest

from etl_local.cli import main as etl_main
from etl_local.graph import state_runs

from .conftest import CLIENT_ARGS, ETL_ARN, WAIT_FOR_TOKEN, create, task_token, wait_done

INPUT = json.dumps({"pipeline": "orders", "run_date": "2026-11-26"})
MAIN = ["Start", "CheckInput", "Plan", "ExtractSources", "ExtractSource", "RouteByDataType", "ChooseEngine"]
HAPPY = {**{name: "succeeded" for name in MAIN + ["TransformInLambda", "Validate", "QualityGate", "LoadTargets",
                                                   "LoadTarget", "Finalize", "Summarize", "NotifySuccess"]}}
GLUE = {**{name: "succeeded" for name in MAIN + ["HandleError", "ReattemptOrGiveUp", "ReleaseRunIfPlanned",
                                                  "ReleaseRunLease", "SendToDeadLetterQueue", "NotifyFailure"]},
        "HoldRunThroughGlueJob": "succeeded", "TransformOnGlue": "caught", "PipelineFailed": "failed"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
STATE = re.compile(r'<g class="state s-[a-z_]+" data-state="([^"]+)" data-status="([a-z_]+)"')


def expected(statuses: dict[str, str], definition: dict) -> dict[str, str]:
    """Every state of the definition: the given status, else not reached."""
    names: list[str] = []

    def walk(program: dict) -> None:
        for name, state in program["States"].items():
            names.append(name)
            for branch in state.get("Branches", []):
                walk(branch)
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"])

    walk(definition)
    return {name: statuses.get(name, "not_reached") for name in names}


@pytest.fixture
def executions(server, sfn):
    """A succeeded and a failed execution of the project's machine (MockConfigFile test cases)."""
    for case in ("HappyPath", "GlueFailure"):
        started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#{case}", name=case, input=INPUT)
        wait_done(sfn, started["executionArn"])
    return json.loads(sfn.describe_state_machine(stateMachineArn=ETL_ARN)["definition"])


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed for the graph page tests and is not installed: "
                    "apt-get install chromium (the Debian package; .ci/run installs it when missing)")
    return found


def browse(url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="etl-chromium-") as profile:
        done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_statuses_from_histories(server, sfn, executions):
    for name, statuses in (("HappyPath", HAPPY), ("GlueFailure", GLUE)):
        record = server.runtime.store.load(name)
        runs, _ = state_runs(record["events"], running=False)
        assert {n: run.status for n, run in runs.items()} == statuses
    glue = state_runs(server.runtime.store.load("GlueFailure")["events"], running=False)[0]["TransformOnGlue"]
    assert glue.error == "States.TaskFailed" and "AnalysisException" in glue.cause


def test_retries_and_in_progress(make_server):
    server = make_server(virtual_clock=False, mock_config=None)
    sfn = boto3.client("stepfunctions", endpoint_url=server.url, **CLIENT_ARGS)
    arn = create(sfn, "asks", WAIT_FOR_TOKEN)
    execution = sfn.start_execution(stateMachineArn=arn, name="waiting", input='{"question": "?"}')["executionArn"]
    token = task_token(sfn, execution)
    page = urllib.request.urlopen(f"{server.url}/executions/waiting").read().decode()
    assert dict(STATE.findall(page)) == {"Ask": "in_progress", "Done": "not_reached"}
    assert "data-live='true'" in page
    sfn.send_task_success(taskToken=token, output='{"ok": true}')
    wait_done(sfn, execution)
    fragment = json.loads(urllib.request.urlopen(f"{server.url}/executions/waiting/fragment").read())
    assert fragment["status"] == "SUCCEEDED"
    assert dict(STATE.findall(fragment["html"])) == {"Ask": "succeeded", "Done": "succeeded"}
    listing = urllib.request.urlopen(server.url + "/").read().decode()
    assert "href='/executions/waiting'" in listing and "SUCCEEDED" in listing


def test_etl_graph_writes_svg_and_html(server, executions, tmp_path, capsys):
    home = str(server.runtime.home)
    svg = tmp_path / "glue.svg"
    assert etl_main(["--home", home, "graph", "GlueFailure", "--out", str(svg)]) == 0
    root = ET.parse(svg).getroot()  # well-formed, standalone SVG
    groups = root.findall(".//{http://www.w3.org/2000/svg}g[@data-state]")
    assert {g.get("data-state"): g.get("data-status") for g in groups} == expected(GLUE, executions)
    page = tmp_path / "happy.html"
    assert etl_main(["--home", home, "graph", "HappyPath", "--out", str(page)]) == 0
    text = page.read_text()
    assert dict(STATE.findall(text)) == expected(HAPPY, executions)
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere
    with pytest.raises(SystemExit, match="write a .svg or an .html file"):
        etl_main(["--home", home, "graph", "HappyPath", "--out", str(tmp_path / "x.png")])


@pytest.mark.parametrize("name,statuses", [("HappyPath", HAPPY), ("GlueFailure", GLUE)])
def test_the_execution_page_in_headless_chromium(server, executions, name, statuses, tmp_path):
    url = f"{server.url}/executions/{name}"
    dom = browse(url, "--virtual-time-budget=3000", "--dump-dom").stdout
    assert dict(STATE.findall(dom)) == expected(statuses, executions)
    assert f"<h1>{name}</h1>" in dom and "id=\"events\"" in dom
    shot = tmp_path / f"{name}.png"
    browse(url, "--window-size=1500,1900", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
