"""Run every benchmark in one process and print one table (numbers go to docs/benchmarks.md)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

SUITES = ["bench.bench_hart", "bench.bench_platform", "bench.bench_npu", "bench.bench_workloads", "bench.bench_snapshots",
          "bench.bench_tflite"]


def main() -> int:
    rows: list[dict] = []
    for name in SUITES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        rows += module.run()
    width = max(len(r["benchmark"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>12}  unit   {'ratio':>7}  target")
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['value']:>12.4g}  {r['unit']:<5}  {r['ratio']:>7.3f}  {r['target']}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
