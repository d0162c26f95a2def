"""The steps of `run --engine snowflake`, as data, and their order.

SQL steps are the models of queries/: which ones a run needs, and after what, is read from the
SQL itself (the tables each model reads), starting from the published tables, so a model added
to queries/ joins the Snowflake run without a second list to keep. Python steps call the model
functions through their public APIs on customer-grain inputs (fetched from run tables, in
customer_id order) and declare the tables they write back; their outputs are checked against
the schemas the models declare before they are bulk-loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from segengine.config import Settings
from segengine.errors import QueryError
from segengine.lake.schemas import check_schema
from segengine.models.cadence import COLUMNS as CADENCE_COLUMNS
from segengine.models.cadence import typical_gap_days
from segengine.models.churn import (
    ACTIVITY_COLUMNS,
    REPORT_SCHEMA,
    SCORES_SCHEMA,
    churn_features,
    feature_date_for,
    fit_churn,
)
from segengine.models.clusters import CLUSTER_PROFILES, CUSTOMER_CLUSTERS, cluster_customers
from segengine.models.lifecycle import CUSTOMER_LIFECYCLE, customer_lifecycle
from segengine.models.mlsegments import ML_SEGMENTS, attach_segments
from segengine.models.rfm import (
    CUSTOMER_RFM,
    RFM_SEGMENT_SUMMARY,
    customer_rfm,
    rfm_segment_summary,
)
from segengine.run.churn_curves import SCHEMA as CURVES_SCHEMA
from segengine.run.churn_curves import held_out_curves
from segengine.run.queries import model_names
from segengine.sync.translate import model_columns, relations_read

Schema = Mapping[str, pl.DataType]
AS_OF_DATE: dict[str, pl.DataType] = {"as_of_date": pl.Date()}

PUBLISHED = ("customer_segments", "metric_customer_ltv", "metric_avg_transaction_value",
             "metric_mom_spend_change", "customer_rfm", "rfm_segment_summary",
             "customer_clusters", "cluster_profiles", "churn_model_report",
             "churn_model_curves", "customer_360_profile", "dim_customer")
"""The output tables of a run (plus customer_segments_history, copied from customer_segments,
§5.8); a test holds this equal to what the local run publishes."""
CHURN_MODEL_TABLES = ("churn_model_report", "churn_model_curves")
"""Published only with the churn model on."""
HISTORY = {"customer_segments_history": "customer_segments"}
SOURCES = ("transactions", "customers")
"""Relations the source step provides (validated source rows)."""


@dataclass(frozen=True)
class Context:
    """What a Python step may read besides its inputs."""

    as_of: date
    settings: Settings
    segmented_at: datetime
    ml_segments: pl.DataFrame | None = None
    notes: dict[str, Any] = field(default_factory=dict)


Run = Callable[[Context, dict[str, pl.DataFrame]], dict[str, pl.DataFrame]]


@dataclass(frozen=True)
class Fetch:
    """A customer-grain read of a run table: these columns, ordered by customer_id (or one
    aggregate row when `aggregate` is set)."""

    table: str
    columns: tuple[str, ...] = ()
    aggregate: str = ""


@dataclass(frozen=True)
class PythonStep:
    """Frames in (fetched, or written by an earlier step), frames out (bulk-loaded back, except
    the `local` ones, which only later Python steps read)."""

    name: str
    fetch: tuple[Fetch, ...]
    uses: tuple[str, ...]
    outputs: Mapping[str, Schema]
    run: Run
    local: tuple[str, ...] = ()

    def uploads(self) -> list[str]:
        """Outputs written back to Snowflake, in order."""
        return [t for t in self.outputs if t not in self.local]


@dataclass(frozen=True)
class ModelStep:
    """queries/<model>.sql as a run table."""

    model: str
    reads: tuple[str, ...]


Step = ModelStep | PythonStep


CADENCE: dict[str, pl.DataType] = {"typical_gap_days": pl.Float64()}
"""One row: the portfolio's typical purchase gap (models.cadence), read by later steps."""


def _gap(f: dict[str, pl.DataFrame]) -> float | None:
    value = f["cadence"].item()
    return None if value is None else float(value)


