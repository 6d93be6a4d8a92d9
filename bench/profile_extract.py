"""Profile the Extract stage alone, in this process: wall and CPU seconds, optionally cProfile.

Runs ``etl_core.extract.extract_source`` for the lineitem pipeline's source (bench/pipelines)
on one CSV file (default: the cached scale-1 lineitem, bench/.data/sf1/lineitem.csv), as the
ExtractFunction would, writing the staged Parquet and the quarantine under ``--lake``.
CPU is this process's user+system seconds (every thread: the CSV read-ahead and the Parquet
sink run beside the main one), so a change can be judged by the CPU it frees on a shared machine.

``--code DIR`` runs the etl_core of another checkout (``DIR/src/shared``), so two versions are
measured one after the other in the same minutes; ``--compare A B`` checks that two staged
objects (or quarantines) hold the same rows, batch by batch, every column and ``_origin``
included.

    .venv/bin/python bench/profile_extract.py [--csv FILE] [--lake DIR] [--code DIR] [--profile]
    .venv/bin/python bench/profile_extract.py --compare A.parquet B.parquet
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _compare(left: str, right: str) -> None:
    """Exit non-zero unless both Parquet objects hold the same schema and rows, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    a, b = pq.ParquetFile(left), pq.ParquetFile(right)
    if a.schema_arrow != b.schema_arrow or a.metadata.num_rows != b.metadata.num_rows:
        sys.exit(f"differ: schema or rows ({a.metadata.num_rows} vs {b.metadata.num_rows})")

    def rows(parquet: pq.ParquetFile):
        for batch in parquet.iter_batches(batch_size=1 << 16):
            yield pa.Table.from_batches([batch])

    done = 0
    pending = pa.table({n: [] for n in a.schema_arrow.names}).cast(a.schema_arrow)
    other = rows(b)
    for table in rows(a):
        while pending.num_rows < table.num_rows:
            pending = pa.concat_tables([pending, next(other)])
        if not table.equals(pending.slice(0, table.num_rows)):
            sys.exit(f"differ in rows {done}..{done + table.num_rows}")
        pending = pending.slice(table.num_rows)
        done += table.num_rows
    print(f"same: {done:,} rows, {len(a.schema_arrow)} columns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", default=str(REPO / "bench" / ".data" / "sf1" / "lineitem.csv"))
    parser.add_argument("--lake", help="where the staged objects go (default: a temporary folder, removed)")
    parser.add_argument("--code", default=str(REPO), help="the checkout whose etl_core runs")
    parser.add_argument("--profile", action="store_true", help="under cProfile (inflates CPU)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        _compare(*args.compare)
        return
    sys.path[:0] = [args.code, str(Path(args.code) / "src" / "shared")]

    import etl_core
    from etl_core.extract import ExtractContext, extract_source
    from etl_core.layout import RunLayout
    from etl_core.settings import Settings
    from etl_core.spec import load_spec

    spec = load_spec(str(REPO / "bench" / "pipelines"), "lineitem")
    with tempfile.TemporaryDirectory() as scratch:
        lake = args.lake or scratch
        layout = RunLayout(lake, "lineitem", "profile")
        ctx = ExtractContext(uri=args.csv, layout=layout, settings=Settings.from_env(), run_date="2026-12-01")
        profile = cProfile.Profile()
        cpu, started = _cpu(), time.perf_counter()
        if args.profile:
            profile.enable()
        result = extract_source(spec, "lineitem", ctx)
        profile.disable()
        took, cpu = time.perf_counter() - started, _cpu() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"extract {took:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:.0f} MB, load {os.getloadavg()[0]:.2f}; "
              f"rows read {result.rows_read:,} staged {result.rows_staged:,} rejected {result.rows_rejected:,}; "
              f"etl_core {Path(etl_core.__file__).parent}; staged {result.staged_uri}")
    if args.profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
