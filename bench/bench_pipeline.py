"""End-to-end pipeline benchmark with its own yardstick (issue 14 item 1).

For each scale it generates TPC-H lineitem as CSV with tpchgen-cli (cached under
bench/.data) and runs, on that data and one embedded PostgreSQL shared by all, each in a
fresh process:

- ``project``:  the ``lineitem`` pipeline (bench/pipelines) through the whole state machine,
  into PostgreSQL and partitioned Parquet;
- ``baseline``: the same transform SQL in plain DuckDB -> COPY + partitioned Parquet, no state
  machine, no rules (bench/baseline.py);
- ``copy``:     PostgreSQL's own COPY of the already transformed rows.

The project's time is one execution's, from its start to its end: the stack it runs on is up
before the clock starts (``LocalRuntime.provision``: the warehouse seeded, the DynamoDB tables
made), as a deployed stack's resources are on AWS; its functions' cold starts are inside it.

Repeats are interleaved (each round starts with the next contender). It prints rows/s,
seconds per stage and peak RSS for each run, and per scale
``scale S ratio project/baseline = X.XX`` and ``scale S ratio project/copy = X.XX`` (from each
contender's median rows/s), then ``scale S ratio baseline/copy = X.XX`` (the yardsticks against
each other, see ``RATIOS``), and writes everything with the machine's cores, memory and
load to ``bench/results/<date>-<commit>.json``; ``bench/compare.py`` compares the last two.

Peak memory is the contender's whole process tree (its process and every descendant: the
local Lambda host's worker processes), sampled every half second (its largest process's peak RSS is the kernel's own high-water mark), so a function's memory counts
while it runs, as PSS (pages shared between forked workers counted once); the largest
single process's RSS is printed beside it. The shared PostgreSQL server is no contender's
and is not counted. On AWS each function is its own sandbox, and its memory is what
Lambda reports as ``Max Memory Used``: for the project, each function's largest
``maxMemoryUsedMB`` over the run's invocations (the ``platform.report`` records the local
host writes to ``<LogicalId>.log``) is printed and stored too (``function_max_memory_mb``).

    .venv/bin/python bench/bench_pipeline.py                    # scales 0.1 and 1
    .venv/bin/python bench/bench_pipeline.py --scales 0.1       # quicker
    .venv/bin/python bench/bench_pipeline.py --with-10          # scales 0.1, 1 and 10
    .venv/bin/python bench/bench_pipeline.py --repeat 3         # three interleaved rounds
    .venv/bin/python bench/bench_pipeline.py --scales 10 --contenders project   # the project alone
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
DATA = BENCH / ".data"
RESULTS = BENCH / "results"
RUN_DATE = "2026-11-26"
STAGES = ["Plan", "ExtractSources", "TransformInLambda", "TransformOnGlue", "Validate", "LoadTargets", "Finalize"]
CONTENDERS = ["project", "baseline", "copy"]
#: Each contender's table in the shared PostgreSQL (the project's is its spec's target).
TABLES = {"project": "bench.lineitem", "baseline": "bench_baseline.lineitem", "copy": "bench_copy.lineitem"}
#: The issue's two ratios, and the yardsticks' own: how near the hand-written pipeline (a part of
#: the project's work, in one process) comes to PostgreSQL's own COPY in the same run. Since
#: project/copy = project/baseline x baseline/copy, it says how the two criteria (1.0 and 0.8)
#: stand in that run: below 0.8, a project as fast as the baseline still fails the COPY one.
RATIOS = {"project/baseline": ("project", "baseline"), "project/copy": ("project", "copy"),
          "baseline/copy": ("baseline", "copy")}


#: What the machine's CPUs spent working, from /proc/stat (psutil.cpu_times): steal (time the
#: hypervisor gave another guest) and iowait are not work, idle is not.
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


def machine_cpu() -> dict[str, float]:
    """Seconds of CPU the whole machine has spent working since boot (``busy``, summed over its
    cores), and stolen from it by the hypervisor (``steal``).

    Why machine-wide: a contender's work is spread over processes the bench does not own (the
    shared PostgreSQL server's backends and checkpointer) as well as its own tree, so on a quiet
    machine the difference across a run is the CPU the run cost. Against the wall time and the
    cores it says whether a contender is bound by the CPUs: at scale 1 every contender uses
    most of both cores, so rows/s can only rise by doing less work, not by waiting less."""
    import psutil

    times = psutil.cpu_times()
    return {"busy": sum(getattr(times, field) for field in BUSY_FIELDS), "steal": getattr(times, "steal", 0.0)}


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


def lineitem_csv(scale: str) -> Path:
    target = DATA / f"sf{scale}" / "lineitem.csv"
    if not target.exists():
        tool = Path(sys.executable).with_name("tpchgen-cli")
        subprocess.run([str(tool), "csv", "-s", scale, "--tables", "lineitem", "--output-dir", str(target.parent)], check=True)
    return target


def run_project(scale: str, home: Path, engine: str, dsn: str, pipeline: str = "lineitem",
                function_env: list[str] | None = None) -> dict:
    """One execution of the state machine in this process; ``function_env``: ``Function.NAME=value``
    settings added to the functions' environment file (to compare a setting's values)."""
    sys.path.insert(0, str(REPO))
    from etl_local.runtime import LocalRuntime

    raw = home / "raw" / "lineitem" / RUN_DATE
    raw.mkdir(parents=True)
    (raw / "lineitem.csv").symlink_to(lineitem_csv(scale))
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"].update(RAW_URI=str(home / "raw"), PIPELINES_URI=str(BENCH / "pipelines"))
    for setting in function_env or []:
        function, name, value = function_setting(setting)
        env.setdefault(function, {})[name] = value
    env_file = home / "env.json"
    env_file.write_text(json.dumps(env))
    threshold = "1" if engine == "glue" else str(2**62)  # pin the engine the Choice would pick by size
    runtime = LocalRuntime(REPO, home=home / "etl", env_file=env_file, warehouse_dsn=dsn,
                           parameter_overrides={"GlueThresholdBytes": threshold})
    runtime.provision()  # the stack's stand-ins (seeded warehouse, DynamoDB tables) up before the clock starts
    entered: dict[str, tuple[float, dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def timing(event: dict) -> None:
        if event["type"].endswith("StateEntered"):
            entered[event["stateEnteredEventDetails"]["name"]] = time.perf_counter(), machine_cpu()
        elif event["type"].endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            at, before = entered[name]
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - at
            cpu[name] = cpu.get(name, 0.0) + cpu_between(before, machine_cpu())["busy"]

    started, cpu_before = time.perf_counter(), machine_cpu()
    clock_zero = time.monotonic()
    # As `etl run` runs it: the process's one execution (idle environments of functions it can no longer reach stop).
    result = runtime.run({"pipeline": pipeline, "run_date": RUN_DATE}, on_event=timing, release_unreachable=True)
    total, used = time.perf_counter() - started, cpu_between(cpu_before, machine_cpu())
    runtime.close()
    if result.status != "SUCCEEDED":
        raise SystemExit(f"run failed: {result.error}: {result.cause}")
    loads = [(record.started - clock_zero, record.ended - clock_zero) for record in runtime.host.records
             if record.function == "LoadFunction"]
    return {
        "rows": result.output["counts"]["extracted"],
        "counts": result.output["counts"],
        "stages": {stage: took for stage, took in seconds.items() if stage in STAGES},
        "stage_cpu_seconds": {stage: used for stage, used in cpu.items() if stage in STAGES},
        "load_invocations": loads,
        "total_seconds": total,
        "cpu_seconds": used["busy"],
        "steal_seconds": used["steal"],
        "function_max_memory_mb": function_max_memory(home / "etl" / "logs"),
    }


def function_max_memory(logs: Path) -> dict[str, int]:
    """Per function, the largest ``Max Memory Used`` (MB) of the run's invocations: what Lambda reports
    for each function's own sandbox, read from the invocation reports the local host writes to
    ``<LogicalId>.log`` (etl_local.telemetry.report_lines)."""
    from etl_local.telemetry import report_lines

    peaks = {}
    for log in sorted(logs.glob("*.log")):
        with log.open() as lines:
            used = [report.max_memory_used_mb for report in report_lines(lines)]
        if used:
            peaks[log.stem] = max(used)
    return peaks


def function_setting(text: str) -> tuple[str, str, str]:
    """``Function.NAME=value`` as (function, name, value); anything else is refused, naming the form."""
    function, dot, assignment = text.partition(".")
    name, equals, value = assignment.partition("=")
    if not (function and dot and name and equals):
        raise argparse.ArgumentTypeError(f"{text!r}: expected FUNCTION.NAME=VALUE, e.g. LoadFunction.WAREHOUSE_COPY_CONNECTIONS=1")
    return function, name, value


def _checked_setting(text: str) -> str:
    """``--function-env``'s value, kept as given once ``function_setting`` reads it."""
    function_setting(text)
    return text


