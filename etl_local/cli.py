"""`etl`: run the SAM application's state machine and functions on this machine.

    etl run [--input FILE|-] [--pipeline P --run-date D] [--json]   start an execution and wait for it
    etl invoke FUNCTION --event FILE|-     what `sam local invoke FUNCTION -e FILE` does, without Docker
    etl executions                         list persisted executions
    etl history EXECUTION                  GetExecutionHistory of one execution
    etl redrive EXECUTION [--from STATE]   resume a failed or killed execution where it stopped
    etl messages [--queue Q] [--topic T] [--execution E] [--since WHEN]   what the local queues and topics received
    etl sql [QUERY]                        a query (or psql) on the embedded PostgreSQL
    etl rightsize [--stack NAME]           memory and Glue workers suggested from measured use, as sam parameters
    etl conformance FILE [--strict]        run an ASL conformance corpus
    etl serve [--port 8083] [--mock-config F]  Step Functions + Lambda APIs and the execution graph on localhost
    etl graph EXECUTION --out FILE.svg|.html   the execution's graph as a standalone file
    etl check PIPELINE                     check a spec against its transform's columns, without running it

`run` and `invoke` take SAM's `--parameter-overrides` and `--env-vars`. Each subcommand is one
`_add_<name>` function (its options) and one `cmd_<name>` function (what it does).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

from etl_core.causes import for_people
from etl_core.redaction import redact
from etl_local.asl import DefinitionError, TaskFailed
from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.integrations import read_messages
from etl_local.names import InvalidName
from etl_local.progress import Progress, branch_starts
from etl_local.runtime import LocalRuntime, describe
from etl_local.sam_template import TemplateError

DEFAULT_INPUT = "events/execution-happy-path.json"


class UsageError(Exception):
    """A mistake in how `etl` was called: printed as ``etl: <message>``, exit status 2."""


def _project_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "template.yaml").exists():
            return folder
    raise SystemExit(f"etl: no template.yaml in {start} or its parents; run from the project folder")


def _read_json(path: str, what: str) -> Any:
    """A JSON file, or standard input for ``-``."""
    source = "standard input" if path == "-" else f"file {path}"
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return json.loads(text)
    except FileNotFoundError:
        raise SystemExit(f"etl: {what} file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"etl: {what} {source} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _parse_faults(values: list[str]) -> dict[str, list[str]]:
    faults: dict[str, list[str]] = {}
    for value in values:
        function, sep, errors = value.partition("=")
        if not sep or not errors:
            raise SystemExit(f"etl: --fail expects FUNCTION=ERROR[,ERROR...], got {value!r}")
        faults.setdefault(function, []).extend(errors.split(","))
    return faults


_LONG_FORM = re.compile(r"^ParameterKey=(?P<key>[^,]+),ParameterValue=(?P<value>.*)$")


def parse_parameter_overrides(values: list[str]) -> dict[str, str]:
    """SAM's ``--parameter-overrides``: ``Key=Value`` or ``ParameterKey=Key,ParameterValue=Value``
    pairs, separated by spaces (quote a value that has spaces), in one or several arguments."""
    overrides: dict[str, str] = {}
    for value in values:
        for token in shlex.split(value):
            long_form = _LONG_FORM.match(token)
            key, sep, parameter = (long_form["key"], "=", long_form["value"]) if long_form else token.partition("=")
            if not sep or not key:
                raise UsageError(f"--parameter-overrides expects Key=Value or ParameterKey=Key,ParameterValue=Value, got {token!r}")
            overrides[key] = parameter
    return overrides


def _runtime(args: argparse.Namespace) -> LocalRuntime:
    """The local runtime for this command: global options, plus SAM's options where given."""
    env_file = getattr(args, "env_vars", None)
    if env_file is not None and not Path(env_file).exists():
        raise UsageError(f"--env-vars file {env_file} does not exist")
    runtime = LocalRuntime(
        _project_root(Path.cwd()),
        home=Path(args.home) if args.home else None,
        virtual_clock=args.virtual_clock,
        faults=_parse_faults(args.fail),
        warehouse_dsn=args.warehouse_dsn,
        env_file=Path(env_file) if env_file else None,
        parameter_overrides=parse_parameter_overrides(getattr(args, "parameter_overrides", None) or []),
        from_build=getattr(args, "from_build", False),
        enforce_memory=args.enforce_memory,
    )
    return args.cleanup.enter_context(runtime)  # its Lambda environments stop when the command ends


