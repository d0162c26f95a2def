"""The `run` pipeline: orders the stages, times them, gates quality and publishes atomically.

Stages compute every output table in an in-memory DuckDB over the Parquet lake (SQL models in
queries/) plus Polars/scikit-learn steps; only when all stages and the quality gate succeed are
the tables published (publish.py). `build_tables` is the pure-ish core used by tests on frames.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.errors import DataError, QualityError
from segengine.lake.layout import Layout, data_dir_lock, latest_transaction_date, scan_transactions
from segengine.models.cadence import typical_gap_days
from segengine.models.churn import churn_features, feature_date_for, label_params, score_churn
from segengine.models.clusters import cluster_customers, parse_k
from segengine.models.lifecycle import CUSTOMER_LIFECYCLE, customer_lifecycle
from segengine.models.mlsegments import attach_segments, read_segments_file
from segengine.models.rfm import customer_rfm, rfm_segment_summary, score_ks
from segengine.models.segments import segment_params
from segengine.rounding import cents, half_up_money, half_up_ratio
from segengine.run import publish, recover
from segengine.run.quality import (
    CheckResult,
    errors,
    independent_recomputation,
    run_checks,
)
from segengine.run.queries import attach_lake, register_frames, run_model

Log = Callable[[str], None]


@dataclass
class StageTimer:
    """Collects (stage, seconds, rows) and reports each stage as it ends."""

    log: Log
    stages: list[dict[str, Any]] = field(default_factory=list)
    unknown_ml_ids: tuple[int, list[str]] = (0, [])
    on_stage: Callable[[str], None] | None = None
    """Called with the stage name when a stage ends (the CLI's progress bar)."""

    def run(self, name: str, func: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        start = time.perf_counter()
        frame = func()
        self.record(name, time.perf_counter() - start, frame.height)
        return frame

    def record(self, name: str, seconds: float, rows: int) -> None:
        self.stages.append({"stage": name, "seconds": round(seconds, 4), "rows": rows})
        self.log(f"  {name:<30} {rows:>10,} rows  {seconds:6.2f} s")
        if self.on_stage is not None:
            self.on_stage(name)


@dataclass(frozen=True)
class RunResult:
    """What a run produced: the date, ids, row counts, stage timings and quality results."""

    as_of: date
    run_id: str
    manifest_path: Path
    row_counts: dict[str, int]
    stages: list[dict[str, Any]]
    checks: list[CheckResult]
    segment_summary: pl.DataFrame


INTERNAL_RELATIONS = ("ml_segments", "churn_scores", "customer_lifecycle")
"""Inputs of customer_360_profile that are not published as tables of their own."""

EMPTY_FEATURES: dict[str, dict[str, pl.DataType]] = {
    "customer_rfm": {"customer_id": pl.String(), "r_score": pl.Int32(), "f_score": pl.Int32(),
                     "m_score": pl.Int32(), "segment": pl.String()},
    "customer_clusters": {"customer_id": pl.String(), "cluster_id": pl.Int32(),
                          "cluster_name": pl.String()},
    "ml_segments": {"customer_id": pl.String(), "ml_segment_id": pl.String(),
                    "ml_segment_name": pl.String()},
    "churn_scores": {"customer_id": pl.String(), "churn_risk_score": pl.Float64(),
                     "churn_probability": pl.Float64()},
    "customer_lifecycle": CUSTOMER_LIFECYCLE,
}
"""Schemas of the optional feature relations customer_360_profile joins."""


def calendar_months(first: date, last: date) -> pl.DataFrame:
    """One row per first-of-month date from first's month to last's month."""
    return pl.DataFrame({"month": pl.date_range(first.replace(day=1), last.replace(day=1),
                                                interval="1mo", eager=True)})


def date_params(as_of: date, settings: Settings) -> dict[str, date]:
    """The as-of date and every window boundary, computed once for all SQL models (§4, §5.5)."""
    return {
        "as_of": as_of,
        "as_of_month": as_of.replace(day=1),
        "last90_start": as_of - timedelta(days=90),
        "prior90_start": as_of - timedelta(days=180),
        "prior90_end": as_of - timedelta(days=91),
        "period_start": as_of - timedelta(days=settings.rfm.analysis_period_days - 1),
        **label_params(as_of),
    }


def build_tables(con: duckdb.DuckDBPyConnection, *, as_of: date, settings: Settings,
                 segmented_at: datetime, timer: StageTimer,
                 ml_segments: pl.DataFrame | None = None,
                 after_mom: Callable[[], None] | None = None) -> dict[str, pl.DataFrame]:
    """Compute every output table on a connection exposing `transactions` and `customers`.

    `after_mom` runs on the second worker once MoM is done, while this thread finishes the
    single-threaded model stages (the run uses it for the quality gate's recomputation, which
    needs nothing from here); build_tables does not wait for it.
    """
    params: dict[str, Any] = date_params(as_of, settings)
    t: dict[str, pl.DataFrame] = {}
    activity = timer.run("customer_activity", lambda: run_model(con, "customer_activity", params))
    first = activity.get_column("first_transaction_date").min() if activity.height else as_of
    register_frames(con, {"calendar_months": calendar_months(first, as_of)})  # type: ignore[arg-type]
    # MoM is the one SQL pass nothing else waits for: it runs on a second cursor while this
    # thread does the segment, RFM, KMeans and churn stages (mostly single-threaded Python).
    mom_cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segengine-mom")
    mom = pool.submit(timer.run, "metric_mom_spend_change",
                      lambda: run_model(mom_cursor, "metric_mom_spend_change", params,
                                        materialize=False))
    if after_mom is not None:
        pool.submit(after_mom)
    try:
        t["customer_segments"] = timer.run("customer_segments", lambda: run_model(
            con, "customer_segments", params | segment_params(settings.segments)))
        for name in ("metric_customer_ltv", "metric_avg_transaction_value"):
            t[name] = timer.run(name, lambda n=name: run_model(con, n, params))  # type: ignore[misc]
        features = _feature_tables(con, t, activity, as_of=as_of, settings=settings,
                                   segmented_at=segmented_at, timer=timer,
                                   ml_segments=ml_segments)
        t["metric_mom_spend_change"] = mom.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # a failed build needs no after_mom
        raise
    finally:
        concurrent.futures.wait([mom])  # never close the cursor under a running query
        mom_cursor.close()
        pool.shutdown(wait=False)  # after_mom, if queued, runs on; nothing here waits for it
    t.update({k: v for k, v in features.items() if k not in INTERNAL_RELATIONS})
    register_frames(con, {k: features.get(k, pl.DataFrame(schema=s))
                          for k, s in EMPTY_FEATURES.items()})
    t["customer_360_profile"] = timer.run("customer_360_profile",
                                          lambda: run_model(con, "customer_360_profile", params))
    t["dim_customer"] = timer.run("dim_customer", lambda: run_model(con, "dim_customer", {}))
    t["customer_segments_history"] = t["customer_segments"]
    return t


def _feature_tables(con: duckdb.DuckDBPyConnection, t: dict[str, pl.DataFrame],
                    activity: pl.DataFrame, *,
                    as_of: date, settings: Settings, segmented_at: datetime,
                    timer: StageTimer, ml_segments: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """RFM, clusters, churn and external segments (the §5.5-5.7 feature stages)."""
    out: dict[str, pl.DataFrame] = {}
    gap = typical_gap_days(activity)
    values = timer.run("rfm_values", lambda: run_model(con, "rfm_values", {"as_of": as_of}))
    out["customer_rfm"] = timer.run("customer_rfm", lambda: customer_rfm(
        values, config=settings.rfm, as_of=as_of, segmented_at=segmented_at,
        typical_gap_days=gap))
    out["rfm_segment_summary"] = rfm_segment_summary(out["customer_rfm"])
    clustered: dict[str, pl.DataFrame] = {}

    def clusters() -> pl.DataFrame:
        clustered["customer_clusters"], clustered["cluster_profiles"] = cluster_customers(
            out["customer_rfm"], config=settings.clusters, typical_gap_days=gap)
        return clustered["customer_clusters"]

    timer.run("customer_clusters", clusters)
    out.update({k: v.with_columns(as_of_date=pl.lit(as_of)) for k, v in clustered.items()})
    if settings.churn.enabled:
        labels = timer.run("churn_labels", lambda: run_model(
            con, "churn_labels", {}, materialize=False))
        start = time.perf_counter()
        out["churn_scores"], report = score_churn(
            churn_features(labels, feature_date=feature_date_for(as_of)), labels,
            churn_features(activity, feature_date=as_of), config=settings.churn)
        timer.record("churn_model", time.perf_counter() - start, out["churn_scores"].height)
        out["churn_model_report"] = report.with_columns(as_of_date=pl.lit(as_of))
    out["customer_lifecycle"] = customer_lifecycle(
        t["customer_segments"], out.get("churn_scores", pl.DataFrame(
            schema=EMPTY_FEATURES["churn_scores"])), as_of=as_of, typical_gap_days=gap)
    if ml_segments is not None:
        ids = t["customer_segments"].get_column("customer_id")
        attached = attach_segments(ml_segments, ids)
        out["ml_segments"] = attached.segments
        timer.unknown_ml_ids = (attached.unknown_count, attached.unknown_examples)
    return out


def _prefetch_ml() -> None:
    """Import scikit-learn (~2 s, mostly scipy) while DuckDB scans the lake on the C++ side."""
    import sklearn.cluster  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401


def run_pipeline(settings: Settings, *, as_of: date | None = None,
                 segments_file: str | None = None, log: Log | None = None,
                 now: datetime | None = None, allow_stale_lake: bool = False,
                 on_stage: Callable[[str], None] | None = None,
                 summaries: bool = True) -> RunResult:
    """Compute every table as of the date, gate quality, then publish warehouse, out/ and runs/.

    An as_of after the lake's last transaction date is refused before any computation (every
    window would look empty, §4) unless `allow_stale_lake`. `on_stage(name)` is called as each
    stage ends (the CLI's progress bar). `summaries=False` reads every raw row (the reference
    path, `run --no-summaries`) instead of the month summaries (lake/summaries.py)."""
    say: Log = log or (lambda _m: None)
    layout = Layout(settings.data_dir)
    with data_dir_lock(layout, "run"):
        recover.roll_forward(layout, say)  # finishes a publish a crash cut short after its commit
        started = now or datetime.now(UTC)
        lake_end = latest_transaction_date(layout)
        if as_of is not None and as_of > lake_end and not allow_stale_lake:
            raise DataError(
                f"--as-of {as_of} is after the last transaction in the lake ({layout.root}): "
                f"the lake ends on {lake_end}, so every recent window would look empty and "
                "healthy customers would be published as Declining. Pull or ingest first, or "
                "pass --allow-stale-lake")
        as_of = as_of or lake_end
        run_id = f"{as_of.isoformat()}_{started.strftime('%Y%m%dT%H%M%S%fZ')}"
        say(f"run {run_id}: as of {as_of.isoformat()}")
        threading.Thread(target=_prefetch_ml, name="sklearn-import", daemon=True).start()
        score_ks(settings.rfm)  # fail fast on bad [rfm]/[clusters] settings
        parse_k(settings.clusters)
        timer = StageTimer(say, on_stage=on_stage)
        ml = _load_ml_segments(segments_file or settings.ml.segments_file or None)
        gate_inputs: Future[tuple[pl.Series, pl.DataFrame]] = Future()

        def recompute() -> None:  # the gate's independent side, on the idle core
            try:
                mark = time.perf_counter()
                result = independent_recomputation(
                    scan_transactions(layout, end=as_of), settings.quality.reconcile_sample,
                    as_of=as_of)
                timer.record("quality_recomputation", time.perf_counter() - mark,
                             result[1].height)
                gate_inputs.set_result(result)
            except BaseException as exc:  # noqa: BLE001 - re-raised below by result()
                gate_inputs.set_exception(exc)

        con = duckdb.connect()
        try:
            mark = time.perf_counter()
            parts = attach_lake(con, layout, date_params(as_of, settings) if summaries else None)
            if parts is not None:
                timer.record("month_summaries", time.perf_counter() - mark, len(parts["whole"]))
            tables = build_tables(con, as_of=as_of, settings=settings,
                                  segmented_at=started.replace(tzinfo=None), timer=timer,
                                  ml_segments=ml, after_mom=recompute)
        finally:
            con.close()
        if tables["customer_segments"].height == 0:
            raise DataError(f"no approved transactions on or before {as_of} in {layout.root}; "
                            "pick a later --as-of (the current tables were left as they are)")
        gate_start = time.perf_counter()
        population, recomputed = gate_inputs.result()
        checks = run_checks(tables, population=population, recomputed=recomputed,
                            segments=settings.segments, config=settings.quality)
        timer.record("quality_gate", time.perf_counter() - gate_start, len(checks))
        failed = errors(checks)
        if failed:
            raise QualityError(
                "quality gate failed, nothing was published: "
                + "; ".join(r.describe() for r in failed)
                + ". Inspect these customers' transactions in the lake; the previously "
                "published tables are unchanged"
            )
        for r in checks:
            if not r.passed:
                say(f"  warning: {r.describe()}")
        unknown, examples = timer.unknown_ml_ids
        if unknown:
            say(f"  warning: {unknown} customer id(s) in the segments file are not in the lake "
                f"(e.g. {', '.join(examples[:5])}); they are not joined")
        manifest = publish.publish_run(layout, tables, as_of=as_of, run_id=run_id,
                                       started=started, stages=timer.stages, checks=checks,
                                       settings=settings, log=say)
        return RunResult(as_of=as_of, run_id=run_id, manifest_path=manifest,
                         row_counts={k: v.height for k, v in tables.items()},
                         stages=timer.stages, checks=checks,
                         segment_summary=segment_summary(tables["customer_segments"]))


def _load_ml_segments(path: str | None) -> pl.DataFrame | None:
    return read_segments_file(path) if path else None


def segment_summary(segments: pl.DataFrame) -> pl.DataFrame:
    """Customers, share, average monthly spend and TOTAL lifetime value per behavioural segment
    (the console summary; shares and averages exact half-up, §5.4)."""
    customers = pl.col("customers")
    return (
        segments.group_by("customer_segment")
        .agg(pl.len().alias("customers"),
             pl.col("lifetime_value").cast(pl.Decimal(38, 2)).sum().alias("total_lifetime_value"),
             cents(pl.col("avg_monthly_spend")).sum().alias("_monthly_cents"))
        .with_columns(
            half_up_ratio(100 * customers, pl.lit(segments.height)).alias("pct_customers"),
            half_up_money(pl.col("_monthly_cents"), customers).alias("avg_monthly_spend"))
        .sort("customers", "customer_segment", descending=[True, False])
        .select("customer_segment", "customers", "pct_customers", "avg_monthly_spend",
                "total_lifetime_value")
    )
