"""Profile the Load stage on a finished benchmark run: cProfile, and seconds per SQL statement.

Needs a run kept by ``bench_pipeline.py --keep DIR`` (its lake, with the run's validated rows,
and its embedded PostgreSQL). Each target is loaded again as the LoadFunction would (through
``etl_core.load.load_target``, in this process so cProfile sees every call), first into an
empty table (the target dropped before) unless ``--replace`` keeps the table, so the load
replaces the run's rows as a re-run with changed data would.

    .venv/bin/python bench/profile_load.py --home DIR [--target warehouse] [--replace]
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, help="a run kept by bench_pipeline.py --keep")
    parser.add_argument("--target", action="append", help="target name(s); default: every target")
    parser.add_argument("--replace", action="store_true", help="keep the table: the load replaces the run's rows")
    parser.add_argument("--top", type=int, default=25)
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
        started = time.perf_counter()
        profile.enable()
        result = load_target(spec, target, layout, settings)
        profile.disable()
        took = time.perf_counter() - started
        print(f"\n== target {target} ({model.type}): {took:.2f} s, {result['rows']:,} rows held for the run")
        for statement, seconds in timings:
            print(f"  {seconds:8.2f} s  {statement}")
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top // 2)
        print(out.getvalue())


if __name__ == "__main__":
    main()