def _add_sam_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parameter-overrides", nargs="+", metavar="KEY=VALUE",
                        help="template parameters, as `sam` takes them: 'Key=Value Key2=Value2' or "
                             "'ParameterKey=Key,ParameterValue=Value ...'")
    parser.add_argument("--env-vars", "-n", metavar="FILE",
                        help="functions' environment variables, SAM's JSON format (default: local.env.json)")


def _loaded(target: str, rows: int, statuses: dict[str, str]) -> str:
    """``target=rows``, and why nothing was written when the load was skipped."""
    status = statuses.get(target, "loaded")
    return f"{target}={rows}" if status == "loaded" else f"{target}={rows} ({status})"


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
            "  loaded       " + "  ".join(_loaded(target, rows, result.output.get("loads") or {}) for target, rows in counts["loaded"].items()),
        ]
        corrected = {name: n for name, n in (counts.get("corrections") or {}).items() if n}
        if corrected:
            lines.append("  corrected    " + "  ".join(f"{name}={n}" for name, n in corrected.items()))
    elif result.status == "SUCCEEDED":
        lines.append(json.dumps(result.output, indent=2))
    else:
        lines += [f"  error  {result.error}", f"  cause  {for_people(result.cause, limit=2000, one_line=True)}"]
    return redact("\n".join(lines))


def _progress(args: argparse.Namespace, definition: dict) -> Progress | None:
    return None if args.quiet else Progress(branch_starts=branch_starts(definition))


def _interrupted(name: str) -> int:
    print(f"\netl: interrupted; execution {name} stopped where it was (RUNNING in `etl executions`). "
          f"Resume it with `etl redrive {name}`.", file=sys.stderr)
    return 130


# --- run ------------------------------------------------------------------------------------
def _add_run(sub) -> None:
    run = sub.add_parser("run", help="run the state machine on an input")
    given = run.add_mutually_exclusive_group()
    given.add_argument("--input", help=f"execution input JSON file, or - for standard input (default {DEFAULT_INPUT})")
    given.add_argument("--pipeline", help="run this pipeline spec: the input is {\"pipeline\": P, \"run_date\": D}")
    run.add_argument("--run-date", help="with --pipeline: the run date, YYYY-MM-DD (default: the execution's start date)")
    run.add_argument("--name", help="execution name (default: a UUID)")
    run.add_argument("--state-machine", help="logical id, when the template has several")
    run.add_argument("--json", action="store_true", help="print the DescribeExecution-shaped result")
    run.add_argument("--quiet", action="store_true", help="no per-state progress")
    run.add_argument("--mock-config", default=os.environ.get("SFN_MOCK_CONFIG"),
                     help="Step Functions Local MockConfigFile (default: $SFN_MOCK_CONFIG)")
    run.add_argument("--test-case", help="test case of the mock config to run with (mocked Task responses)")
    run.add_argument("--from-build", action="store_true", help="run the functions from .aws-sam/build (after `sam build`)")
    _add_sam_options(run)
    run.set_defaults(handler=cmd_run)


def _execution_input(args: argparse.Namespace) -> Any:
    if args.pipeline is not None:
        execution_input = {"pipeline": args.pipeline}
        if args.run_date is not None:
            try:
                dt.date.fromisoformat(args.run_date)
            except ValueError:
                raise UsageError(f"--run-date expects a date as YYYY-MM-DD, got {args.run_date!r}") from None
            execution_input["run_date"] = args.run_date
        return execution_input
    if args.run_date is not None:
        raise UsageError("--run-date goes with --pipeline (an --input file carries its own run_date)")
    return _read_json(args.input or DEFAULT_INPUT, "input")


def _mock_config(path: str | None):
    from etl_local.mock_config import MockConfig, MockConfigError

    if not path:
        return None
    try:
        return MockConfig.load(path)
    except MockConfigError as exc:
        raise SystemExit(f"etl: {exc}") from None


def _mocked_tasks(args: argparse.Namespace, runtime: LocalRuntime, machine):
    """With --test-case, the registry that answers the mock config's Task responses."""
    from etl_local.mock_config import MockConfigError
    from etl_local.serve_tasks import served_registry

    if not args.test_case:
        return None
    config = _mock_config(args.mock_config)
    if config is None:
        raise SystemExit("etl: --test-case needs a mock config: --mock-config FILE or SFN_MOCK_CONFIG")
    try:
        case = config.test_case(machine.name, args.test_case)
    except MockConfigError as exc:
        raise SystemExit(f"etl: {exc}") from None
    return case.registry(served_registry(runtime.task_registry()), machine.definition)


