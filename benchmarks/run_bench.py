"""The §12 acceptance harness: every ratio target, measured side by side, in one table per scale.

Per repetition, each in its own child process on the same lake: `segengine run`, the fair pandas
baseline, the dbt-on-DuckDB baseline, the daily cycle (ingest one new day into a copy of the
lake, then `run` for it; against `run --no-summaries` on the same copy) and the 12-date backfill
(`run --as-of A..B --every month-end`); then `segengine generate` at defaults. Options this build
rejects are shown as "n/a (not supported by this build)". Medians over repetitions; machine
facts (cores, load before/after, versions) go with the figures into benchmarks/results/.

    .venv/bin/python benchmarks/run_bench.py --lake-dir /work/bench/lake1 [--repeat 3]
        [--lake10-dir /work/bench/lake10]   # adds the 10x rows (generated there if missing)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from bench_process import (
    code_fingerprint,
    fresh_data_dir,
    git_state,
    machine,
    rejected_option,
    run_child,
    run_options,
    segengine_cmd,
    wait_for_quiet,
)
from bench_ratios import NOT_SUPPORTED, format_table, medians_of, table_rows, target_values

from segengine.lake import summaries
from segengine.lake.layout import Layout

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CUSTOMERS = {"1": 50_000, "10": 500_000}
NEW_DAY_CSV = "new_day.csv"


class Bench:
    """Runs children with the shared settings and records each measurement."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.log: list[dict[str, Any]] = []

    def child(self, what: str, cmd: list[str], d: Path) -> dict[str, Any]:
        load = wait_for_quiet(self.args.max_load, self.args.max_wait)
        r = run_child(cmd, log_dir=d / "log" / what, timeout=self.args.timeout)
        r |= {"what": what, "load_avg_1m_before": load,
              "load_avg_1m_after": round(os.getloadavg()[0], 2)}
        r.pop("launched_at", None)
        self.log.append(r)
        status = "ok" if r["exit_code"] == 0 else f"exit {r['exit_code']}"
        print(f"  {what:<28} {r['wall_s']:8.2f} s {r['peak_rss_mb']:7.0f} MB  "
              f"load {load:.2f}  {status}", file=sys.stderr)
        return r

    def seg(self, what: str, d: Path, *argv: str) -> dict[str, Any]:
        return self.child(what, segengine_cmd() + ["--data-dir", str(d), "-q", *argv], d)


def wall(r: dict[str, Any]) -> float | None:
    return r["wall_s"] if r["exit_code"] == 0 else None


def lake_end(lake: Path) -> date:
    """The last transaction date of a lake."""
    files = sorted((lake / "transactions").glob("month=*/*.parquet"))
    return pl.scan_parquet(files[-1]).select(pl.col("transaction_date").max()).collect().item()


def ensure_lake(data_dir: Path, customers: int, bench: Bench, *, end: date | None = None) -> Path:
    """Generate the default portfolio (this many customers, 18 months) into data_dir once."""
    marker = data_dir / "lake" / "transactions"
    if not marker.is_dir():
        data_dir.mkdir(parents=True, exist_ok=True)
        extra = ["--end", end.isoformat()] if end else []
        r = bench.seg(f"generate {customers:,}", data_dir, "generate", "--customers",
                      str(customers), *extra)
        if r["exit_code"] != 0:
            raise SystemExit(f"generate into {data_dir} failed: {r.get('error')}")
    # A cached lake may predate month summaries, or hold only those a run built (runs skip the
    # months a window cuts): give it every summary, as today's generate/ingest leave a lake.
    # Otherwise the daily cycle's ingest pays for building the missing ones (measured: 5
    # summaries, 2.6 s, instead of the 1 its new day changes).
    rebuilt = summaries.refresh(Layout(data_dir))
    if rebuilt:
        print(f"built {len(rebuilt)} missing or stale month summaries in {data_dir}", flush=True)
    return data_dir / "lake"


def daily_base(lake_dir: Path, bench: Bench) -> Path:
    """A lake one day shorter than the benchmark lake, plus that last day as a CSV to ingest.

    The base is generated (not cut out of the shared lake, which stays untouched) with --end one
    day earlier; the new day is the benchmark lake's last day with fresh transaction ids."""
    end = lake_end(lake_dir / "lake")
    customers = pl.scan_parquet(lake_dir / "lake" / "customers" / "customers.parquet").select(
        pl.len()).collect().item()
    base = lake_dir.parent / f"{lake_dir.name}-daily-base"
    ensure_lake(base, customers, bench, end=end - timedelta(days=1))
    csv = base / NEW_DAY_CSV
    if not csv.exists():
        last = sorted((lake_dir / "lake" / "transactions").glob("month=*/*.parquet"))[-1]
        day = (pl.scan_parquet(last).filter(pl.col("transaction_date") == end)
               .with_columns(pl.concat_str(pl.lit("NEWDAY-"), "transaction_id")
                             .alias("transaction_id"))
               .collect())
        day.write_csv(csv)
    return base


