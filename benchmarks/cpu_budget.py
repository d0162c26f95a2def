"""CPU-seconds per component of one `segengine run`: a /proc sampler over the run's stage log.

Runs `segengine -v run` in a child process on a data dir whose lake links to the given lake,
samples the child's CPU time (utime + stime of /proc/<pid>/stat, all threads) every 20 ms, and
stamps each stage line of the -v log as it arrives (a stage line is printed when the stage
ends; its start is end - seconds). The CPU used in each sampling interval is shared equally
among the stages running in it; before the first stage is "startup_imports_attach", after the
last one "publish_and_exit". The parts add up to the child's total CPU (os.wait4). Writes
benchmarks/results/cpu_budget.json and prints a Markdown table (median over --repeat runs).

    .venv/bin/python benchmarks/cpu_budget.py --lake-dir /work/bench/lake1 [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_process import fresh_data_dir, machine, segengine_cmd

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
STAGE_LINE = re.compile(r"^\s+(\w+)\s+[\d,]+ rows\s+([\d.]+) s$")


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def attribute(samples: list[tuple[float, float]], spans: dict[str, tuple[float, float]],
              total_cpu: float) -> dict[str, float]:
    """Share each sampling interval's CPU among the stages active in it (pure)."""
    out = {name: 0.0 for name in ("startup_imports_attach", *spans, "publish_and_exit")}
    first = min((s for s, _ in spans.values()), default=float("inf"))
    last = max((e for _, e in spans.values()), default=float("-inf"))
    for (t0, c0), (t1, c1) in zip(samples, samples[1:], strict=False):
        mid, used = (t0 + t1) / 2, c1 - c0
        active = [n for n, (s, e) in spans.items() if s <= mid < e]
        if active:
            for n in active:
                out[n] += used / len(active)
        elif mid < first:
            out["startup_imports_attach"] += used
        elif mid >= last:
            out["publish_and_exit"] += used
        else:  # between stages (gaps in the log): the pipeline's glue
            out.setdefault("between_stages", 0.0)
            out["between_stages"] += used
    sampled = samples[-1][1] if samples else 0.0
    out["publish_and_exit"] += max(total_cpu - sampled, 0.0)  # after the last sample
    return out


def profile_once(d: Path) -> dict[str, Any]:
    cmd = segengine_cmd() + ["--data-dir", str(d), "-v", "run"]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ends: list[tuple[str, float, float]] = []

    def read_log() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            m = STAGE_LINE.match(line.rstrip())
            if m:
                ends.append((m.group(1), time.perf_counter() - started, float(m.group(2))))

    reader = threading.Thread(target=read_log)
    reader.start()
    samples: list[tuple[float, float]] = []
    while child.poll() is None:
        cpu = cpu_seconds(child.pid)
        if cpu is not None:
            samples.append((time.perf_counter() - started, cpu))
        time.sleep(0.02)
    _, status, usage = os.wait4(child.pid, 0) if child.returncode is None else (0, 0, None)
    reader.join()
    wall = time.perf_counter() - started
    total = (usage.ru_utime + usage.ru_stime) if usage else (samples[-1][1] if samples else 0)
    spans = {name: (end - secs, end) for name, end, secs in ends}
    return {"wall_s": round(wall, 3), "cpu_s": round(total, 3),
            "cpu_by_component": {k: round(v, 3) for k, v in
                                 attribute(samples, spans, total).items()},
            "wall_by_stage": {name: secs for name, _, secs in ends}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake-dir", type=Path, required=True, help="data dir holding lake/")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cpu_budget.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="segengine-cpu-"))
    runs, loads = [], []
    for rep in range(args.repeat):
        d = fresh_data_dir(work, f"run-{rep}", args.lake_dir.resolve() / "lake")
        loads.append(round(os.getloadavg()[0], 2))
        runs.append(profile_once(d))
        shutil.rmtree(d, ignore_errors=True)
        print(f"run {rep + 1}: {runs[-1]['wall_s']} s wall, {runs[-1]['cpu_s']} CPU-s, "
              f"load {loads[-1]}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    names = list(dict.fromkeys(n for r in runs for n in r["cpu_by_component"]))
    med = {n: round(statistics.median(r["cpu_by_component"].get(n, 0.0) for r in runs), 2)
           for n in names}
    wall = {n: round(statistics.median(r["wall_by_stage"].get(n, 0.0) for r in runs), 2)
            for n in names if any(n in r["wall_by_stage"] for r in runs)}
    result = {"lake": str(args.lake_dir), "loads_before": loads, "machine": machine(),
              "wall_s_median": statistics.median(r["wall_s"] for r in runs),
              "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
              "cpu_by_component_median": med, "wall_by_stage_median": wall, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| component | wall s (stage) | CPU s |\n|---|---:|---:|")
    for n in names:
        print(f"| {n} | {wall.get(n, '')} | {med[n]} |")
    print(f"| **total** | {result['wall_s_median']} | **{result['cpu_s_median']}** |")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