def cmd_run(args: argparse.Namespace) -> int:
    execution_input = _execution_input(args)
    runtime = _runtime(args)
    machine = runtime.state_machine(args.state_machine)
    tasks = _mocked_tasks(args, runtime, machine)
    name = args.name or str(uuid.uuid4())
    try:
        result = runtime.run(execution_input, name=name, machine=machine, tasks=tasks,
                             on_event=_progress(args, machine.definition), release_unreachable=True)
    except KeyboardInterrupt:
        return _interrupted(name)
    print(json.dumps(describe(result), indent=2) if args.json else _summary(result))
    return 0 if result.status == "SUCCEEDED" else 1


# --- redrive --------------------------------------------------------------------------------
def _add_redrive(sub) -> None:
    redrive = sub.add_parser("redrive", help="resume a failed or killed execution without re-running completed states")
    redrive.add_argument("execution", help="execution name or ARN")
    redrive.add_argument("--from", dest="from_state", help="top-level state to resume at (default: the one that failed)")
    redrive.add_argument("--quiet", action="store_true", help="no per-state progress")
    redrive.set_defaults(handler=cmd_redrive)


def cmd_redrive(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
    try:
        result = runtime.redrive(args.execution, from_state=args.from_state, on_event=_progress(args, runtime.state_machine().definition),
                                 release_unreachable=True)
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None
    except KeyboardInterrupt:
        return _interrupted(args.execution.rsplit(":", 1)[-1])
    print(_summary(result))
    return 0 if result.status == "SUCCEEDED" else 1


# --- invoke ---------------------------------------------------------------------------------
def _add_invoke(sub) -> None:
    invoke = sub.add_parser("invoke", help="invoke one function with an event file")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ExtractFunction")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file, e.g. events/extract.json, or - for standard input")
    invoke.add_argument("--from-build", action="store_true", help="run the function from .aws-sam/build (after `sam build`)")
    _add_sam_options(invoke)
    invoke.set_defaults(handler=cmd_invoke)


def cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_json(args.event, "event")
    runtime = _runtime(args)
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


# --- executions, history --------------------------------------------------------------------
def _add_executions(sub) -> None:
    executions = sub.add_parser("executions", help="list executions")
    executions.add_argument("--json", action="store_true")
    executions.set_defaults(handler=cmd_executions)


