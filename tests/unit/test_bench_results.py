"""The benchmark's result files and their comparison (bench/bench_pipeline.py, bench/compare.py).

Nothing here is timed: the figures are written by hand, and the tests check how ratios are
taken from them, that ``compare`` picks the two latest files by their recorded date, and
what it prints.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_pipeline  # noqa: E402
import compare  # noqa: E402


def run(contender: str, rows_per_s: float, rss: float = 100.0, functions: dict[str, int] | None = None) -> dict:
    return {"contender": contender, "rows_per_s": rows_per_s, "peak_rss_mb": rss, "function_max_memory_mb": functions or {}}


def result(date: str, commit: str, runs: list[dict]) -> dict:
    return {"date": date, "commit": commit, "dirty": False, "machine": {"cores": 2, "memory_mb": 8000, "load_before": [0.5, 0.4, 0.3],
            "load_after": [1.0, 0.5, 0.3]}, "scales": {"1": {"runs": runs, "ratios": bench_pipeline.ratios(runs)}}}


def test_ratios_come_from_each_contenders_median_rate() -> None:
    runs = [run("project", 100), run("project", 300), run("project", 200), run("baseline", 400), run("copy", 250), run("copy", 150)]
    assert bench_pipeline.ratios(runs) == pytest.approx({"project/baseline": 0.5, "project/copy": 1.0, "baseline/copy": 2.0})


def test_a_ratio_needs_both_contenders() -> None:
    assert bench_pipeline.ratios([run("project", 100), run("copy", 50)]) == {"project/copy": 2.0}


def test_compare_takes_the_last_two_by_recorded_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        "b.json": result("2026-12-01T03:00:00+00:00", "bbb", [run("project", 100, functions={"ValidateFunction": 300}),
                                                               run("baseline", 200), run("copy", 400)]),
        "a.json": result("2026-12-01T04:00:00+00:00", "ccc", [run("project", 150, 90, {"ValidateFunction": 250, "LoadFunction": 200}),
                                                               run("baseline", 200), run("copy", 300)]),
        "c.json": result("2026-11-30T04:00:00+00:00", "aaa", [run("project", 1), run("baseline", 1000), run("copy", 1000)]),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    compare.main(["--results", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("old: 2026-12-01T03:00:00+00:00 bbb") and out[1].startswith("new: 2026-12-01T04:00:00+00:00 ccc")
    assert "scale 1 ratio project/baseline: 0.50 -> 0.75 (+50%)" in out
    assert "scale 1 ratio project/copy: 0.25 -> 0.50 (+100%)" in out
    assert "scale 1 ratio baseline/copy: 0.50 -> 0.67 (+33%)" in out
    assert "  project   rows/s 100 -> 150   tree PSS MB 100 -> 90" in out
    assert "    ValidateFunction         Max Memory Used MB 300 -> 250" in out
    assert "    LoadFunction             Max Memory Used MB - -> 200" in out


def test_function_memory_is_each_functions_largest_report(tmp_path: Path) -> None:
    """The bench reads Max Memory Used from the invocation reports the local host writes, both formats."""
    (tmp_path / "ValidateFunction.log").write_text(
        '{"time":"2026-12-01T03:26:14.482Z","type":"platform.report","record":{"requestId":"a","metrics":{"durationMs":1.5,'
        '"billedDurationMs":2,"memorySizeMB":2048,"maxMemoryUsedMB":312},"status":"success"}}\n'
        '{"level":"INFO","message":"platform.report is mentioned here"}\n'
        '{"time":"2026-12-01T03:27:14.482Z","type":"platform.report","record":{"requestId":"b","metrics":{"durationMs":1.5,'
        '"billedDurationMs":2,"memorySizeMB":2048,"maxMemoryUsedMB":287},"status":"success"}}\n')
    (tmp_path / "LoadFunction.log").write_text(
        "REPORT RequestId: c\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 2048 MB\tMax Memory Used: 401 MB\t\n")
    (tmp_path / "PlanFunction.log").write_text("no report yet\n")
    assert bench_pipeline.function_max_memory(tmp_path) == {"LoadFunction": 401, "ValidateFunction": 312}


def test_a_ratio_an_older_result_did_not_record_shows_as_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older = result("2026-12-01T03:00:00+00:00", "aaa", [run("project", 100), run("baseline", 200), run("copy", 400)])
    del older["scales"]["1"]["ratios"]["baseline/copy"]  # written before the bench recorded it
    newer = result("2026-12-01T04:00:00+00:00", "bbb", [run("project", 100), run("baseline", 200), run("copy", 400)])
    (tmp_path / "old.json").write_text(json.dumps(older))
    (tmp_path / "new.json").write_text(json.dumps(newer))
    compare.main(["--results", str(tmp_path)])
    assert "scale 1 ratio baseline/copy: - -> 0.50 (new)" in capsys.readouterr().out.splitlines()


def test_compare_with_fewer_than_two_results_says_so(tmp_path: Path) -> None:
    (tmp_path / "only.json").write_text(json.dumps(result("2026-12-01T03:00:00+00:00", "a", [])))
    with pytest.raises(SystemExit, match="1 result file"):
        compare.main(["--results", str(tmp_path)])


def _recycled_segments(conn) -> int:
    """WAL segment files ahead of the one being written: ready for reuse, not to be created."""
    return conn.execute("SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' "
                        "AND name > pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]


def test_prewarm_wal_leaves_recycled_segments_for_the_first_contender(warehouse_dsn: str) -> None:
    import psycopg

    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        before = _recycled_segments(conn)
        segment = conn.execute("SELECT pg_size_bytes(current_setting('wal_segment_size'))").fetchone()[0]
        bench_pipeline.prewarm_wal(warehouse_dsn, (before + 4) * segment)
        assert _recycled_segments(conn) >= before + 4
        assert conn.execute("SELECT to_regclass('bench_wal_warmup')").fetchone()[0] is None


def test_largest_process_memory_is_the_kernels_peak_not_a_sample() -> None:
    import psutil

    process = psutil.Process()
    assert bench_pipeline._peak_rss(process) >= process.memory_info().rss > 0


def test_a_run_reports_the_cores_it_kept_busy(capsys: pytest.CaptureFixture[str]) -> None:
    """CPU seconds against wall seconds and cores: the share of the machine a run and each stage used."""
    assert bench_pipeline.busy_share(3.0, 2.0, 2) == pytest.approx(0.75)
    assert bench_pipeline.busy_share(1.0, 0.0, 2) == 0.0
    figures = {"contender": "project", "scale": "1", "rows": 1000, "total_seconds": 10.0, "rows_per_s": 100.0,
               "peak_rss_mb": 100.0, "largest_process_rss_mb": 50.0, "load_before": [0.5, 0.4, 0.3], "cores": 2,
               "cpu_seconds": 15.0, "steal_seconds": 0.5, "stages": {"Extract": 4.0, "Load": 6.0},
               "stage_cpu_seconds": {"Extract": 7.2, "Load": 7.8}}
    bench_pipeline.report(figures)
    out = capsys.readouterr().out
    assert "CPU 15.0 s, 75% of the machine's cores over the run (0.5 s stolen by the hypervisor)" in out
    assert "CPU   7.20 s ( 90%)" in out and "CPU   7.80 s ( 65%)" in out


def test_compare_shows_cpu_where_a_result_recorded_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CPU seconds (recorded since the bench measured them) are compared beside rows/s; an older
    result without them shows as '-'."""
    old = result("2026-12-01T03:00:00+00:00", "old", [run("project", 100), run("baseline", 200)])
    new = result("2026-12-02T03:00:00+00:00", "new", [{**run("project", 150), "cpu_seconds": 44.0},
                                                      {**run("baseline", 200), "cpu_seconds": 46.5}])
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    compare.main(["--results", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert "  project   rows/s 100 -> 150   tree PSS MB 100 -> 100   CPU s - -> 44.0" in out
    assert "  baseline  rows/s 200 -> 200   tree PSS MB 100 -> 100   CPU s - -> 46.5" in out


def test_a_function_setting_is_read_or_refused_by_its_form() -> None:
    assert bench_pipeline.function_setting("LoadFunction.WAREHOUSE_COPY_CONNECTIONS=1") == (
        "LoadFunction", "WAREHOUSE_COPY_CONNECTIONS", "1")
    assert bench_pipeline.function_setting("LoadFunction.EMPTY=") == ("LoadFunction", "EMPTY", "")
    for bad in ("LoadFunction=1", "LoadFunction.NAME", ".NAME=1"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected FUNCTION.NAME=VALUE"):
            bench_pipeline.function_setting(bad)