def daily_cycle(bench: Bench, base: Path, end: date, rep: int, tag: str,
                no_summaries: bool) -> dict[str, float | None]:
    """Copy the base lake, yesterday's run (untimed), then ingest + run (timed) vs no-summaries."""
    d = bench.work / f"daily-{tag}-{rep}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    shutil.copytree(base / "lake", d / "lake", symlinks=True)
    bench.seg(f"daily{tag} yesterday (untimed)", d, "run")
    ingest = bench.seg(f"daily{tag} ingest 1 day", d, "ingest", str(base / NEW_DAY_CSV))
    run = bench.seg(f"daily{tag} run", d, "run", "--as-of", end.isoformat())
    cycle = None if wall(ingest) is None or wall(run) is None else ingest["wall_s"] + run["wall_s"]
    raw = None
    if no_summaries:
        raw = wall(bench.seg(f"daily{tag} run --no-summaries", d, "run", "--no-summaries",
                             "--as-of", end.isoformat()))
    if not bench.args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return {"cycle_s": cycle, "no_summaries_s": raw}


def month_ends_back(end: date, n: int) -> tuple[date, date]:
    """(first, last) of the n month-end dates up to end (end itself when it is a month end)."""
    last = end if (end + timedelta(days=1)).day == 1 else end.replace(day=1) - timedelta(days=1)
    y, m = last.year, last.month - (n - 1)
    while m <= 0:
        y, m = y - 1, m + 12
    first = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1))
    return first, last


def segments_agree(seg_dir: Path, as_of: str, pandas_dir: Path | None,
                   dbt_dir: Path | None) -> dict[str, float]:
    """% of customers with the same customer_segment in each baseline as in segengine."""
    ref = pl.read_parquet(seg_dir / "out" / as_of / "customer_segments.parquet",
                          columns=["customer_id", "customer_segment"])
    others = {}
    if pandas_dir:
        others["pandas"] = pl.read_parquet(pandas_dir / "out" / "customer_segments.parquet",
                                           columns=["customer_id", "customer_segment"])
    if dbt_dir:
        con = duckdb.connect(str(dbt_dir / "baseline.duckdb"), read_only=True)
        others["dbt_duckdb"] = con.sql(
            "SELECT customer_id, customer_segment FROM customer_segments").pl()
        con.close()
    out = {}
    for name, other in others.items():
        j = ref.join(other, on="customer_id", how="full", suffix="_b", coalesce=True)
        same = j.filter(pl.col("customer_segment") == pl.col("customer_segment_b")).height
        out[name] = round(100.0 * same / max(j.height, 1), 3)
    return out