def run_contender(contender: str, scale: str, home: Path, engine: str, dsn: str, pipeline: str = "lineitem",
                  function_env: list[str] | None = None) -> dict:
    """The child process's work: one contender, once; its figures as a dict."""
    sys.path.insert(0, str(REPO / "src" / "shared"))
    sys.path.insert(0, str(BENCH))
    if contender == "project":
        return run_project(scale, home, engine, dsn, pipeline, function_env)  # the CPU of its execution alone, not the runtime's set-up
    # Only the yardsticks import it: its DuckDB and pyarrow (83 MB RSS) are not the project's memory.
    import baseline

    schema = baseline.transformed_schema(lineitem_csv(scale)) if contender == "copy" else None
    before = machine_cpu()
    if contender == "baseline":
        figures = baseline.run_baseline(lineitem_csv(scale), dsn, TABLES["baseline"], home / "lake")
    else:
        figures = baseline.run_copy(home.parent / "transformed.csv", dsn, TABLES["copy"], schema)
    used = cpu_between(before, machine_cpu())
    return {**figures, "cpu_seconds": used["busy"], "steal_seconds": used["steal"]}


#: Seconds between two samples of the process tree's PSS. Reading PSS makes the kernel walk every
#: page of every process (and holds each one's memory map lock meanwhile): every 50 ms, that cost
#: the project's tree of about 15 processes a third of a core, and 2.5-3.5 s of its 35-39 s at
#: scale 1 (interleaved, load 2.2-2.4), a cost the one-process yardsticks hardly paid.
SAMPLE_SECONDS = 0.5


