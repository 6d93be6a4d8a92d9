"""`etl`: run the SAM application's state machine and functions on this machine.

    etl run [--input FILE] [--json]        start an execution and wait for it (DescribeExecution shape with --json)
    etl invoke FUNCTION --event FILE       what `sam local invoke FUNCTION -e FILE` does, without Docker
    etl executions                         list persisted executions
    etl history EXECUTION                  GetExecutionHistory of one execution
    etl redrive EXECUTION [--from STATE]   resume a failed or killed execution where it stopped
    etl messages                           what the local SQS queues and SNS topics received
    etl conformance FILE [--strict]        run an ASL conformance corpus
    etl serve [--port 8083] [--mock-config F]  Step Functions + Lambda APIs and the execution graph on localhost
    etl graph EXECUTION --out FILE.svg|.html   the execution's graph as a standalone file
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from etl_local.asl import DefinitionError, TaskFailed
from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.integrations import read_messages
from etl_local.runtime import LocalRuntime, describe
from etl_local.sam_template import TemplateError

DEFAULT_INPUT = "events/execution-happy-path.json"


def _project_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "template.yaml").exists():
            return folder
    raise SystemExit(f"etl: no template.yaml in {start} or its parents; run from the project folder")


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"etl: {what} file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"etl: {what} file {path} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _parse_faults(values: list[str]) -> dict[str, list[str]]:
    faults: dict[str, list[str]] = {}
    for value in values:
        function, sep, errors = value.partition("=")
        if not sep or not errors:
            raise SystemExit(f"etl: --fail expects FUNCTION=ERROR[,ERROR...], got {value!r}")
        faults.setdefault(function, []).extend(errors.split(","))
    return faults


class Progress:
    """Per-state progress on stderr, from the execution's history events as they happen.

    Task states also print when they start, with how many tasks are running at that moment,
    so concurrent Map iterations and Parallel branches show as overlapping invocations.
    """

    def __init__(self) -> None:
        self.entered: dict[str, list[float]] = {}
        self.running = 0

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "TaskStateEntered":
            self.running += 1
            print(f"  start {event['stateEnteredEventDetails']['name']:<24} ({self.running} running)", file=sys.stderr, flush=True)
        elif kind == "TaskStateExited":
            self.running = max(0, self.running - 1)
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            self.entered.setdefault(name, []).append(time.monotonic())
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            starts = self.entered.get(name) or [time.monotonic()]
            took = time.monotonic() - starts.pop(0)
            print(f"  ok    {name:<24} {took:6.2f}s", file=sys.stderr, flush=True)
        elif kind.endswith("Failed") and kind not in ("ExecutionFailed",):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            print(f"  fail  {kind:<24} {details.get('error', '')}", file=sys.stderr, flush=True)


def _summary(result) -> str:
    lines = [f"Execution {result.name}: {result.status}"]
    if result.status == "SUCCEEDED" and isinstance(result.output, dict) and "counts" in result.output:
        counts = result.output["counts"]
        lines += [
            f"  pipeline     {result.output.get('pipeline')}  run {result.output.get('run_id')}  engine {result.output.get('engine')}",
            f"  extracted    {counts['extracted']}",
            f"  valid        {counts['valid']}",
            f"  quarantined  {counts['quarantined']}   (rows and reasons under {result.output.get('quarantine_uri')})",
            f"  deduplicated {counts.get('deduplicated', 0)}",
            f"  warned       {counts.get('warned', 0)}",
            "  loaded       " + "  ".join(f"{target}={rows}" for target, rows in counts["loaded"].items()),
        ]
        corrected = {name: n for name, n in (counts.get("corrections") or {}).items() if n}
        if corrected:
            lines.append("  corrected    " + "  ".join(f"{name}={n}" for name, n in corrected.items()))
    elif result.status == "SUCCEEDED":
        lines.append(json.dumps(result.output, indent=2))
    else:
        lines += [f"  error  {result.error}", f"  cause  {result.cause}"]
    return "\n".join(lines)


def _mock_config(path: str | None):
    from etl_local.mock_config import MockConfig, MockConfigError

    if not path:
        return None
    try:
        return MockConfig.load(path)
    except MockConfigError as exc:
        raise SystemExit(f"etl: {exc}") from None


def cmd_run(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    from etl_local.mock_config import MockConfigError
    from etl_local.serve_tasks import served_registry

    execution_input = _read_json(args.input, "input")
    tasks = None
    machine = runtime.state_machine(args.state_machine)
    if args.test_case:
        config = _mock_config(args.mock_config)
        if config is None:
            raise SystemExit("etl: --test-case needs a mock config: --mock-config FILE or SFN_MOCK_CONFIG")
        try:
            case = config.test_case(machine.name, args.test_case)
        except MockConfigError as exc:
            raise SystemExit(f"etl: {exc}") from None
        tasks = case.registry(served_registry(runtime.task_registry()), machine.definition)
    result = runtime.run(execution_input, name=args.name, machine=machine, tasks=tasks, on_event=None if args.quiet else Progress())
    if args.json:
        print(json.dumps(describe(result), indent=2))
    else:
        print(_summary(result))
    return 0 if result.status == "SUCCEEDED" else 1


def cmd_redrive(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    try:
        result = runtime.redrive(args.execution, from_state=args.from_state, on_event=None if args.quiet else Progress())
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None
    print(_summary(result))
    return 0 if result.status == "SUCCEEDED" else 1


def cmd_invoke(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    event = _read_json(args.event, "event")
    try:
        response = runtime.host.invoke(args.function, event)
    except KeyError as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None
    except LambdaFunctionFailed as failed:  # printed as `sam local invoke` prints a function error
        print(json.dumps(failed.body, indent=2))
        return 1
    except TaskFailed as exc:  # the Invoke API's own error (throttled)
        print(json.dumps({"errorType": exc.error, "errorMessage": exc.cause}, indent=2))
        return 1
    try:
        print(json.dumps(response.value(), indent=2))
    except ValueError:
        print(response.payload.decode(errors="replace"))
    return 0


def cmd_executions(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    executions = runtime.store.list()
    if args.json:
        print(json.dumps(executions, indent=2))
        return 0
    for e in executions:
        print(f"{e['startDate'][:19]}  {e['status']:<10} {e['name']}  {e.get('error', '')}")
    if not executions:
        print("no executions yet: run `etl run`")
    return 0


def cmd_history(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    try:
        record = runtime.store.load(args.execution)
    except KeyError as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None
    if args.json:
        print(json.dumps({"events": record["events"]}, indent=2))
        return 0
    for event in record["events"]:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        brief = details.get("name") or details.get("resource") or details.get("error") or ""
        print(f"{event['id']:>4} {event['timestamp'][11:23]}  {event['type']:<32} {brief}")
    return 0


def cmd_messages(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    outbox = runtime.messaging.root
    files = sorted(outbox.glob("*/*.jsonl")) if outbox.exists() else []
    for path in files:
        print(f"== {path.parent.name}: {path.stem}")
        for message in read_messages(path):
            print(json.dumps(message))
    if not files:
        print("no messages yet")
    return 0


def cmd_serve(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    from etl_local.serve import EtlServer

    try:
        server = EtlServer(runtime, args.host, args.port, _mock_config(args.mock_config), verbose=args.verbose)
    except OSError as exc:
        raise SystemExit(f"etl: cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    machines = ", ".join(record.name for record in server.api.machines.values())
    print(f"etl serve: listening on {server.url} (state machines: {machines}; graph at {server.url}/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.api.runner.stop_all()
        server.server_close()
    return 0


def cmd_graph(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    from etl_local.graph import render_page, render_svg
    from etl_local.serve import definition_for

    try:
        record = runtime.store.load(args.execution)
    except KeyError as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None
    description, events = record["execution"], record["events"]
    definition = definition_for(None, runtime, description["stateMachineArn"])
    out = Path(args.out)
    if out.suffix.lower() == ".svg":
        title = f"{description['name']}: {description['status']}"
        text = render_svg(definition, events, description["status"] == "RUNNING", standalone=True, title=title)
    elif out.suffix.lower() in (".html", ".htm"):
        text = render_page(description, definition, events, live=False, home_link=False)
    else:
        raise SystemExit(f"etl: --out {out}: write a .svg or an .html file")
    out.write_text(text)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", help="folder for local state (default: .etl in the project)")
    parser.add_argument("--warehouse-dsn", default=os.environ.get("ETL_WAREHOUSE_DSN"),
                        help="PostgreSQL to load into (default: $ETL_WAREHOUSE_DSN, else an embedded server in the home folder)")
    parser.add_argument("--virtual-clock", action="store_true", help="Wait states and retry delays take no real time")
    parser.add_argument("--fail", action="append", default=[], metavar="FUNCTION=FAULT[,FAULT]",
                        help="inject faults into the function's next invocations, in order: an error name to raise, "
                             "'pass' to let one through, 'hang' to block (then kill the process and redrive)")
    parser.add_argument("--enforce-memory", action="store_true",
                        help="limit each function's process to its MemorySize (fails as Lambda does when memory runs out)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the state machine on an input")
    run.add_argument("--input", default=DEFAULT_INPUT, help=f"execution input JSON file (default {DEFAULT_INPUT})")
    run.add_argument("--name", help="execution name (default: a UUID)")
    run.add_argument("--state-machine", help="logical id, when the template has several")
    run.add_argument("--json", action="store_true", help="print the DescribeExecution-shaped result")
    run.add_argument("--quiet", action="store_true", help="no per-state progress")
    run.add_argument("--mock-config", default=os.environ.get("SFN_MOCK_CONFIG"),
                     help="Step Functions Local MockConfigFile (default: $SFN_MOCK_CONFIG)")
    run.add_argument("--test-case", help="test case of the mock config to run with (mocked Task responses)")
    run.add_argument("--from-build", action="store_true", help="run the functions from .aws-sam/build (after `sam build`)")
    invoke = sub.add_parser("invoke", help="invoke one function with an event file")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ExtractFunction")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file, e.g. events/extract.json")
    invoke.add_argument("--from-build", action="store_true", help="run the function from .aws-sam/build (after `sam build`)")
    executions = sub.add_parser("executions", help="list executions")
    executions.add_argument("--json", action="store_true")
    history = sub.add_parser("history", help="show an execution's history")
    history.add_argument("execution", help="execution name or ARN")
    history.add_argument("--json", action="store_true")
    redrive = sub.add_parser("redrive", help="resume a failed or killed execution without re-running completed states")
    redrive.add_argument("execution", help="execution name or ARN")
    redrive.add_argument("--from", dest="from_state", help="top-level state to resume at (default: the one that failed)")
    redrive.add_argument("--quiet", action="store_true", help="no per-state progress")
    sub.add_parser("messages", help="show local SQS/SNS messages (dead letters, notifications)")
    serve = sub.add_parser("serve", help="Step Functions and Lambda APIs plus the execution graph, on localhost")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8083, help="port (default 8083, Step Functions Local's)")
    serve.add_argument("--mock-config", default=os.environ.get("SFN_MOCK_CONFIG"),
                       help="Step Functions Local MockConfigFile for stateMachineArn#TestCase (default: $SFN_MOCK_CONFIG)")
    serve.add_argument("--verbose", action="store_true", help="log each request on stderr")
    graph = sub.add_parser("graph", help="write an execution's graph as a standalone SVG or HTML file")
    graph.add_argument("execution", help="execution name or ARN")
    graph.add_argument("--out", required=True, help="FILE.svg or FILE.html")
    conformance = sub.add_parser("conformance", help="run an ASL conformance corpus file")
    conformance.add_argument("file")
    conformance.add_argument("--strict", action="store_true", help="compare every cause word for word")
    args = parser.parse_args(argv)

    if args.command == "conformance":
        from etl_local.conformance import main as conformance_main

        return conformance_main([args.file] + (["--strict"] if args.strict else []))
    try:
        runtime = LocalRuntime(
            _project_root(Path.cwd()),
            home=Path(args.home) if args.home else None,
            virtual_clock=args.virtual_clock,
            faults=_parse_faults(args.fail),
            warehouse_dsn=args.warehouse_dsn,
            from_build=getattr(args, "from_build", False),
            enforce_memory=args.enforce_memory,
        )
        handlers = {"run": cmd_run, "redrive": cmd_redrive, "invoke": cmd_invoke, "executions": cmd_executions, "history": cmd_history, "messages": cmd_messages,
                    "serve": cmd_serve, "graph": cmd_graph}
        with runtime:
            return handlers[args.command](args, runtime)
    except (TemplateError, DefinitionError) as exc:
        print(f"etl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
