"""Profile the Load stage on a finished benchmark run: cProfile, and seconds per SQL statement.

Needs a run kept by ``bench_pipeline.py --keep DIR`` (its lake, with the run's validated rows,
and its embedded PostgreSQL). Each target is loaded again as the LoadFunction would (through
``etl_core.load.load_target``, in this process so cProfile sees every call), first into an
empty table (the target dropped before) unless ``--replace`` keeps the table, so the load
replaces the run's rows as a re-run with changed data would.

Beside the wall time it prints the CPU seconds of this process (the client: Parquet read, CSV
encoding, the COPY writer thread; inflated by cProfile unless ``--no-profile``) and of the
embedded server (the postmaster and its children, ended backends included, measured after the
load's connection has closed), so a change can be judged by the CPU it frees on a shared machine.

    .venv/bin/python bench/profile_load.py --home DIR [--target warehouse] [--replace] [--no-profile]
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import os
import pstats
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src" / "shared"))


def _timed_statements() -> list[tuple[str, float]]:
    """Wrap psycopg's Cursor.execute and Cursor.copy to record each statement's seconds."""
    import psycopg

    timings: list[tuple[str, float]] = []
    execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def timed_execute(self, query, *args, **kwargs):
        started = time.perf_counter()
        try:
            return execute(self, query, *args, **kwargs)
        finally:
            timings.append((" ".join(str(query).split())[:90], time.perf_counter() - started))

    @contextmanager
    def timed_copy(self, statement, *args, **kwargs):
        started = time.perf_counter()
        try:
            with copy(self, statement, *args, **kwargs) as stream:
                yield stream
        finally:
            timings.append((" ".join(str(statement).split())[:90], time.perf_counter() - started))

    psycopg.Cursor.execute, psycopg.Cursor.copy = timed_execute, timed_copy
    return timings


def _server_cpu(dsn: str) -> float:
    """CPU seconds used so far by the server of ``dsn``: its postmaster, the children it has
    reaped (ended backends) and the children alive now."""
    import psutil
    import psycopg

    with psycopg.connect(dsn) as conn:
        pid = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").fetchone()[0]
    postmaster = psutil.Process(pid).parent()
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children():
        try:
            times = child.cpu_times()
        except psutil.Error:  # ended meanwhile: counted with the reaped children next time
            continue
        total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, help="a run kept by bench_pipeline.py --keep")
    parser.add_argument("--target", action="append", help="target name(s); default: every target")
    parser.add_argument("--replace", action="store_true", help="keep the table: the load replaces the run's rows")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true", help="no cProfile: the client's CPU as it is in the function")
    args = parser.parse_args()

    import psycopg

    from etl_core.layout import RunLayout
    from etl_core.load import load_target
    from etl_core.settings import Settings
    from etl_core.spec import load_spec
    from etl_local.warehouse import start_postgres

    home = Path(args.home)
    valid = next(home.glob("**/staging/lineitem/*/valid"))
    run_root = valid.parent
    lake = run_root.parents[2]
    dsn = start_postgres(next(home.glob("**/pg")))
    spec = load_spec(str(REPO / "bench" / "pipelines"), "lineitem")
    settings = dataclasses.replace(Settings.from_env(), warehouse_dsn=dsn, warehouse_secret_arn="")
    layout = RunLayout(str(lake), "lineitem", run_root.name)
    timings = _timed_statements()
    for target in args.target or [t.name for t in spec.targets]:
        model = spec.target(target)
        if model.type == "postgres" and not args.replace:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {model.table}")
        timings.clear()
        profile = cProfile.Profile()
        server = _server_cpu(dsn)
        client = time.process_time()
        started = time.perf_counter()
        if not args.no_profile:
            profile.enable()
        result = load_target(spec, target, layout, settings)
        profile.disable()
        took = time.perf_counter() - started
        client = time.process_time() - client
        time.sleep(1)  # the load's backend ends after its connection closes
        server = _server_cpu(dsn) - server
        print(f"\n== target {target} ({model.type}): {took:.2f} s, {result['rows']:,} rows held for the run; "
              f"CPU: client {client:.2f} s, server {server:.2f} s; load {os.getloadavg()[0]:.2f}")
        for statement, seconds in timings:
            print(f"  {seconds:8.2f} s  {statement}")
        if args.no_profile:
            continue
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top // 2)
        print(out.getvalue())


if __name__ == "__main__":
    main()
