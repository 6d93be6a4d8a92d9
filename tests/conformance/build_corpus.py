"""Build the recorded part of ``asl_cases.json`` from authored cases and AWS recordings.

An authored case (``tests/conformance/authored/*.py``, list ``CASES``) is our own definition
and, where needed, input, plus a pointer to the execution AWS recorded for the same
definition: ``source = "<file under tests/aws/services/stepfunctions/v2/>::<test id>"`` and
``record`` (the snapshot key, ``get_execution_history`` by default). This script reads that
recording from a git copy of localstack/localstack (the snapshots are recorded against real
AWS, ``markers.aws.validated``) and writes the case with its expected status, output, error,
cause and history into the corpus, replacing the cases it wrote before. Hand-written cases
(those without ``"recorded_by": "build_corpus"``) are kept as they are.

    python tests/conformance/build_corpus.py --localstack /path/to/localstack.git

Nothing of localstack's code is copied: only recorded facts (events, outputs, errors, causes).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "asl_cases.json"
PREFIX = "tests/aws/services/stepfunctions/v2/"
MARK = "build_corpus"
#: localstack's snapshot names for values that differ per run, as ``<...>`` placeholders.
BARE_PLACEHOLDERS = {"snf_role_arn": "<role_arn>", "sfn_role_arn": "<role_arn>", "execution_arn": "<execution_arn>",
                     "map_run_arn": "<map_run_arn>", "timestamp": "<timestamp>", "state_machine_arn": "<state_machine_arn>"}


class Recordings:
    """Snapshot files read from a localstack git directory (HEAD), parsed once each."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self.commit = self._git("rev-parse", "HEAD").strip()
        self._files: dict[str, dict[str, Any]] = {}

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", self.git_dir, *args], check=True,
                              capture_output=True, text=True).stdout

    def recorded(self, source: str) -> dict[str, Any]:
        """The recorded content of one test (``file::test id``)."""
        file, _, test = source.partition("::")
        if file not in self._files:
            self._files[file] = json.loads(self._git("show", f"HEAD:{PREFIX}{file}"))
        return self._files[file][f"{PREFIX}{file.replace('.snapshot.json', '.py')}::{test}"]["recorded-content"]

    def recorded_date(self, source: str) -> str:
        """When the test was recorded, as YYYYMMDD."""
        file, _, test = source.partition("::")
        self.recorded(source)
        day, month, rest = self._files[file][f"{PREFIX}{file.replace('.snapshot.json', '.py')}::{test}"][
            "recorded-date"].split("-", 2)
        return rest[:4] + month + day

    def records(self, source: str, record: str) -> list[str]:
        """The snapshot keys ``record`` names; ``exec_hist_resp_*`` is every numbered one, in order."""
        if not record.endswith("*"):
            return [record]
        keys = [key for key in self.recorded(source) if key.startswith(record[:-1])]
        return sorted(keys, key=lambda key: int(key[len(record) - 1:] or 0))


#: A Lambda's stack trace names its code's path on AWS (/var/task/handler.py): it cannot match
#: locally, so it is a placeholder, also inside a Cause text.
_STACK_TRACE_TEXT = re.compile(r'(\\*"stackTrace\\*": )\[.*\]')


def normalise(value: Any, extra: dict[str, str]) -> Any:
    """Recorded values with per-run parts turned into ``<...>`` placeholders (``extra``: the
    case's own, e.g. localstack's ``"RandomNumberGenerated"`` for a random number)."""
    if isinstance(value, dict):
        if value.get("id") == [0]:  # localstack masks the ids of concurrent branches' events
            value = {**value, "id": "<id>", "previousEventId": "<id>"}
        return {key: "<stack-trace>" if key == "stackTrace" else normalise(item, extra)
                for key, item in value.items() if key != "timestamp"}
    if isinstance(value, list):
        return [normalise(item, extra) for item in value]
    if isinstance(value, str):
        if value in extra:
            return extra[value]
        if value in BARE_PLACEHOLDERS:
            return BARE_PLACEHOLDERS[value]
        value = _STACK_TRACE_TEXT.sub(lambda match: match.group(1) + "<stack-trace>", value)
        return re.sub(r"\b111111111111\b", "<account>", value)
    return value