def _peak_rss(process) -> int:
    """The process's own peak RSS (VmHWM, kept by the kernel), in bytes: exact whatever the sampling interval."""
    with open(f"/proc/{process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _tree_memory(pid: int) -> tuple[int, int]:
    """(PSS summed over the process and its descendants, largest single peak RSS), in bytes.

    PSS, not RSS: the Lambda host's workers fork from servers that preloaded the layer, so
    their RSS counts the same shared pages once per process; PSS shares them out."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    pss = largest = 0
    for process in processes:
        try:
            memory, peak = process.memory_full_info(), _peak_rss(process)
        except (psutil.Error, OSError):  # ended meanwhile
            continue
        pss += memory.pss
        largest = max(largest, peak)
    return pss, largest


def measure(command: list[str]) -> tuple[dict, dict]:
    """Run the child; its JSON figures, and the peaks (MB) of its process tree's memory, sampled."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"tree_pss_mb": 0.0, "largest_rss_mb": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pss, largest = _tree_memory(child.pid)
            peak["tree_pss_mb"] = max(peak["tree_pss_mb"], pss / 2**20)
            peak["largest_rss_mb"] = max(peak["largest_rss_mb"], largest / 2**20)
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:6])} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak


def prewarm_wal(dsn: str, nbytes: int) -> None:
    """Give the server about ``nbytes`` of recycled WAL segments before any contender runs.

    A new server has no WAL segments to reuse, so the first load into it also creates and
    zero-fills every segment it writes (scale 1: about 70 of 16 MB), which later loads find
    ready, recycled: that made the first contender of a run pay 2.8-3.3 s more for the same
    PostgreSQL load (the project's, 19.5 s against 16.2-16.7 s, quiet machine), and the first
    contender is the project whenever --repeat is 1. A server that has been loading for a
    while, as a warehouse has, is in the recycled state, so every contender starts there:
    segments are created by switching to a new one repeatedly, and the checkpoint after keeps
    them for reuse (it keeps as many as the WAL written since the last checkpoint, up to
    max_wal_size)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        segment = int(conn.execute("SELECT pg_size_bytes(current_setting('wal_segment_size'))").fetchone()[0])
        limit = int(conn.execute("SELECT pg_size_bytes(current_setting('max_wal_size'))").fetchone()[0])
        conn.execute("CREATE TABLE bench_wal_warmup (x int)")
        for _ in range(min(nbytes, limit) // segment + 1):
            conn.execute("INSERT INTO bench_wal_warmup VALUES (1)")  # a switch needs WAL written since the last
            conn.execute("SELECT pg_switch_wal()")
        conn.execute("DROP TABLE bench_wal_warmup")
        conn.execute("CHECKPOINT")


def reset_tables(dsn: str, schema) -> None:
    """Every contender's table dropped; the yardsticks' made again, empty, as the project's loader makes its own."""
    import baseline
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES.values():
            conn.execute(f"DROP SCHEMA IF EXISTS {table.split('.')[0]} CASCADE")  # nosec B608 - the bench's own names
        conn.execute("CHECKPOINT")  # each contender starts without the last one's dirty pages to write
    for contender, table in TABLES.items():
        if contender != "project":
            baseline.create_target(dsn, table, schema)


