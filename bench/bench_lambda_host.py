"""What the worker-process Lambda host adds per invocation, cold and warm (milliseconds).

A trivial handler (returns its event) isolates the host's own cost: a cold start is a new
process (interpreter start-up, the worker, importing the handler module), a warm invocation is
one round trip over the pipes plus the worker's marshalling and its START/END/REPORT lines.
An in-process call of the same handler is the baseline.

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

from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef

HANDLER = "def handler(event, context):\n    return event\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=200, help="warm invocations to time")
    parser.add_argument("--cold", type=int, default=10, help="cold starts to time")
    args = parser.parse_args()
    event = {"pipeline": "orders", "run_id": "2026-11-26", "items": list(range(50))}
    with tempfile.TemporaryDirectory() as folder:
        code = Path(folder) / "fn"
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        fn = FunctionDef("Echo", code, "app.handler", runtime, 30, 128, {}, [])

        spec = importlib.util.spec_from_file_location("bench_echo", code / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        for _ in range(args.warm):
            module.handler(event, None)
        in_process_ms = (time.perf_counter() - started) * 1000 / args.warm

        cold = []
        for _ in range(args.cold):
            with LambdaHost({"Echo": fn}, lambda name: {}, Path(folder) / "logs") as host:
                started = time.perf_counter()
                host.invoke("Echo", event)
                cold.append((time.perf_counter() - started) * 1000)
        with LambdaHost({"Echo": fn}, lambda name: {}, Path(folder) / "logs") as host:
            host.invoke("Echo", event)
            warm = []
            for _ in range(args.warm):
                started = time.perf_counter()
                host.invoke("Echo", event)
                warm.append((time.perf_counter() - started) * 1000)
    print(f"in-process call      {in_process_ms:8.3f} ms")
    print(f"cold start (median)  {statistics.median(cold):8.1f} ms   (min {min(cold):.1f}, max {max(cold):.1f}, n={len(cold)})")
    print(f"warm (median)        {statistics.median(warm):8.2f} ms   (p90 {sorted(warm)[int(len(warm) * 0.9)]:.2f}, n={len(warm)})")


if __name__ == "__main__":
    main()