def expected_from_history(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Status, output, error and cause as the last event of a recorded history gives them."""
    last = events[-1]
    expected: dict[str, Any] = {}
    if last["type"] == "ExecutionSucceeded":
        expected["status"] = "SUCCEEDED"
        output = last["executionSucceededEventDetails"]["output"]
        # localstack parses objects it records, but keeps any other JSON text as the string
        expected["output"] = json.loads(output) if isinstance(output, str) else output
    elif last["type"] == "ExecutionFailed":
        details = last.get("executionFailedEventDetails", {})
        expected["status"] = "FAILED"
        expected["error"] = details.get("error")
        cause = details.get("cause")
        expected["cause"] = cause if cause is None or isinstance(cause, str) else json.dumps(cause)
        if cause is not None and not isinstance(cause, str):
            del expected["cause"]  # a parsed JSON cause is checked through the history only
    elif last["type"] == "ExecutionTimedOut":
        expected["status"] = "TIMED_OUT"
    else:
        raise ValueError(f"recording ends with {last['type']}, not a final event")
    return expected


def recorded_input(started: dict[str, Any]) -> Any:
    """The execution input: localstack records objects parsed and anything else as its JSON text."""
    value = started["executionStartedEventDetails"]["input"]
    return json.loads(value) if isinstance(value, str) else value


def has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_placeholder(item) for item in value.values())
    if isinstance(value, list):
        return any(has_placeholder(item) for item in value)
    return isinstance(value, str) and re.search(r"<[^<>]*>", value) is not None


def build_definition_case(authored: dict[str, Any], recordings: Recordings) -> dict[str, Any]:
    """A definition AWS rejected: the InvalidDefinition message of CreateStateMachine, or the
    diagnostics of ValidateStateMachineDefinition, as recorded."""
    record = authored["record"]
    recorded = recordings.recorded(authored["source"])[record]
    expected: dict[str, Any] = {"status": "INVALID_DEFINITION"}
    if "diagnostics" in recorded:
        expected["diagnostics"] = recorded["diagnostics"]
        expected["error_contains"] = [entry["message"] for entry in recorded["diagnostics"]]
    else:
        expected["message"] = recorded["Error"]["Message"]
    return {"id": authored["id"], "category": "definition", "about": authored.get("about", ""),
            "source": f"localstack/localstack@{recordings.commit[:8]}:{PREFIX}{authored['source']} [{record}]",
            "recorded_by": MARK, "definition": authored["definition"], "expected": expected}


def build_outcome_cases(authored: dict[str, Any], recordings: Recordings) -> list[dict[str, Any]]:
    """Cases from a recorded list of ``{input, output}`` pairs (localstack's ``cases`` record):
    one execution each, compared by final output; ``definition`` is a function of the input."""
    record = authored["record"]
    cases = []
    for index, pair in enumerate(recordings.recorded(authored["source"])[record]):
        execution_input = json.loads(pair["input"]) if isinstance(pair["input"], str) else pair["input"]
        output = pair["output"]
        cases.append({
            "id": f"{authored['id']}_{index}", "category": authored["category"], "basis": "recorded",
            "source": f"localstack/localstack@{recordings.commit[:8]}:{PREFIX}{authored['source']} [{record}[{index}]]",
            "recorded_by": MARK, "definition": authored["definition_for"](execution_input),
            "input": execution_input,
            "expected": {"status": "SUCCEEDED", "output": json.loads(output) if isinstance(output, str) else output}})
    return cases


def build_cases(authored: dict[str, Any], recordings: Recordings) -> list[dict[str, Any]]:
    """One case per recorded execution the authored case points at."""
    if "definition_for" in authored:
        return build_outcome_cases(authored, recordings)
    records = recordings.records(authored["source"], authored.get("record", "get_execution_history"))
    if len(records) == 1:
        return [build_case(authored, recordings, records[0], authored["id"])]
    return [build_case(authored, recordings, record, f"{authored['id']}_{record.rsplit('_', 1)[-1]}")
            for record in records]


#: Event chains AWS has since changed, with the first recording showing the new chain: older
#: recordings of them keep their outcome but not their history (AWS_BEHAVIOURS #34).
SUPERSEDED = [("MapRunStarted", "20241113", "Distributed Map events were chained differently before November 2024")]


def superseded(events: list[dict[str, Any]], date: str) -> str | None:
    types = {event["type"] for event in events}
    return next((why for event_type, since, why in SUPERSEDED if event_type in types and date < since), None)


def build_case(authored: dict[str, Any], recordings: Recordings, record: str, case_id: str) -> dict[str, Any]:
    recorded = recordings.recorded(authored["source"])[record]
    events = normalise(recorded["events"], authored.get("placeholders", {}))
    outdated = superseded(events, recordings.recorded_date(authored["source"]))
    case: dict[str, Any] = {
        "id": case_id,
        "category": authored["category"],
        "about": authored.get("about", ""),
        "basis": "recorded",
        "source": f"localstack/localstack@{recordings.commit[:8]}:{PREFIX}{authored['source']} [{record}]",
        "recorded_by": MARK,
        "definition": authored["definition"],
        "input": authored["input"] if "input" in authored else recorded_input(events[0]),
    }
    expected = expected_from_history(events)
    if "output" in expected and has_placeholder(expected["output"]):
        del expected["output"]  # a placeholder in the output: the history still checks it
    if outdated:
        case["notes"] = f"History not compared: {outdated} (recorded {recordings.recorded_date(authored['source'])})."
    elif not authored.get("no_history"):
        expected["history"] = events
    expected.update(authored.get("expected", {}))
    case["expected"] = expected
    for key in ("pending", "notes", "functions", "s3"):
        if key in authored:
            case[key] = authored[key]
    return case


def authored_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for module_path in sorted((HERE / "authored").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"authored_{module_path.stem}", module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--localstack", required=True, help="git directory of a localstack/localstack copy")
    args = parser.parse_args(argv)
    recordings = Recordings(args.localstack)
    corpus = json.loads(CORPUS.read_text())
    kept = [case for case in corpus["cases"] if case.get("recorded_by") != MARK]
    kept_definitions = [case for case in corpus["definition_validation_cases"] if case.get("recorded_by") != MARK]
    authored = authored_cases()
    built = [case for one in authored if not one.get("invalid") for case in build_cases(one, recordings)]
    definitions = [build_definition_case(one, recordings) for one in authored if one.get("invalid")]
    corpus["definition_validation_cases"] = kept_definitions + definitions
    ids = [case["id"] for case in kept + built + corpus["definition_validation_cases"]]
    duplicates = {name for name in ids if ids.count(name) > 1}
    if duplicates:
        raise SystemExit(f"duplicate case ids: {sorted(duplicates)}")
    corpus["cases"] = kept + built
    CORPUS.write_text(json.dumps(corpus, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(built)} recorded cases written, {len(kept)} hand-written kept: {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