def median_rate(runs: list[dict], contender: str) -> float | None:
    rates = [run["rows_per_s"] for run in runs if run["contender"] == contender]
    return statistics.median(rates) if rates else None


def ratios(runs: list[dict]) -> dict[str, float]:
    """``RATIOS`` from each contender's median rows/s (a ratio whose two contenders both ran)."""
    found = {}
    for name, (top, bottom) in RATIOS.items():
        a, b = median_rate(runs, top), median_rate(runs, bottom)
        if a and b:
            found[name] = a / b
    return found


def report(run: dict) -> None:
    rows = run["rows"]
    how = f" ({run['how']})" if run.get("how") else ""
    print(f"\nscale {run['scale']} {run['contender']}{how}: {rows:,} rows, {run['total_seconds']:.1f} s "
          f"= {run['rows_per_s']:,.0f} rows/s, peak memory {run['peak_rss_mb']:,.0f} MB (process tree, PSS; "
          f"largest process {run['largest_process_rss_mb']:,.0f} MB RSS), load {run['load_before'][0]:.2f}")
    if "cpu_seconds" in run:
        print(f"  CPU {run['cpu_seconds']:.1f} s, {busy_share(run['cpu_seconds'], run['total_seconds'], run.get('cores')):.0%} "
              f"of the machine's cores over the run ({run.get('steal_seconds', 0.0):.1f} s stolen by the hypervisor)")
    stage_cpu = run.get("stage_cpu_seconds") or {}
    for stage, took in run["stages"].items():
        used = f"  CPU {stage_cpu[stage]:6.2f} s ({busy_share(stage_cpu[stage], took, run.get('cores')):4.0%})" if stage in stage_cpu else ""
        print(f"  {stage:<18} {took:7.2f} s  {rows / took if took else 0:12,.0f} rows/s{used}")
    for function, used in (run.get("function_max_memory_mb") or {}).items():  # Lambda's own measure, per sandbox
        print(f"  {function:<24} Max Memory Used {used:6,} MB")
    loads = run.get("load_invocations") or []
    for started, ended in loads:  # one LoadFunction invocation per target, seconds from the execution's start
        print(f"  load invocation    {started:7.2f} s .. {ended:7.2f} s")


def busy_share(cpu_seconds: float, wall_seconds: float, cores: int | None = None) -> float:
    """The share of the machine's cores that was working over ``wall_seconds`` (1.0: all of them)."""
    return cpu_seconds / (wall_seconds * (cores or os.cpu_count() or 1)) if wall_seconds else 0.0


def machine() -> dict:
    import psutil

    return {"cores": os.cpu_count(), "memory_mb": round(psutil.virtual_memory().total / 2**20)}