def _cadence(_ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    gap = typical_gap_days(f["customer_activity"])
    return {"cadence": pl.DataFrame({"typical_gap_days": [gap]}, schema=CADENCE)}


def _rfm(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    scored = customer_rfm(f["rfm_values"], config=ctx.settings.rfm, as_of=ctx.as_of,
                          segmented_at=ctx.segmented_at, typical_gap_days=_gap(f))
    return {"customer_rfm": scored, "rfm_segment_summary": rfm_segment_summary(scored)}


def _clusters(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    clusters, profiles = cluster_customers(f["customer_rfm"], config=ctx.settings.clusters,
                                           typical_gap_days=_gap(f))
    stamp = pl.lit(ctx.as_of)
    return {"customer_clusters": clusters.with_columns(as_of_date=stamp),
            "cluster_profiles": profiles.with_columns(as_of_date=stamp)}


def _churn(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    labels = f["churn_labels"]
    fitted = fit_churn(
        churn_features(labels, feature_date=feature_date_for(ctx.as_of)), labels,
        churn_features(f["customer_activity"], feature_date=ctx.as_of),
        config=ctx.settings.churn)
    return {"churn_scores": fitted.scores,
            "churn_model_report": fitted.report.with_columns(as_of_date=pl.lit(ctx.as_of)),
            "churn_model_curves": held_out_curves(fitted.held_out, as_of=ctx.as_of)}


def _no_churn(_ctx: Context, _f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {"churn_scores": pl.DataFrame(schema=SCORES_SCHEMA)}


def _lifecycle(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {"customer_lifecycle": customer_lifecycle(
        f["customer_segments"], f["churn_scores"], as_of=ctx.as_of, typical_gap_days=_gap(f))}


def _ml_segments(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    if ctx.ml_segments is None:
        return {"ml_segments": pl.DataFrame(schema=ML_SEGMENTS)}
    attached = attach_segments(ctx.ml_segments, f["customer_segments"]["customer_id"])
    ctx.notes["unknown_ml_ids"] = (attached.unknown_count, attached.unknown_examples)
    return {"ml_segments": attached.segments}


def _calendar_months(ctx: Context, f: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    first = f["customer_activity"].item() or ctx.as_of
    return {"calendar_months": pl.DataFrame({"month": pl.date_range(
        first.replace(day=1), ctx.as_of.replace(day=1), interval="1mo", eager=True)})}


def python_steps(settings: Settings, *, segments_file: bool) -> list[PythonStep]:
    """The Python steps of a run with these settings (churn off: empty scores, no report)."""
    churn = (PythonStep("churn_model", (Fetch("churn_labels", (*ACTIVITY_COLUMNS, "churned")),
                                        Fetch("customer_activity", ACTIVITY_COLUMNS)), (),
                        {"churn_scores": SCORES_SCHEMA,
                         "churn_model_report": {**REPORT_SCHEMA, **AS_OF_DATE},
                         "churn_model_curves": {**CURVES_SCHEMA, **AS_OF_DATE}}, _churn)
             if settings.churn.enabled
             else PythonStep("churn_model", (), (), {"churn_scores": SCORES_SCHEMA}, _no_churn))
    return [
        PythonStep("cadence", (Fetch("customer_activity", CADENCE_COLUMNS),), (),
                   {"cadence": CADENCE}, _cadence, local=("cadence",)),
        PythonStep("customer_rfm", (Fetch("rfm_values", ("customer_id", "recency", "frequency",
                                                         "monetary")),), ("cadence",),
                   {"customer_rfm": CUSTOMER_RFM, "rfm_segment_summary": RFM_SEGMENT_SUMMARY},
                   _rfm),
        PythonStep("customer_clusters", (), ("customer_rfm", "cadence"),
                   {"customer_clusters": {**CUSTOMER_CLUSTERS, **AS_OF_DATE},
                    "cluster_profiles": {**CLUSTER_PROFILES, **AS_OF_DATE}}, _clusters),
        churn,
        PythonStep("customer_lifecycle",
                   (Fetch("customer_segments", ("customer_id", "tenure_months",
                                                "last_transaction_date")),),
                   ("churn_scores", "cadence"), {"customer_lifecycle": CUSTOMER_LIFECYCLE},
                   _lifecycle),
        PythonStep("ml_segments", (Fetch("customer_segments", ("customer_id",)),)
                   if segments_file else (), (), {"ml_segments": ML_SEGMENTS}, _ml_segments),
        PythonStep("calendar_months",
                   (Fetch("customer_activity", aggregate="MIN(first_transaction_date)"),), (),
                   {"calendar_months": {"month": pl.Date()}}, _calendar_months),
    ]


def published(settings: Settings) -> list[str]:
    """Tables this run publishes (the churn model's report and curves only with it on)."""
    return [t for t in PUBLISHED if settings.churn.enabled or t not in CHURN_MODEL_TABLES]


def order(settings: Settings, *, segments_file: bool) -> list[Step]:
    """Every step the published tables need, each after what it reads (depth first, in
    PUBLISHED order, so the order is fixed)."""
    pythons = python_steps(settings, segments_file=segments_file)
    producer: dict[str, Step] = {}
    for step in pythons:
        for table in step.outputs:
            producer[table] = step
    models = set(model_names())
    steps: list[Step] = []
    visiting: set[str] = set()

    def need(relation: str) -> None:
        if relation in SOURCES:
            return
        step = producer.get(relation)
        if step is None:
            if relation not in models:
                raise QueryError(f"no model or step produces {relation} (a model reads it; "
                                 f"add queries/{relation}.sql or a Python step)")
            step = producer[relation] = ModelStep(relation, relations_read(relation))
        if step in steps:
            return
        if relation in visiting:
            raise QueryError(f"models read each other in a cycle through {relation}")
        visiting.add(relation)
        inputs = (step.reads if isinstance(step, ModelStep)
                  else (*(f.table for f in step.fetch), *step.uses))
        for item in inputs:
            need(item)
        visiting.discard(relation)
        steps.append(step)

    for table in published(settings):
        need(table)
    return steps


def columns(step: Step) -> dict[str, list[str]]:
    """Output columns of a step, per run table it writes."""
    if isinstance(step, ModelStep):
        return {step.model: list(model_columns(step.model))}
    return {table: list(step.outputs[table]) for table in step.uploads()}


def checked_outputs(step: PythonStep, frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The step's outputs in their declared column order, each checked against its schema."""
    out = {}
    for table, schema in step.outputs.items():
        frame = frames[table].select(list(schema))
        check_schema(frame, dict(schema), table)
        out[table] = frame
    return out
