"""End-to-end pipeline benchmark: TPC-H lineitem through the real state machine, two sizes.

For each scale it generates lineitem as CSV with tpchgen-cli (cached under bench/.data),
runs the `lineitem` pipeline (bench/pipelines) through the local runtime in a fresh
process (so peak RSS is that run's alone) into the embedded PostgreSQL and partitioned
Parquet, and prints seconds and rows/s per stage and overall, and peak RSS.

    .venv/bin/python bench/bench_pipeline.py                 # scales 0.1 and 1
    .venv/bin/python bench/bench_pipeline.py --scales 0.1    # quicker
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / ".data"
RUN_DATE = "2026-11-26"
STAGES = ["Plan", "ExtractSources", "TransformInLambda", "TransformOnGlue", "Validate", "LoadTargets", "Finalize"]


def lineitem_csv(scale: str) -> Path:
    target = DATA / f"sf{scale}" / "lineitem.csv"
    if not target.exists():
        tool = Path(sys.executable).with_name("tpchgen-cli")
        subprocess.run([str(tool), "csv", "-s", scale, "--tables", "lineitem", "--output-dir", str(target.parent)], check=True)
    return target


def run_once(scale: str, home: Path, engine: str) -> dict:
    """One execution in this process; the parent reads the JSON it prints."""
    sys.path.insert(0, str(REPO))
    from etl_local.runtime import LocalRuntime

    raw = home / "raw" / "lineitem" / RUN_DATE
    raw.mkdir(parents=True)
    (raw / "lineitem.csv").symlink_to(lineitem_csv(scale))
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"].update(RAW_URI=str(home / "raw"), PIPELINES_URI=str(REPO / "bench" / "pipelines"))
    env_file = home / "env.json"
    env_file.write_text(json.dumps(env))
    threshold = "1" if engine == "glue" else str(2**62)  # pin the engine the Choice would pick by size
    runtime = LocalRuntime(REPO, home=home / "etl", env_file=env_file, parameter_overrides={"GlueThresholdBytes": threshold})
    runtime._placeholder("ETL_WAREHOUSE_DSN")  # start PostgreSQL before the clock starts
    entered: dict[str, float] = {}
    seconds: dict[str, float] = {}

    def timing(event: dict) -> None:
        if event["type"].endswith("StateEntered"):
            entered[event["stateEnteredEventDetails"]["name"]] = time.perf_counter()
        elif event["type"].endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - entered[name]

    started = time.perf_counter()
    clock_zero = time.monotonic()
    result = runtime.run({"pipeline": "lineitem", "run_date": RUN_DATE}, on_event=timing)
    total = time.perf_counter() - started
    runtime.close()
    if result.status != "SUCCEEDED":
        raise SystemExit(f"run failed: {result.error}: {result.cause}")
    loads = [(record.started - clock_zero, record.ended - clock_zero) for record in runtime.host.records
             if record.function == "LoadFunction"]
    return {
        "load_invocations": loads,
        "scale": scale,
        "engine": engine,
        "rows": result.output["counts"]["extracted"],
        "counts": result.output["counts"],
        "seconds": seconds,
        "total_seconds": total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def report(figures: dict) -> None:
    rows = figures["rows"]
    print(f"\nscale {figures['scale']} ({figures['engine']} engine): {rows:,} rows, {figures['total_seconds']:.1f} s end to end "
          f"= {rows / figures['total_seconds']:,.0f} rows/s, peak RSS {figures['peak_rss_mb']:,.0f} MB")
    for stage, took in figures["seconds"].items():
        if stage in STAGES:
            print(f"  {stage:<18} {took:7.2f} s  {rows / took:12,.0f} rows/s")
    loads = figures.get("load_invocations") or []
    for started, ended in loads:  # one LoadFunction invocation per target, seconds from the execution's start
        print(f"  load invocation    {started:7.2f} s .. {ended:7.2f} s")
    if loads:
        overlapping = max(sum(1 for s, e in loads if s <= start < e) for start, _ in loads)
        print(f"  load targets running at once: up to {overlapping} of {len(loads)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["0.1", "1"])
    parser.add_argument("--engine", choices=["lambda", "glue"], default="lambda",
                        help="transform engine: the single-node one (default) or the Glue script on local Spark")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_once(args.one, Path(args.home), args.engine)))
        return
    for scale in args.scales:
        lineitem_csv(scale)
        home = Path(tempfile.mkdtemp(prefix="etl-bench-"))
        home.chmod(0o755)  # the embedded PostgreSQL runs as another user when root
        try:
            command = [sys.executable, __file__, "--one", scale, "--home", str(home), "--engine", args.engine]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            report(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
