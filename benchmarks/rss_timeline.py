"""Where a `segengine run` peaks in memory: VmRSS every 50 ms against the run's stage log.

Runs `segengine -v run` in a child on a fresh data dir whose lake links to the given lake (as
run_bench.py), reads /proc/<pid>/status VmRSS every 50 ms, stamps each stage line of the -v log
as it arrives (printed when the stage ends), and prints the peak (os.wait4 ru_maxrss, the
harness's number, MiB) and when it happened, then the timeline around it.

    .venv/bin/python benchmarks/rss_timeline.py --lake-dir /work/bench/lake10 [--window 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_process import fresh_data_dir, segengine_cmd


def vm_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake-dir", type=Path, required=True, help="data dir holding lake/")
    parser.add_argument("--window", type=float, default=15.0, help="seconds shown before peak")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="segengine-rss-"))
    d = fresh_data_dir(work, "run", args.lake_dir.resolve() / "lake")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(segengine_cmd() + ["--data-dir", str(d), "-v", "run"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []

    def read_log() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append((time.perf_counter() - started, line.rstrip()))

    reader = threading.Thread(target=read_log)
    reader.start()
    samples: list[tuple[float, float]] = []
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss = vm_rss_mib(child.pid)
        if rss is not None:
            samples.append((time.perf_counter() - started, rss))
        time.sleep(0.05)
    reader.join()
    shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - started
    at, top = max(samples, key=lambda s: s[1]) if samples else (0.0, 0.0)
    print(f"exit {os.waitstatus_to_exitcode(status)}, wall {wall:.1f} s, load before {load:.2f}, "
          f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB (sampled {top:.0f} MiB at {at:.1f} s)")
    events = [(t, f"    {line.strip()}") for t, line in lines if " rows " in line]
    events += [(t, f"{r:6.0f} MiB") for i, (t, r) in enumerate(samples)
               if at - args.window <= t <= at + 3 and i % 4 == 0]
    for t, text in sorted(events):
        print(f"{t:7.2f}  {text}")
    sys.exit(0)


if __name__ == "__main__":
    main()
