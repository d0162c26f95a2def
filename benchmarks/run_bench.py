"""Benchmark `segengine run` end to end against two baselines on the same generated lake (§12).

Generates the default portfolio once per scale (cached in benchmarks/cache/<scale>/, git-ignored),
then repeats: `segengine run`, the pandas baseline, the dbt-on-DuckDB baseline — each in a fresh
child process and a fresh data directory whose `lake` links to the cached lake, so peak RSS
(os.wait4) and wall time are per run. segengine's per-stage times come from its run manifest.
Writes benchmarks/results/run_<scale>.json and prints a summary table.

    .venv/bin/python benchmarks/run_bench.py [--scale 0.1|1|10] [--repeat 3] [--no-baselines]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from bench_generate import machine as base_machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"
SCALES = {"0.1": 5_000, "1": 50_000, "10": 500_000}
MONTHS = 18
SYSTEMS = ("segengine", "pandas", "dbt_duckdb")
SEGMENTS = ("High-Value Travelers", "Declining", "New & Growing", "Budget-Conscious",
            "Stable Mid-Spenders")


# ---------------------------------------------------------------- machine and load


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


# ---------------------------------------------------------------- child processes


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
    result = {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
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


# ---------------------------------------------------------------- the lake


def ensure_lake(scale: str, *, timeout: float) -> dict[str, Any]:
    """Generate (once) the default portfolio at this scale into benchmarks/cache/<scale>/."""
    data_dir = CACHE / scale
    marker = data_dir / "generated.json"
    want = {"customers": SCALES[scale], "months": MONTHS}
    if marker.exists():
        info = json.loads(marker.read_text())
        if {k: info.get(k) for k in want} == want and (data_dir / "lake").is_dir():
            return info | {"cached": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    print(f"generating scale {scale} ({SCALES[scale]:,} customers) into {data_dir} ...",
          file=sys.stderr)
    cmd = segengine_cmd() + ["--data-dir", str(data_dir), "-q", "generate",
                             "--customers", str(SCALES[scale]), "--months", str(MONTHS)]
    run = run_child(cmd, log_dir=data_dir / "generate-log", timeout=timeout)
    if run["exit_code"] != 0:
        raise SystemExit(f"generate failed: {run.get('error')}")
    files = sorted((data_dir / "lake" / "transactions").glob("month=*/*.parquet"))
    rows = pl.scan_parquet(files).select(pl.len()).collect().item()
    size = sum(f.stat().st_size for f in (data_dir / "lake").rglob("*.parquet"))
    info = want | {"transactions": rows, "lake_mb": round(size / 2**20, 1),
                   "generate_wall_s": run["wall_s"], "generate_peak_rss_mb": run["peak_rss_mb"]}
    marker.write_text(json.dumps(info, indent=2) + "\n")
    return info | {"cached": False}


# ---------------------------------------------------------------- one run of each system


def run_segengine(d: Path, *, timeout: float) -> dict[str, Any]:
    r = run_child(segengine_cmd() + ["--data-dir", str(d), "run"], log_dir=d / "log",
                  timeout=timeout)
    if r["exit_code"] != 0:
        return r
    manifest = json.loads(next((d / "runs").glob("*.json")).read_text())
    stages = manifest["stages"]
    publishing = manifest["publish_seconds"]["total"]
    started = datetime.fromisoformat(manifest["started_at"]).timestamp()
    finished = datetime.fromisoformat(manifest["finished_at"]).timestamp()
    r["as_of"] = manifest["as_of"]
    r["stages"] = {s["stage"]: s["seconds"] for s in stages}
    # Where the wall time goes. Stages overlap (MoM and the gate's recomputation run on a
    # second worker), so the phases are wall-clock spans, not sums of stage times.
    r["phases"] = {
        "startup_imports": round(started - r["launched_at"], 3),
        "compute_and_gate": round(finished - started - publishing, 3),
        "publish": round(publishing, 3),
        "exit": round(r["wall_s"] - (finished - r["launched_at"]), 3),
    }
    r["rows"] = {name: o["rows"] for name, o in manifest["outputs"].items()}
    return r


def run_pandas(d: Path, *, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "baseline_pandas.py"), "--data-dir", str(d),
           "--out", str(d / "out"), "--stats", str(d / "stats.json")]
    return _with_stats(run_child(cmd, log_dir=d / "log", timeout=timeout), d)


def run_dbt(d: Path, *, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "baseline_dbt_duckdb.py"), "--data-dir", str(d),
           "--db", str(d / "baseline.duckdb"), "--stats", str(d / "stats.json")]
    return _with_stats(run_child(cmd, log_dir=d / "log", timeout=timeout), d)


def _with_stats(r: dict[str, Any], d: Path) -> dict[str, Any]:
    if r["exit_code"] == 0:
        stats = json.loads((d / "stats.json").read_text())
        r.update(as_of=stats["as_of"], stages=stats["stages"], rows=stats["rows"])
    return r


RUNNERS = {"segengine": run_segengine, "pandas": run_pandas, "dbt_duckdb": run_dbt}


# ---------------------------------------------------------------- agreement


def segments_of(system: str, d: Path, as_of: str) -> pl.DataFrame:
    """customer_id, customer_segment of a system's last run."""
    if system == "segengine":
        path = d / "out" / as_of / "customer_segments.parquet"
        return pl.read_parquet(path, columns=["customer_id", "customer_segment"])
    if system == "pandas":
        return pl.read_parquet(d / "out" / "customer_segments.parquet",
                               columns=["customer_id", "customer_segment"])
    con = duckdb.connect(str(d / "baseline.duckdb"), read_only=True)
    try:
        return con.sql("SELECT customer_id, customer_segment FROM customer_segments").pl()
    finally:
        con.close()


