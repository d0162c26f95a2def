"""The `run` pipeline: orders the stages, times them, gates quality and publishes atomically.

Stages compute every output table in an in-memory DuckDB over the Parquet lake (SQL models in
queries/) plus Polars/scikit-learn steps; only when all stages and the quality gate succeed are
the tables published (publish.py). `build_tables` is the pure-ish core used by tests on frames:
the stages are declared as data in `table_stages` (inputs, outputs, function) and run by the
scheduler in stages.py. `run_dates` runs several as-of dates in one process (a backfill,
backfill.py), each published as its own run; `run_pipeline` is its one-date case.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.errors import DataError, QualityError, SegengineError
from segengine.lake.layout import Layout, data_dir_lock, latest_transaction_date, scan_transactions
from segengine.models.cadence import typical_gap_days
from segengine.models.churn import churn_features, feature_date_for, fit_churn, label_params
from segengine.models.clusters import cluster_customers, parse_k
from segengine.models.lifecycle import CUSTOMER_LIFECYCLE, customer_lifecycle
from segengine.models.mlsegments import attach_segments, read_segments_file
from segengine.models.rfm import customer_rfm, rfm_segment_summary, score_ks
from segengine.models.segments import segment_params
from segengine.rounding import cents, half_up_money, half_up_ratio
from segengine.run import publish, recover, summary_path
from segengine.run.backfill import check_dates, stopped_at
from segengine.run.churn_curves import held_out_curves
from segengine.run.quality import (
    CheckResult,
    errors,
    independent_recomputation,
    run_checks,
)
from segengine.run.queries import attach_lake, connect_run, register_frames, run_model
from segengine.run.stages import Graph, Stage, StageInput, run_graph

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


TABLE_ORDER = ("customer_segments", "metric_customer_ltv", "metric_avg_transaction_value",
               "metric_mom_spend_change")
"""The SQL tables published as they are, in manifest order (feature tables follow)."""


def table_stages(*, as_of: date, settings: Settings, segmented_at: datetime, timer: StageTimer,
                 ml_segments: pl.DataFrame | None = None) -> list[Stage]:
    """The pipeline's stage graph, critical path first (the declared order is the priority when
    a worker is free): activity -> segments -> features (RFM, KMeans, churn: mostly
    single-threaded Python) -> 360, while MoM and the small SQL metrics take the other core."""
    params: dict[str, Any] = date_params(as_of, settings)

    def sql(name: str, inputs: tuple[str, ...], extra: dict[str, Any] | None = None,
            *, materialize: bool = True) -> Stage:
        bound = params | (extra or {})
        # the SQL reads its inputs as DuckDB tables: they are waited for, not passed (`after`),
        # so run_graph can drop a Polars frame no stage reads any more
        return Stage(name, (), (name,), lambda s: {name: timer.run(name, lambda: run_model(
            s.con, name, bound, materialize=materialize))}, after=inputs)

    def activity(s: StageInput) -> dict[str, Any]:
        frame = timer.run("customer_activity", lambda: run_model(s.con, "customer_activity",
                                                                 params))
        first = frame.get_column("first_transaction_date").min() if frame.height else as_of
        register_frames(s.con, {"calendar_months": calendar_months(first, as_of)})  # type: ignore[arg-type]
        return {"customer_activity": frame, "calendar_months": True}

    def mom(s: StageInput) -> dict[str, Any]:  # the last model reading activity_parts
        frame = timer.run("metric_mom_spend_change", lambda: run_model(
            s.con, "metric_mom_spend_change", params, materialize=False))
        summary_path.release_parts(s.con)
        return {"metric_mom_spend_change": frame}

    def features(s: StageInput) -> dict[str, Any]:
        return {"features": _feature_tables(
            s.con, {"customer_segments": s["customer_segments"]}, s["customer_activity"],
            as_of=as_of, settings=settings, segmented_at=segmented_at, timer=timer,
            ml_segments=ml_segments)}

    def profile(s: StageInput) -> dict[str, Any]:
        register_frames(s.con, {k: s["features"].get(k, pl.DataFrame(schema=v))
                                for k, v in EMPTY_FEATURES.items()})
        # not kept as a DuckDB table (no model reads it): one copy less at the run's peak
        return {"customer_360_profile": timer.run("customer_360_profile", lambda: run_model(
            s.con, "customer_360_profile", params, materialize=False))}

    return [
        Stage("customer_activity", (), ("customer_activity", "calendar_months"), activity),
        sql("customer_segments", ("customer_activity",), segment_params(settings.segments)),
        Stage("metric_mom_spend_change", (), ("metric_mom_spend_change",), mom,
              after=("customer_activity", "calendar_months")),
        Stage("features", ("customer_activity", "customer_segments"), ("features",), features),
        sql("metric_customer_ltv", ("customer_segments",)),
        sql("metric_avg_transaction_value", ("customer_activity", "customer_segments")),
        Stage("customer_360_profile", ("features",), ("customer_360_profile",), profile,
              after=("customer_activity", "customer_segments", "metric_customer_ltv",
                     "metric_avg_transaction_value")),
        sql("dim_customer", ("customer_segments",), materialize=False),  # no model reads it
    ]


def build_tables(con: duckdb.DuckDBPyConnection, *, as_of: date, settings: Settings,
                 segmented_at: datetime, timer: StageTimer,
                 ml_segments: pl.DataFrame | None = None, extra_stages: Sequence[Stage] = (),
                 workers: int = 2) -> dict[str, Any]:
    """Compute every output table on a connection exposing `transactions` and `customers`, by
    running the stage graph on `workers` cursors (1: strictly sequential, same tables).

    `extra_stages` join the graph (the run adds the quality gate's recomputation, which overlaps
    the model stages); their outputs are returned beside the tables.
    """
    extra = list(extra_stages)
    stages = table_stages(as_of=as_of, settings=settings, segmented_at=segmented_at,
                          timer=timer, ml_segments=ml_segments)
    # extra stages take the free core right after MoM, before the small metrics: the gate's
    # recomputation then overlaps the Python models, not the 360 join (peak memory at 10x)
    after_mom = [s.name for s in stages].index("metric_mom_spend_change") + 1
    # ... and the 360 join, the build's largest transient (DuckDB's join, its result in Arrow
    # and Polars), waits for them: the two together made the run's peak RSS at 10x
    extra_outputs = tuple(o for s in extra for o in s.outputs)
    stages = [replace(s, after=s.after + extra_outputs) if s.name == "customer_360_profile"
              else s for s in stages]
    keep = {*TABLE_ORDER, "features", "customer_360_profile", "dim_customer",
            *(name for stage in extra for name in stage.outputs)}
    values = run_graph(Graph(stages[:after_mom] + extra + stages[after_mom:]),
                       con=con, workers=workers, keep=keep)
    t: dict[str, Any] = {name: values[name] for name in TABLE_ORDER}
    t.update({k: v for k, v in values["features"].items() if k not in INTERNAL_RELATIONS})
    t["customer_360_profile"] = values["customer_360_profile"]
    t["dim_customer"] = values["dim_customer"]
    t["customer_segments_history"] = t["customer_segments"]
    t.update({name: values[name] for stage in extra for name in stage.outputs})
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
        fitted = fit_churn(
            churn_features(labels, feature_date=feature_date_for(as_of)), labels,
            churn_features(activity, feature_date=as_of), config=settings.churn)
        out["churn_scores"] = fitted.scores
        timer.record("churn_model", time.perf_counter() - start, out["churn_scores"].height)
        out["churn_model_report"] = fitted.report.with_columns(as_of_date=pl.lit(as_of))
        out["churn_model_curves"] = held_out_curves(fitted.held_out, as_of=as_of)
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
    import sklearn.linear_model  # noqa: F401 - the churn blend's logistic term
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
    return run_dates(settings, [as_of], segments_file=segments_file, log=log, now=now,
                     allow_stale_lake=allow_stale_lake, on_stage=on_stage,
                     summaries=summaries)[0]


def run_dates(settings: Settings, dates: Sequence[date | None], *,
              segments_file: str | None = None, log: Log | None = None,
              now: datetime | None = None, allow_stale_lake: bool = False,
              on_stage: Callable[[str], None] | None = None,
              on_date: Callable[[RunResult, int], None] | None = None,
              summaries: bool = True) -> list[RunResult]:
    """Run and publish each date in the given order (None: the lake's last date) in one process
    sharing the lock, the DuckDB connection, the scikit-learn import and the settings checks;
    each date is its own run (run_id, manifest, atomic publish) reading the month summaries for
    its own windows. A failure at a later date leaves the earlier ones published and says so
    (backfill.py). `on_date(result, i)` after each publish."""
    say: Log = log or (lambda _m: None)
    layout = Layout(settings.data_dir)
    with data_dir_lock(layout, "run"):
        recover.roll_forward(layout, say)  # finishes a publish a crash cut short after its commit
        lake_end = latest_transaction_date(layout)
        check_dates([d for d in dates if d is not None], lake_end=lake_end, root=layout.root,
                    allow_stale_lake=allow_stale_lake)
        threading.Thread(target=_prefetch_ml, name="sklearn-import", daemon=True).start()
        score_ks(settings.rfm)  # fail fast on bad [rfm]/[clusters] settings
        parse_k(settings.clusters)
        ml = _load_ml_segments(segments_file or settings.ml.segments_file or None)
        results: list[RunResult] = []
        for i, as_of in enumerate(d or lake_end for d in dates):
            try:
                results.append(_run_one(layout, settings, as_of=as_of, ml=ml,
                                        started=now or datetime.now(UTC), say=say,
                                        on_stage=on_stage, summaries=summaries))
            except SegengineError as exc:
                if len(dates) == 1:
                    raise
                raise stopped_at(exc, as_of, published=[r.as_of for r in results],
                                 total=len(dates)) from exc
            if on_date is not None:
                on_date(results[-1], i)
        return results


def _run_one(layout: Layout, settings: Settings, *,
             as_of: date, ml: pl.DataFrame | None, started: datetime, say: Log,
             on_stage: Callable[[str], None] | None, summaries: bool) -> RunResult:
    """One date: build every table, gate quality, publish atomically (the lock is held).

    Each date has its own in-memory DuckDB, closed before the gate and the publish: an open
    connection keeps its buffers and the cut months' parts, ~2 GB more peak RSS at 10x."""
    run_id = f"{as_of.isoformat()}_{started.strftime('%Y%m%dT%H%M%S%fZ')}"
    say(f"run {run_id}: as of {as_of.isoformat()}")
    timer = StageTimer(say, on_stage=on_stage)

    def recompute(_s: StageInput) -> dict[str, Any]:  # the gate's independent side
        mark = time.perf_counter()
        result = independent_recomputation(
            scan_transactions(layout, end=as_of), settings.quality.reconcile_sample, as_of=as_of)
        timer.record("quality_recomputation", time.perf_counter() - mark, result[1].height)
        return {"quality_inputs": result}

    # after MoM: it then overlaps the single-threaded model stages, not the SQL scans
    gate_side = Stage("quality_recomputation", (), ("quality_inputs",), recompute,
                      after=("metric_mom_spend_change",))
    def build(limited: bool) -> dict[str, Any]:
        spill = tempfile.TemporaryDirectory(prefix="segengine-spill-")
        con = connect_run(layout, Path(spill.name), limited=limited)
        try:
            mark = time.perf_counter()
            parts = attach_lake(con, layout, date_params(as_of, settings) if summaries else None)
            if parts is not None:
                timer.record("month_summaries", time.perf_counter() - mark, len(parts["whole"]))
            return build_tables(con, as_of=as_of, settings=settings,
                                segmented_at=started.replace(tzinfo=None), timer=timer,
                                ml_segments=ml, extra_stages=[gate_side])
        finally:
            con.close()
            spill.cleanup()

    try:
        tables = build(limited=summaries)
    except duckdb.OutOfMemoryException as exc:  # the lake-sized limit was too tight: no limit
        say(f"  warning: DuckDB ran out of memory under the run's memory limit "
            f"({str(exc).splitlines()[0][:160]}); computing {as_of} again without the limit")
        timer.stages.clear()
        tables = build(limited=False)
    population, recomputed = tables.pop("quality_inputs")
    if tables["customer_segments"].height == 0:
        raise DataError(f"no approved transactions on or before {as_of} in {layout.root}; "
                        "pick a later --as-of (the current tables were left as they are)")
    gate_start = time.perf_counter()
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
