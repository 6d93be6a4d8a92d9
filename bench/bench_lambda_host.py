"""What the worker-process Lambda host adds per invocation, cold and warm (milliseconds).

Two handlers: a trivial one (returns its event) isolates the host's own cost, and one that
imports the shared layer's heavy libraries (pyarrow, Powertools, pydantic, psycopg, as the
stage handlers do) shows what a real function's cold start costs. Each cold start is timed
with a fresh interpreter per environment (``--no-fork-server``, as before the fork servers)
and forked from the layer's fork server (the default); the fork server's own start, once per
process and layer set, is printed apart. A warm invocation is one round trip over the pipes
plus the worker's marshalling and its START/END/REPORT lines. An in-process call is the baseline.

    .venv/bin/python bench/bench_lambda_host.py [--warm 200] [--cold 10]
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

from etl_local import lambda_host
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef

HANDLER = "def handler(event, context):\n    return event\n"
LAYER_HANDLER = ("import pyarrow.parquet, pyarrow.compute, pydantic, psycopg\n"
                 "from aws_lambda_powertools.utilities.typing import LambdaContext\n\n" + HANDLER)
SHARED_LAYER = Path(__file__).resolve().parents[1] / "src" / "shared"


def _cold(fn: FunctionDef, logs: Path, times: int, event: dict, *, fork_server: bool) -> list[float]:
    """Milliseconds per cold invocation: each in a new host, so a new environment."""
    cold = []
    for _ in range(times):
        with LambdaHost({fn.logical_id: fn}, lambda name: {}, logs, fork_server=fork_server,
                        warn=lambda message: None) as host:
            started = time.perf_counter()
            host.invoke(fn.logical_id, event)
            cold.append((time.perf_counter() - started) * 1000)
    return cold


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ms   (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=200, help="warm invocations to time")
    parser.add_argument("--cold", type=int, default=10, help="cold starts to time, each way")
    args = parser.parse_args()
    event = {"pipeline": "orders", "run_id": "2026-11-26", "items": list(range(50))}
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder) / "logs"
        functions = {}
        for name, code, layers in (("Echo", HANDLER, []), ("Layered", LAYER_HANDLER, [SHARED_LAYER])):
            (Path(folder) / name).mkdir()
            (Path(folder) / name / "app.py").write_text(code)
            functions[name] = FunctionDef(name, Path(folder) / name, "app.handler", runtime, 30, 128, {}, layers)

        spec = importlib.util.spec_from_file_location("bench_echo", Path(folder) / "Echo" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        for _ in range(args.warm):
            module.handler(event, None)
        in_process_ms = (time.perf_counter() - started) * 1000 / args.warm

        results = {}
        for name, fn in functions.items():
            results[name, "fresh"] = _cold(fn, logs, args.cold, event, fork_server=False)
            lambda_host.stop_zygotes()
            started = time.perf_counter()
            _cold(fn, logs, 1, event, fork_server=True)  # starts the layer set's fork server
            results[name, "server"] = [(time.perf_counter() - started) * 1000]
            results[name, "forked"] = _cold(fn, logs, args.cold, event, fork_server=True)
        with LambdaHost({"Echo": functions["Echo"]}, lambda name: {}, logs, warn=lambda message: None) as host:
            host.invoke("Echo", event)
            warm = []
            for _ in range(args.warm):
                started = time.perf_counter()
                host.invoke("Echo", event)
                warm.append((time.perf_counter() - started) * 1000)
        lambda_host.stop_zygotes()
    print(f"in-process call                          {in_process_ms:8.3f} ms")
    for name, what in (("Echo", "trivial handler"), ("Layered", "handler importing the layer")):
        print(f"cold, {what + ', fresh interpreter':<34} {_summary(results[name, 'fresh'])}")
        print(f"cold, {what + ', forked':<34} {_summary(results[name, 'forked'])}")
        print(f"  first cold start with the fork server's own start {results[name, 'server'][0]:8.1f} ms")
    print(f"warm (median)                            {statistics.median(warm):8.2f} ms   "
          f"(p90 {sorted(warm)[int(len(warm) * 0.9)]:.2f}, n={len(warm)})")


if __name__ == "__main__":
    main()