def agreement(reference: pl.DataFrame, other: pl.DataFrame) -> dict[str, Any]:
    """Share of customers with the same segment, and the segment counts side by side."""
    joined = reference.join(other, on="customer_id", how="full", suffix="_other",
                            coalesce=True)
    same = joined.filter(pl.col("customer_segment") == pl.col("customer_segment_other")).height
    counts = {}
    for seg in SEGMENTS:
        counts[seg] = {
            "segengine": reference.filter(pl.col("customer_segment") == seg).height,
            "baseline": other.filter(pl.col("customer_segment") == seg).height,
        }
    return {"customers_segengine": reference.height, "customers_baseline": other.height,
            "same_segment_pct": round(100.0 * same / max(joined.height, 1), 3),
            "segment_counts": counts}


# ---------------------------------------------------------------- summary


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["exit_code"] == 0]
    if not ok:
        return {"failed": True, "error": runs[-1].get("error")}
    walls = [r["wall_s"] for r in ok]
    out: dict[str, Any] = {
        "n": len(ok),
        "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "cpu_s_median": statistics.median(r["cpu_s"] for r in ok),
        "peak_rss_mb": {"median": statistics.median(r["peak_rss_mb"] for r in ok),
                        "max": max(r["peak_rss_mb"] for r in ok)},
        "stages_median_s": {  # union over runs: stages may differ if the code changed
            name: round(statistics.median(r["stages"][name] for r in ok if name in r["stages"]),
                        4)
            for name in dict.fromkeys(n for r in ok for n in r["stages"])},
        "rows": ok[-1]["rows"],
    }
    if "phases" in ok[0]:
        out["phases_median_s"] = {name: round(statistics.median(r["phases"][name] for r in ok), 3)
                                  for name in ok[0]["phases"]}
    return out