def cmd_executions(args: argparse.Namespace) -> int:
    store = _runtime(args).store
    executions = store.list()
    for problem in store.skipped:  # an unreadable record is named, and hides no other execution
        print(f"etl: skipped {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(executions, indent=2))
        return 0
    for e in executions:
        print(f"{e['startDate'][:19]}  {e['status']:<10} {e['name']}  {e.get('error', '')}")
    if not executions:
        print("no executions yet: run `etl run`")
    return 0


def _add_history(sub) -> None:
    history = sub.add_parser("history", help="show an execution's history")
    history.add_argument("execution", help="execution name or ARN")
    history.add_argument("--json", action="store_true")
    history.set_defaults(handler=cmd_history)


def _stored_execution(runtime: LocalRuntime, name: str) -> dict[str, Any]:
    """A stored execution's record (description and events), or exit naming what is unknown."""
    try:
        return runtime.store.load(name)
    except KeyError as exc:
        raise SystemExit(f"etl: {exc.args[0]}") from None


def cmd_history(args: argparse.Namespace) -> int:
    record = _stored_execution(_runtime(args), args.execution)
    if args.json:
        print(json.dumps({"events": record["events"]}, indent=2))
        return 0
    for event in record["events"]:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        brief = details.get("name") or details.get("resource") or details.get("error") or ""
        if "index" in details:
            brief = f"{brief}[{details['index']}]"
        print(f"{event['id']:>4} {event['timestamp'][11:23]}  {event['type']:<32} {brief}")
    return 0


# --- messages -------------------------------------------------------------------------------
def _add_messages(sub) -> None:
    messages = sub.add_parser("messages", help="show local SQS/SNS messages (dead letters, notifications)")
    messages.add_argument("--queue", action="append", metavar="NAME", help="only this queue (e.g. DeadLetterQueue); repeatable")
    messages.add_argument("--topic", action="append", metavar="NAME", help="only this topic (e.g. NotificationTopic); repeatable")
    messages.add_argument("--execution", metavar="NAME", help="only messages about this execution (name or ARN)")
    messages.add_argument("--since", metavar="WHEN",
                          help="only messages sent since WHEN: an ISO date/time (UTC unless it says) or an age like 30m, 2h, 1d")
    messages.add_argument("--json", action="store_true", help="one JSON object per line, with its queue or topic")
    messages.set_defaults(handler=cmd_messages)


_AGE = re.compile(r"^(?P<n>\d+)(?P<unit>[smhd])$")


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since``: an age (``90s``, ``30m``, ``2h``, ``7d``) or an ISO date/time."""
    now = now or dt.datetime.now(dt.timezone.utc)
    age = _AGE.match(value)
    if age:
        seconds = int(age["n"]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[age["unit"]]
        return now - dt.timedelta(seconds=seconds)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since expects an age like 30m, 2h, 1d or an ISO date/time, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _message_matches(message: dict, execution: str | None, since: dt.datetime | None) -> bool:
    if since is not None:
        sent = message.get("SentTimestamp") or message.get("Timestamp")
        if not sent or dt.datetime.fromisoformat(sent) < since:
            return False
    if execution is not None:
        text = json.dumps(message)
        name = execution.rsplit(":", 1)[-1]
        if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            return False
    return True


def cmd_messages(args: argparse.Namespace) -> int:
    outbox = _runtime(args).messaging.root
    since = parse_since(args.since) if args.since else None
    chosen = {("sqs", q) for q in args.queue or []} | {("sns", t) for t in args.topic or []}
    files = sorted(outbox.glob("*/*.jsonl")) if outbox.exists() else []
    files = [p for p in files if not chosen or (p.parent.name, p.stem) in chosen]
    for kind, name in sorted(chosen - {(p.parent.name, p.stem) for p in files}):
        print(f"etl: no {'queue' if kind == 'sqs' else 'topic'} {name!r} has received messages", file=sys.stderr)
    shown = 0
    for path in files:
        selected = [m for m in read_messages(path) if _message_matches(m, args.execution, since)]
        if not selected:
            continue
        if not args.json:
            print(f"== {path.parent.name}: {path.stem}")
        for message in selected:
            print(json.dumps({path.parent.name: path.stem, **message} if args.json else message))
        shown += len(selected)
    if not shown and not args.json:
        print("no messages" + (" match" if (args.execution or since or chosen) else " yet"))
    return 0


# --- sql ------------------------------------------------------------------------------------
def _add_sql(sub) -> None:
    sql = sub.add_parser("sql", help="run a query on the embedded PostgreSQL (no query: an interactive psql)")
    sql.add_argument("query", nargs="?", help='e.g. "select count(*) from analytics.orders"')
    sql.add_argument("--header", action="store_true", help="print the column names first")
    sql.set_defaults(handler=cmd_sql)


def cmd_sql(args: argparse.Namespace) -> int:
    import psycopg

    dsn = _runtime(args).warehouse()  # --warehouse-dsn, else the embedded server, started for this command
    if args.query is None:
        return _psql(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(args.query)
            if cursor.description is None:
                print(cursor.statusmessage)
                return 0
            if args.header:
                print("\t".join(column.name for column in cursor.description))
            for row in cursor:
                print("\t".join("" if value is None else str(value) for value in row))
    except psycopg.Error as exc:
        print(f"etl sql: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


def _psql(dsn: str) -> int:
    from pgserver._commands import POSTGRES_BIN_PATH  # the psql that ships with the embedded server

    psql = POSTGRES_BIN_PATH / "psql"
    if not psql.exists():
        raise UsageError(f"no psql at {psql}; pass a QUERY instead")
    return subprocess.run([str(psql), dsn], check=False).returncode


# --- rightsize -------------------------------------------------------------------------------
def _add_rightsize(sub) -> None:
    rightsize = sub.add_parser("rightsize", help="suggest function memory and Glue workers from measured use")
    rightsize.add_argument("--stack", help="a deployed stack: CloudWatch Logs Insights over its REPORT lines and its Glue job runs")
    rightsize.add_argument("--region", help="AWS region of the stack (default: your AWS configuration's)")
    rightsize.add_argument("--profile", help="AWS profile to use")
    rightsize.add_argument("--days", type=int, default=14, help="with --stack: how many days of logs to read (default 14)")
    rightsize.add_argument("--glue-max-workers", type=int, default=10, help="cap when scaling Glue workers up (default 10)")
    _add_sam_options(rightsize)
    rightsize.set_defaults(handler=cmd_rightsize)


def cmd_rightsize(args: argparse.Namespace) -> int:
    from etl_local import rightsize

    if args.stack:
        import boto3
        import botocore.exceptions

        try:
            session = boto3.Session(profile_name=args.profile, region_name=args.region)
            suggestions = rightsize.aws_suggestions(session, args.stack, args.glue_max_workers, days=args.days)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, rightsize.InsightsQueryFailed) as exc:
            raise SystemExit(f"etl rightsize: {exc}") from None
    else:
        runtime = _runtime(args)
        functions = {lid: fn.memory_size for lid, fn in runtime.app.functions().items()}
        glue = next(iter(runtime.app.glue_jobs().values()), None)
        workers = int(runtime.app.resolve(runtime.app.resources[glue.logical_id]["Properties"].get("NumberOfWorkers", 2))) if glue else 2
        executions = [runtime.store.load(e["name"]) for e in runtime.store.list()]
        suggestions = rightsize.local_suggestions(functions, workers, runtime.home / "logs", executions, args.glue_max_workers)
    print(rightsize.render(suggestions))
    return 0


# --- serve, graph ---------------------------------------------------------------------------
def _add_serve(sub) -> None:
    serve = sub.add_parser("serve", help="Step Functions and Lambda APIs plus the execution graph, on localhost")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8083, help="port (default 8083, Step Functions Local's)")
    serve.add_argument("--mock-config", default=os.environ.get("SFN_MOCK_CONFIG"),
                       help="Step Functions Local MockConfigFile for stateMachineArn#TestCase (default: $SFN_MOCK_CONFIG)")
    serve.add_argument("--verbose", action="store_true", help="log each request on stderr")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from etl_local.serve import EtlServer

    runtime = _runtime(args)
    try:
        server = EtlServer(runtime, args.host, args.port, _mock_config(args.mock_config), verbose=args.verbose)
    except OSError as exc:
        raise SystemExit(f"etl: cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    machines = ", ".join(record.name for record in server.api.machines.values())
    print(f"etl serve: listening on {server.url} (state machines: {machines}; graph at {server.url}/)", flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM stops as Ctrl-C does: running executions end ABORTED, the port is freed

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.api.runner.stop_all()
        server.server_close()
    return 0


def _add_graph(sub) -> None:
    graph = sub.add_parser("graph", help="write an execution's graph as a standalone SVG or HTML file")
    graph.add_argument("execution", help="execution name or ARN")
    graph.add_argument("--out", required=True, help="FILE.svg or FILE.html")
    graph.set_defaults(handler=cmd_graph)


def cmd_graph(args: argparse.Namespace) -> int:
    from etl_local.graph import render_page, render_svg
    from etl_local.serve import definition_for

    runtime = _runtime(args)
    record = _stored_execution(runtime, args.execution)
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


# --- conformance ----------------------------------------------------------------------------
def _add_conformance(sub) -> None:
    conformance = sub.add_parser("conformance", help="run an ASL conformance corpus file")
    conformance.add_argument("file")
    conformance.add_argument("--strict", action="store_true", help="compare every cause word for word")
    conformance.set_defaults(handler=cmd_conformance)


def cmd_conformance(args: argparse.Namespace) -> int:
    from etl_local.conformance import main as conformance_main

    return conformance_main([args.file] + (["--strict"] if args.strict else []))


# --- check ----------------------------------------------------------------------------------
def _add_check(sub) -> None:
    check = sub.add_parser("check", help="check a pipeline spec (columns, types, keys) without running it")
    check.add_argument("pipeline")
    check.add_argument("--pipelines", help="folder of the specs (default: src/shared/pipelines of the project)")
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from etl_local.check import check_pipeline

    passed, report = check_pipeline(args.pipeline, Path(args.pipelines or _project_root(Path.cwd()) / "src" / "shared" / "pipelines"))
    print(report, file=sys.stdout if passed else sys.stderr)
    return 0 if passed else 1


SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_run, _add_invoke, _add_executions, _add_history, _add_redrive, _add_messages, _add_sql, _add_rightsize, _add_serve, _add_graph,
    _add_conformance, _add_check,
]


def _parser() -> argparse.ArgumentParser:
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
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with contextlib.ExitStack() as cleanup:
            args.cleanup = cleanup
            return args.handler(args)
    except (TemplateError, DefinitionError, UsageError) as exc:
        print(f"etl: {exc}", file=sys.stderr)
        return 2
    except InvalidName as exc:
        print(f"etl: InvalidName: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (`| head`) went away: nothing more can be shown; say nothing, as cat does.
        # Python would report the pipe again when flushing stdout at exit, so point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("\netl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
