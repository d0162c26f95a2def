"""Lifecycle stage (design §5.9): one reconciled answer per customer for customer_360_profile.

Inputs: customer_segments (customer_id, tenure_months, last_transaction_date), churn_scores
(customer_id, churn_probability; may be empty) and the portfolio's typical purchase gap
(models/cadence.py). Output: customer_lifecycle (customer_id, lifecycle_stage), joined into
customer_360_profile.

The rule, with late = days since the last purchase / the cadence unit (the typical gap, at least
one day) and risky = High Risk (churn_probability >= 0.70, the band of churn_risk_category; NULL:
not risky); the first stage that matches wins:
1. Lost     late > 8 (eight gaps without a purchase), or late > 4 and risky
2. Lapsing  late > 2
3. New      tenure_months < 3 (account opened, or first purchase, under three months ago)
4. Cooling  late > 1, or risky
5. Active   everyone else: bought within the usual gap and not High Risk
The cut-offs follow RFM's cadence recency scores (R5 within one gap, R4 within two, R3 within
four, R2 within eight), so nobody who bought within the typical gap is Lapsing or Lost, and a
High Risk churn score moves a customer one stage down, never past Lapsing unless four gaps passed.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from segengine.errors import DataError
from segengine.models.cadence import cadence_unit_days

STAGES = ("New", "Active", "Cooling", "Lapsing", "Lost")
"""Accepted values of lifecycle_stage."""
HIGH_RISK = 0.70
"""churn_probability from which a customer is High Risk (design §5.7, decided unrounded)."""
NEW_MONTHS = 3
"""A customer with fewer complete months of tenure than this is New (unless lapsing)."""
LOST_GAPS, LOST_RISKY_GAPS, LAPSING_GAPS, COOLING_GAPS = 8, 4, 2, 1
"""Lateness (in typical gaps) beyond which the rule above applies."""

CUSTOMER_LIFECYCLE: dict[str, pl.DataType] = {"customer_id": pl.String(),
                                              "lifecycle_stage": pl.String()}
"""Schema of customer_lifecycle (an input of customer_360_profile, not published alone)."""


def lifecycle_stage(late: pl.Expr, risk: pl.Expr, tenure_months: pl.Expr) -> pl.Expr:
    """The stage from lateness in gaps, churn probability (NULL allowed) and tenure."""
    risky = (risk >= HIGH_RISK).fill_null(False)
    return (
        pl.when((late > LOST_GAPS) | ((late > LOST_RISKY_GAPS) & risky)).then(pl.lit("Lost"))
        .when(late > LAPSING_GAPS).then(pl.lit("Lapsing"))
        .when(tenure_months < NEW_MONTHS).then(pl.lit("New"))
        .when((late > COOLING_GAPS) | risky).then(pl.lit("Cooling"))
        .otherwise(pl.lit("Active"))
    )


def customer_lifecycle(segments: pl.DataFrame, churn_scores: pl.DataFrame, *, as_of: date,
                       typical_gap_days: float | None) -> pl.DataFrame:
    """customer_lifecycle: one lifecycle_stage per customer of customer_segments."""
    needed = ("customer_id", "tenure_months", "last_transaction_date")
    missing = [c for c in needed if c not in segments.columns]
    if missing:
        raise DataError(f"customer_segments is missing column(s) {', '.join(missing)} needed "
                        "for lifecycle_stage; compute it with queries/customer_segments.sql")
    unit = cadence_unit_days(typical_gap_days)
    recency = (pl.lit(as_of) - pl.col("last_transaction_date")).dt.total_days()
    scores = churn_scores.select(pl.col("customer_id").cast(pl.String),
                                 pl.col("churn_probability").cast(pl.Float64))
    return (
        segments.select(pl.col("customer_id").cast(pl.String), "tenure_months",
                        "last_transaction_date")
        .join(scores, on="customer_id", how="left")
        .select("customer_id", lifecycle_stage(recency.cast(pl.Float64) / unit,
                                               pl.col("churn_probability"),
                                               pl.col("tenure_months")).alias("lifecycle_stage"))
        .sort("customer_id")
        .cast(CUSTOMER_LIFECYCLE)  # type: ignore[arg-type]
    )