def commit() -> tuple[str, bool]:
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    return sha or "unknown", dirty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["0.1", "1"])
    parser.add_argument("--with-10", action="store_true", help="also scale 10 (about 60 million rows)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per scale, contenders interleaved")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=CONTENDERS,
                        help="which contenders to run (default all; e.g. --contenders project for the project alone)")
    parser.add_argument("--engine", choices=["lambda", "glue"], default="lambda",
                        help="the project's transform engine: the single-node one (default) or the Glue script on local Spark")
    parser.add_argument("--pipeline", default="lineitem", choices=[p.stem for p in sorted((BENCH / "pipelines").glob("*.yaml"))],
                        help="the project's spec in bench/pipelines (lineitem_keys adds dedupe, unique, references, count_distinct)")
    parser.add_argument("--results", default=str(RESULTS), help="folder of result files (default bench/results)")
    parser.add_argument("--keep", help="keep the runs' folders (lake, staged data) under this folder")
    parser.add_argument("--function-env", action="append", default=[], metavar="FUNCTION.NAME=VALUE",
                        type=_checked_setting,
                        help="a variable for one of the project's functions, e.g. LoadFunction.WAREHOUSE_COPY_CONNECTIONS=1")
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--scale", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_contender(args.one, args.scale, Path(args.home), args.engine, args.dsn, args.pipeline,
                                       args.function_env)))
        return
    scales = args.scales + (["10"] if args.with_10 and "10" not in args.scales else [])
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(BENCH))
    import baseline

    from etl_local.warehouse import start_postgres, stop_postgres

    sha, dirty = commit()
    started = dt.datetime.now(dt.timezone.utc)
    result = {"date": started.isoformat(timespec="seconds"), "commit": sha, "dirty": dirty, "engine": args.engine,
              "pipeline": args.pipeline, "contenders": args.contenders, "function_env": args.function_env,
              "machine": {**machine(), "load_before": list(os.getloadavg())}, "scales": {}}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # the embedded PostgreSQL runs as another user when root, and reads the copy contender's file
    pg = work / "pg"
    dsn = start_postgres(pg)
    try:
        for scale in scales:
            csv = lineitem_csv(scale)
            folder = work / f"sf{scale}"
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)
            transformed = folder / "transformed.csv"
            if "copy" in args.contenders:
                baseline.write_transformed_csv(csv, transformed)
                transformed.chmod(0o644)
            schema = baseline.transformed_schema(csv)
            prewarm_wal(dsn, csv.stat().st_size * 3 // 2)  # a scale-1 load writes about 1.5 times its CSV's size of WAL
            runs = []
            for round_ in range(args.repeat):
                order = args.contenders[round_ % len(args.contenders):] + args.contenders[:round_ % len(args.contenders)]
                for contender in order:
                    reset_tables(dsn, schema)
                    os.sync()  # nor the kernel's: the copy contender's input, the last contender's WAL
                    home = folder / f"{contender}-{round_}"
                    home.mkdir()
                    home.chmod(0o755)
                    load_before = list(os.getloadavg())
                    command = [sys.executable, __file__, "--one", contender, "--scale", scale, "--home", str(home),
                               "--engine", args.engine, "--dsn", dsn, "--pipeline", args.pipeline,
                               *(f"--function-env={setting}" for setting in args.function_env)]
                    figures, peak = measure(command)
                    run = {"contender": contender, "scale": scale, "round": round_, "cores": os.cpu_count(), **figures,
                           "peak_rss_mb": peak["tree_pss_mb"], "largest_process_rss_mb": peak["largest_rss_mb"],
                           "rows_per_s": figures["rows"] / figures["total_seconds"], "load_before": load_before,
                           "load_after": list(os.getloadavg())}
                    runs.append(run)
                    report(run)
                    if not args.keep:
                        shutil.rmtree(home, ignore_errors=True)
            found = ratios(runs)
            result["scales"][scale] = {"runs": runs, "ratios": found}
            print()
            for name, value in found.items():
                print(f"scale {scale} ratio {name} = {value:.2f}")
    finally:
        stop_postgres(pg)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_after"] = list(os.getloadavg())
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{sha}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    main()
