"""Benchmark `segengine generate` at the defaults (design §12: 13.5M rows in <= 10 s).

Runs the real CLI N times in child processes into a temporary data directory and writes
benchmarks/results/generate.json: wall seconds (median/min/max), CPU seconds, peak RSS of the
child (from os.wait4), rows written, the machine and the load average around each run.

    .venv/bin/python benchmarks/bench_generate.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import polars as pl

RESULTS = Path(__file__).parent / "results" / "generate.json"


def run_once(data_dir: Path) -> dict[str, float]:
    """One `segengine generate` in a child process: wall, CPU and peak RSS of that child."""
    cmd = [sys.executable, "-m", "segengine", "--data-dir", str(data_dir), "-q", "generate"]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with status {status}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "load_avg_1m_before": round(load_before, 2),
    }


def machine() -> dict[str, object]:
    """Cores, RAM and library versions of this machine."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(ram, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": version("duckdb"),
        "numpy": version("numpy"),
        "pyarrow": version("pyarrow"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="segengine-bench-") as tmp:
        for i in range(args.runs):
            data_dir = Path(tmp) / f"run{i}"
            runs.append(run_once(data_dir))
            files = sorted((data_dir / "lake" / "transactions").glob("month=*/part-0.parquet"))
            rows = pl.scan_parquet(files).select(pl.len()).collect().item()
            runs[-1]["rows"] = rows
            print(f"run {i + 1}/{args.runs}: {runs[-1]}", file=sys.stderr)
    walls = [r["wall_s"] for r in runs]
    result = {
        "benchmark": "segengine generate (defaults: 50,000 customers, 18 months)",
        "runs": runs,
        "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in runs),
        "rows": runs[-1]["rows"],
        "target_wall_s": 10,
        "machine": machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["wall_s"]), f"-> {RESULTS}")


if __name__ == "__main__":
    main()
