"""Child processes for the benchmarks: run one command, measure wall, CPU and peak RSS.

Peak RSS is os.wait4's rusage of the child: on Linux its ru_maxrss is the larger of the
child's own peak and that of its waited-for descendants (the kernel reports RUSAGE_BOTH for a
reaped child), so a command that forks helpers is covered too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench_generate import machine as base_machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

def machine() -> dict[str, Any]:
    """bench_generate's machine info plus CPU model and the baselines' library versions."""
    info = base_machine()
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info["cpu_model"] = model
    for pkg in ("scikit-learn", "pandas", "segengine"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = None
    return info

def git_state() -> dict[str, Any]:
    """HEAD and whether the working tree differs (read-only git commands)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    dirty = git("status", "--porcelain", "--", "src", "queries")
    return {"head": git("rev-parse", "--short", "HEAD"), "src_or_queries_modified": bool(dirty)}

def code_fingerprint() -> str:
    """SHA-256 (12 hex) over src/segengine/**/*.py and queries/*.sql: the code measured.

    Others edit the checkout while benchmarks run; equal fingerprints at start and end of a
    harness run mean every repetition measured the same code."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "src" / "segengine").rglob("*.py")) + sorted(
        (ROOT / "queries").glob("*.sql"))
    for f in files:
        digest.update(str(f.relative_to(ROOT)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]

def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until the 1-minute load average is <= max_load; return it."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return round(load, 2)

def run_child(cmd: list[str], *, log_dir: Path, timeout: float) -> dict[str, Any]:
    """Run cmd; wall, CPU and peak RSS of that child (os.wait4), stdout/stderr to files."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
        launched = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "exit_code": child.returncode,
        "launched_at": launched,
    }
    if child.returncode != 0:
        tail = (log_dir / "stderr.txt").read_text(errors="replace")[-2000:]
        result["error"] = "timeout (killed)" if wall >= timeout else tail
    return result

def segengine_cmd() -> list[str]:
    script = Path(sys.executable).parent / "segengine"
    return [str(script)] if script.exists() else [sys.executable, "-m", "segengine"]

def fresh_data_dir(work: Path, name: str, lake: Path) -> Path:
    """An empty data directory whose lake/ is a link to the cached lake."""
    d = work / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "lake").symlink_to(lake.resolve(), target_is_directory=True)
    return d


def run_options() -> str:
    """`segengine run --help`: which options this build accepts (e.g. --no-summaries)."""
    done = subprocess.run(segengine_cmd() + ["run", "--help"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    return done.stdout


def rejected_option(result: dict[str, Any]) -> bool:
    """True when a child failed because the CLI rejected an option or its value (click exit 2)."""
    return result["exit_code"] == 2 and any(
        s in str(result.get("error", "")) for s in ("No such option", "Invalid value", "Usage:"))