def measure_scale(bench: Bench, scale: str, lake_dir: Path, help_text: str) -> dict[str, Any]:
    """Every repetition of every measurement at one scale; returns per-quantity lists."""
    a = bench.args
    lake = ensure_lake(lake_dir, CUSTOMERS[scale], bench)
    end = lake_end(lake)
    no_sum = "--no-summaries" in help_text
    every = "--every" in help_text
    base = daily_base(lake_dir, bench) if "daily" not in a.skip else None
    first, last = month_ends_back(end, 12)
    reps: dict[str, list[float | None]] = {k: [] for k in (
        "run_s", "run_rss_bytes", "dbt_s", "pandas_s", "cycle_s", "no_summaries_s",
        "backfill_s", "generate_s", "run_cpu_s", "pandas_cpu_s", "dbt_cpu_s")}
    unsupported: dict[str, str] = {}
    agreement: dict[str, float] = {}
    for rep in range(a.repeat):
        print(f"scale {scale}x, repetition {rep + 1}/{a.repeat}", file=sys.stderr)
        d = fresh_data_dir(bench.work, f"seg-{scale}-{rep}", lake)
        r = bench.seg("run", d, "run")
        reps["run_s"].append(wall(r))
        reps["run_cpu_s"].append(r["cpu_s"] if r["exit_code"] == 0 else None)
        reps["run_rss_bytes"].append(r["peak_rss_bytes"] if r["exit_code"] == 0 else None)
        dirs: dict[str, Path | None] = {"pandas": None, "dbt_duckdb": None}
        if scale == "1":
            for name, script, extra in (
                    ("pandas", "baseline_pandas.py", ["--out", "{d}/out"]),
                    ("dbt_duckdb", "baseline_dbt_duckdb.py", ["--db", "{d}/baseline.duckdb"])):
                if name in a.skip:
                    continue
                bd = fresh_data_dir(bench.work, f"{name}-{rep}", lake)
                cmd = [sys.executable, str(HERE / script), "--data-dir", str(bd),
                       *[x.format(d=bd) for x in extra]]
                short = "pandas" if name == "pandas" else "dbt"
                b = bench.child(name, cmd, bd)
                reps[f"{short}_s"].append(wall(b))
                reps[f"{short}_cpu_s"].append(b["cpu_s"] if b["exit_code"] == 0 else None)
                dirs[name] = bd
        if rep == 0 and r["exit_code"] == 0 and scale == "1":
            agreement = segments_agree(d, end.isoformat(), dirs["pandas"], dirs["dbt_duckdb"])
        if base is not None:
            got = daily_cycle(bench, base, end, rep, scale, no_sum)
            reps["cycle_s"].append(got["cycle_s"])
            if no_sum:
                reps["no_summaries_s"].append(got["no_summaries_s"])
        if scale == "1" and "backfill" not in a.skip and every:
            bd = fresh_data_dir(bench.work, f"backfill-{rep}", lake)
            b = bench.seg("backfill 12 month-ends", bd, "run", "--as-of",
                          f"{first}..{last}", "--every", "month-end")
            if rejected_option(b):
                every = False
            else:
                reps["backfill_s"].append(wall(b))
        if scale == "1" and "generate" not in a.skip:
            gd = bench.work / f"generate-{rep}"
            reps["generate_s"].append(wall(bench.seg("generate (defaults)", gd, "generate")))
            shutil.rmtree(gd, ignore_errors=True)
        if not a.keep:
            for p in bench.work.glob(f"*-{rep}"):
                shutil.rmtree(p, ignore_errors=True)
    if not no_sum and base is not None:  # skipped rows stay "not measured"
        unsupported["daily_cycle"] = NOT_SUPPORTED
    if not every and "backfill" not in a.skip:
        unsupported["backfill"] = NOT_SUPPORTED
    return {"end": end.isoformat(), "reps": reps, "unsupported": unsupported,
            "agreement_pct": agreement,
            "backfill_as_of": f"{first}..{last} --every month-end"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake-dir", type=Path, default=HERE / "cache" / "1",
                        help="data dir of the 1x lake (generated there if missing)")
    parser.add_argument("--lake10-dir", type=Path, help="data dir of the 10x lake: adds 10x rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[],
                        choices=["pandas", "dbt_duckdb", "daily", "backfill", "generate"])
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="wait before each child until the 1-min load average is below this")
    parser.add_argument("--max-wait", type=float, default=60,
                        help="seconds to wait for --max-load before running anyway")
    parser.add_argument("--timeout", type=float, default=3600, help="per child process, s")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--out", type=Path,
                        help="results JSON (default results/ratios_<scales>.json)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    started = time.time()
    code_at_start = code_fingerprint()
    help_text = run_options()
    work = Path(tempfile.mkdtemp(prefix="segengine-ratios-"))
    bench = Bench(work, args)
    scales = {"1": args.lake_dir} | ({"10": args.lake10_dir} if args.lake10_dir else {})
    measured: dict[str, Any] = {}
    try:
        for scale, lake_dir in scales.items():
            measured[scale] = measure_scale(bench, scale, lake_dir.resolve(), help_text)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    medians = {s: medians_of(m["reps"]) for s, m in measured.items()}
    values = {s: target_values(s, medians[s], medians.get("1")) for s in measured}
    rows = table_rows(values, {s: m["unsupported"] for s, m in measured.items()})
    facts = machine() | {
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "harness_wall_s": round(time.time() - started, 1),
    }
    result = {
        "benchmark": "design §12 ratio targets", "measured_at": datetime.now().isoformat(
            timespec="seconds"), "repeat": args.repeat, "machine": facts,
        "git": git_state() | {"code_fingerprint_start": code_at_start,
                              "code_fingerprint_end": code_fingerprint()},
        "lakes": {s: str(p) for s, p in scales.items()}, "table": rows, "medians": medians,
        "measured": measured, "children": bench.log,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = args.out or RESULTS / f"ratios_{'_'.join(s + 'x' for s in scales)}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nmachine: {facts['cores']} cores, {facts.get('cpu_model', '')}, "
          f"load avg before {facts['load_avg_before']} after {facts['load_avg_after']}; "
          f"python {facts['python']}, duckdb {facts['duckdb']}, polars {facts['polars']}, "
          f"pandas {facts.get('pandas')}, scikit-learn {facts.get('scikit-learn')}; "
          f"git {result['git']['head']}; medians of {args.repeat}")
    for s, m in measured.items():
        med = {k: (round(v, 2) if v is not None else None) for k, v in medians[s].items()}
        print(f"{s}x medians: {med}; segments agreement: {m['agreement_pct']}")
    print(format_table(rows))
    for c in (c for c in bench.log if c["exit_code"] != 0 and not rejected_option(c)):
        print(f"FAILED {c['what']} (exit {c['exit_code']}): a row that needs it shows n/a; "
              f"{str(c.get('error', ''))[-300:]}")
    if code_at_start != result["git"]["code_fingerprint_end"]:
        print("warning: src/ or queries/ changed during the benchmark", file=sys.stderr)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