def growth(scale: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """time(this scale) / time(scale 1) and RSS, from results/run_1.json if it exists."""
    base_path = RESULTS / "run_1.json"
    if scale == "1" or not base_path.exists():
        return None
    base = json.loads(base_path.read_text())
    out: dict[str, Any] = {"relative_to": "run_1.json", "data_factor": SCALES[scale] / 50_000}
    for system, summ in result["summary"].items():
        ref = base["summary"].get(system)
        if not ref or summ.get("failed") or ref.get("failed"):
            continue
        out[system] = {
            "wall_factor": round(summ["wall_s"]["median"] / ref["wall_s"]["median"], 2),
            "peak_rss_mb": summ["peak_rss_mb"]["median"],
            "peak_rss_factor": round(summ["peak_rss_mb"]["median"]
                                     / ref["peak_rss_mb"]["median"], 2),
        }
    return out


def print_summary(result: dict[str, Any]) -> None:
    summ = result["summary"]
    seg = summ.get("segengine", {})
    print(f"\nscale {result['scale']}: {result['lake']['customers']:,} customers, "
          f"{result['lake']['transactions']:,} transactions; {result['repeat']} repetition(s); "
          f"load avg 1m before runs {result['load_avg_1m_before_runs']}")
    print(f"{'system':<12} {'median s':>9} {'min s':>7} {'max s':>7} {'cpu s':>7} "
          f"{'RSS MB':>8} {'x segengine':>12}")
    for system, s in summ.items():
        if s.get("failed"):
            print(f"{system:<12} failed: {str(s.get('error'))[:60]}")
            continue
        ratio = ""
        if system != "segengine" and seg and not seg.get("failed"):
            ratio = f"{s['wall_s']['median'] / seg['wall_s']['median']:.2f}"
        print(f"{system:<12} {s['wall_s']['median']:>9.2f} {s['wall_s']['min']:>7.2f} "
              f"{s['wall_s']['max']:>7.2f} {s['cpu_s_median']:>7.2f} "
              f"{s['peak_rss_mb']['median']:>8.0f} {ratio:>12}")
    if seg and not seg.get("failed"):
        print("\nsegengine stages (median s):")
        for name, secs in seg["stages_median_s"].items():
            print(f"  {name:<30} {secs:7.2f}")
        for name, secs in seg["phases_median_s"].items():
            print(f"  [{name}]{'':<{28 - len(name)}} {secs:7.2f}")
    for system, agree in result.get("agreement", {}).items():
        print(f"customer_segments agreement segengine vs {system}: "
              f"{agree['same_segment_pct']:.2f}% of customers")
    if result.get("growth"):
        g = result["growth"]
        for system, v in g.items():
            if isinstance(v, dict):
                print(f"growth vs scale 1 ({g['data_factor']:g}x data) {system}: "
                      f"time x{v['wall_factor']}, RSS {v['peak_rss_mb']:.0f} MB "
                      f"(x{v['peak_rss_factor']})")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES), default="1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the pandas and dbt-on-DuckDB baselines (default on)")
    parser.add_argument("--skip", action="append", default=[], choices=SYSTEMS[1:],
                        help="leave out one baseline (repeatable), e.g. --skip pandas at 10x")
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="wait before each run until the 1-min load average is below this")
    parser.add_argument("--max-wait", type=float, default=90,
                        help="seconds to wait for --max-load before running anyway")
    parser.add_argument("--timeout", type=float, default=3600, help="per child process, s")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args = parser.parse_args()

    systems = [s for s in SYSTEMS
               if s == "segengine" or (args.baselines and s not in args.skip)]
    lake_info = ensure_lake(args.scale, timeout=args.timeout)
    lake = CACHE / args.scale / "lake"
    code_at_start = code_fingerprint()
    work = Path(tempfile.mkdtemp(prefix=f"segengine-runbench-{args.scale}-"))
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    loads: list[float] = []
    try:
        for rep in range(args.repeat):
            for system in systems:  # paired: every repetition runs each system once, in turn
                d = fresh_data_dir(work, f"{system}-{rep}", lake)
                load = wait_for_quiet(args.max_load, args.max_wait)
                loads.append(load)
                r = RUNNERS[system](d, timeout=args.timeout)
                r["load_avg_1m_before"] = load
                r["code_fingerprint"] = code_fingerprint()
                r["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
                r.pop("launched_at", None)
                runs[system].append(r)
                status = "ok" if r["exit_code"] == 0 else f"FAILED: {r.get('error', '')[-300:]}"
                print(f"rep {rep + 1}/{args.repeat} {system:<10} {r['wall_s']:8.2f} s "
                      f"{r['peak_rss_mb']:7.0f} MB  load {load:.2f}  {status}", file=sys.stderr)
                if rep > 0 and not args.keep:  # keep only the first repetition's outputs
                    shutil.rmtree(d, ignore_errors=True)
        summary = {s: summarise(rs) for s, rs in runs.items()}
        agree: dict[str, Any] = {}
        seg_ok = runs["segengine"][0]["exit_code"] == 0
        if seg_ok:
            as_of = runs["segengine"][0]["as_of"]
            reference = segments_of("segengine", work / "segengine-0", as_of)
            for system in systems[1:]:
                if runs[system][0]["exit_code"] == 0:
                    agree[system] = agreement(reference,
                                              segments_of(system, work / f"{system}-0", as_of))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "benchmark": "segengine run end to end vs pandas and dbt-on-DuckDB baselines",
        "scale": args.scale,
        "repeat": args.repeat,
        "lake": lake_info,
        "systems": systems,
        "summary": summary,
        "ratios_wall_median_baseline_over_segengine": {
            s: round(summary[s]["wall_s"]["median"] / summary["segengine"]["wall_s"]["median"], 2)
            for s in systems[1:]
            if not summary[s].get("failed") and not summary["segengine"].get("failed")},
        "agreement": agree,
        "runs": runs,
        "load_avg_1m_before_runs": {"median": statistics.median(loads), "max": max(loads)},
        "targets": {"segengine_wall_s_at_scale_1": 5, "segengine_peak_rss_mb_at_scale_1": 1536,
                    "pandas_over_segengine_min": 10, "dbt_over_segengine_min": 1,
                    "scale_10_wall_factor_max": 12, "scale_10_peak_rss_mb_max": 6144},
        "notes": {"dbt_duckdb": "computes fewer tables: no RFM, KMeans, churn, quality gate, "
                                "history, out/ Parquet files or manifest",
                  "pandas": "no churn model, quality gate, history or manifest"},
        "git": git_state() | {"code_fingerprint_start": code_at_start,
                              "code_fingerprint_end": code_fingerprint()},
        "measured_at": datetime.now().isoformat(timespec="seconds"),
        "machine": machine() | {"platform": platform.platform()},
    }
    result["growth"] = growth(args.scale, result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"run_{args.scale}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    if code_at_start != result["git"]["code_fingerprint_end"]:
        print("warning: src/ or queries/ changed during the benchmark; repetitions may have "
              "measured different code", file=sys.stderr)
    print(f"-> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
