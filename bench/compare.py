"""Compare the last two benchmark results (bench/results/*.json) by their ratios.

Rows/s move with the machine and its load; the ratios (project/baseline, project/copy and the
yardsticks' own baseline/copy), measured in the same run on the same machine, are what can be
compared across runs. For each scale in both files it prints the older and newer ratio and the
change, then each contender's median rows/s, peak memory (PSS over its process tree) and the
machine's CPU seconds while it ran (where recorded) for context, and for the project each
function's largest ``Max Memory Used`` (what Lambda reports per sandbox).

    .venv/bin/python bench/compare.py                       # the last two in bench/results
    .venv/bin/python bench/compare.py OLD.json NEW.json     # two given files
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def last_two(folder: Path) -> list[Path]:
    """The two most recent result files, by the date each records (file names sort the same way)."""
    files = sorted(folder.glob("*.json"), key=lambda p: (json.loads(p.read_text()).get("date", ""), p.name))
    if len(files) < 2:
        raise SystemExit(f"{folder}: {len(files)} result file(s), need two to compare (run `make bench`)")
    return files[-2:]


def _median(runs: list[dict], contender: str, field: str) -> float | None:
    """The median of ``field`` over the contender's runs that have it (results before the field was recorded lack it)."""
    values = [run[field] for run in runs if run["contender"] == contender and field in run]
    return statistics.median(values) if values else None


def compare(old: dict, new: dict) -> list[str]:
    """The lines comparing two results, scale by scale."""
    lines = [f"old: {old['date']} {old['commit']}{' (dirty)' if old.get('dirty') else ''}, load {old['machine']['load_before'][0]:.2f}",
             f"new: {new['date']} {new['commit']}{' (dirty)' if new.get('dirty') else ''}, load {new['machine']['load_before'][0]:.2f}"]
    for scale, figures in new["scales"].items():
        before = old["scales"].get(scale)
        if before is None:
            lines.append(f"scale {scale}: only in the new result")
            continue
        for name, value in figures["ratios"].items():
            was = before["ratios"].get(name)
            change = f"{value / was - 1:+.0%}" if was else "new"
            lines.append(f"scale {scale} ratio {name}: {'-' if was is None else f'{was:.2f}'} -> {value:.2f} ({change})")
        for contender in sorted({run["contender"] for run in figures["runs"]}):
            rates = [_median(r["runs"], contender, "rows_per_s") for r in (before, figures)]
            rss = [_median(r["runs"], contender, "peak_rss_mb") for r in (before, figures)]
            cpu = [_median(r["runs"], contender, "cpu_seconds") for r in (before, figures)]
            used = f"   CPU s {_change(cpu, '.1f')}" if any(x is not None for x in cpu) else ""
            lines.append(f"  {contender:<9} rows/s {_change(rates)}   tree PSS MB {_change(rss)}{used}")
            functions = [_function_memory(r["runs"], contender) for r in (before, figures)]
            for function in sorted(set(functions[0]) | set(functions[1])):
                used = [f.get(function) for f in functions]
                lines.append(f"    {function:<24} Max Memory Used MB {_change(used)}")
    return lines


def _change(pair: list[float | None], form: str = ",.0f") -> str:
    return " -> ".join("-" if x is None else format(x, form) for x in pair)


def _function_memory(runs: list[dict], contender: str) -> dict[str, float]:
    """Per function, the median over the contender's runs of its largest Max Memory Used (Lambda's measure)."""
    found: dict[str, list[float]] = {}
    for run in runs:
        if run["contender"] == contender:
            for function, used in (run.get("function_max_memory_mb") or {}).items():
                found.setdefault(function, []).append(used)
    return {function: statistics.median(used) for function, used in found.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="two result files, older first (default: the last two)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.files and len(args.files) != 2:
        parser.error("give two result files, or none")
    paths = args.files or last_two(args.results)
    try:
        old, new = (json.loads(path.read_text()) for path in paths)
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read a result file: {exc}") from None
    print("\n".join(compare(old, new)))


if __name__ == "__main__":
    main(sys.argv[1:])
