"""Churn stage: a forward-looking gradient-boosting churn model (design §7).

Inputs: training rows from queries/churn_labels.sql (customer_activity-style aggregates as of
S = as_of - 90 days plus the label by as_of, one pass over the lake) and customer_activity as of
as_of (features for scoring). Output: churn_scores (customer_id, churn_risk_score 0-100) and
churn_model_report (metric, value, detail).

Label (churned by as_of, approved transactions only, dates inclusive), for every customer with
>= 1 approved transaction on or before S:
- no transaction in the recent window (as_of - 60, as_of] = [as_of - 59, as_of], or
- spend in the outcome window (S, as_of] = [as_of - 89, as_of] is below 30% of spend in the
  baseline window [S - 89, S] = [as_of - 179, as_of - 90] (exact: outcome * 10 < baseline * 3).
Features at a date D use only transactions on or before D, so the model never sees its label
window. They measure time in the portfolio's purchase cadence at D (the typical gap g, §5.9) and
are monotonic in risk: recency in gaps; recency over the customer's own gap shrunk to g
((span + g) / purchases); purchase rate relative to g; purchases; the spend trend (last 90 days
vs the 90 before, only for customers with 180 days of tenure). Why these: the model learns at S
and scores at as_of, 90 days later; raw days and tenure do not transfer when the portfolio
ages (CDNOW is one cohort: at S its customers are months younger than at as_of, and trees do not
extrapolate), while gaps and ratios do. A feature known for fewer than half of the labelled
customers (the spend trend of a young portfolio) is left out. Spend windows, lifetime value, raw
recency/tenure and category shares were measured and lowered the out-of-time AUC.
Training: customers sorted by id, stratified 75/25 split, HistGradientBoostingClassifier with
monotonic constraints blended with a logistic term (models/churn_fit.py: it extrapolates where
trees cannot; with it the model beats lifetimes' BG/NBD out of time on CDNOW at every month-end
benchmarks/churn_eval.py tests, README), all seeded with `ChurnConfig.seed`; the model fitted on
the 75% is evaluated on the held-out 25% (AUC, precision and recall at 0.5, Brier score), then
refitted on every labelled customer to score everyone active on or before as_of. fit_churn also
returns the held-out (probability, label) pairs: the churn_model_curves table (§13).
Fitting and prediction run single-threaded: with two cores shared with other work, OpenMP
barriers made HistGradientBoosting 10-20x slower, while one thread takes ~0.7 s at 50K customers.
Too few labelled customers or too few of either class: no model, NULL scores, and the report says
why (customer_360 then shows `Not Scored`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from segengine.config import ChurnConfig
from segengine.errors import DataError
from segengine.models.cadence import cadence_unit_days, typical_gap_days
from segengine.models.churn_fit import BlendedModel, linear_matrix

HORIZON_DAYS = 90
"""Days between the feature date S and the label date as_of."""
MIN_TRAIN_CUSTOMERS = 50
"""Below this many labelled customers no model is trained."""
MIN_CLASS_CUSTOMERS = 5
"""Each class (churned, retained) needs this many customers for a stratified split."""
TEST_SHARE = 0.25
"""Share of labelled customers held out for evaluation."""
THRESHOLD = 0.5
"""Probability at which precision and recall are measured."""
MIN_KNOWN_SHARE = 0.5
"""A feature NULL for more than this share of labelled customers is not used."""

ACTIVITY_COLUMNS = (
    "customer_id", "total_transactions", "first_transaction_date", "last_transaction_date",
    "spend_last_90_days", "spend_prior_90_days",
)
"""customer_activity columns the features read."""

SCORES_SCHEMA: dict[str, pl.DataType] = {"customer_id": pl.String(),
                                         "churn_risk_score": pl.Float64(),
                                         "churn_probability": pl.Float64()}
"""Schema of churn_scores: the display score (probability × 100, 2 decimals) and the unrounded
probability the 360's risk bands are decided on (§5.4: categories never on display values)."""
REPORT_SCHEMA: dict[str, pl.DataType] = {"metric": pl.String(), "value": pl.Float64(),
                                         "detail": pl.String()}
"""Schema of churn_model_report (the lead adds as_of_date)."""


def feature_date_for(as_of: date) -> date:
    """S: the date training features are taken at (as_of - 90 days)."""
    return as_of - timedelta(days=HORIZON_DAYS)


def label_params(as_of: date) -> dict[str, date]:
    """Parameters of queries/churn_labels.sql: as_of, S and every window boundary (inclusive)."""
    s = feature_date_for(as_of)
    return {
        "as_of": as_of,
        "feature_date": s,
        "recent_start": as_of - timedelta(days=59),
        "baseline_start": s - timedelta(days=89),
        "s_last90_start": s - timedelta(days=90),
        "s_prior90_start": s - timedelta(days=180),
        "s_prior90_end": s - timedelta(days=91),
    }


@dataclass(frozen=True)
class Snapshot:
    """A feature date and the portfolio's cadence unit (typical purchase gap, days) then."""

    date: date
    unit: float


def snapshot(activity: pl.DataFrame, feature_date: date) -> Snapshot:
    """The snapshot of an activity frame computed as of feature_date (§5.9 cadence)."""
    return Snapshot(feature_date, cadence_unit_days(typical_gap_days(activity)))


def _recency(at: Snapshot) -> pl.Expr:
    return (pl.lit(at.date) - pl.col("last_transaction_date")).dt.total_days().cast(pl.Float64)


def _span() -> pl.Expr:
    """Days from the first to the last approved purchase."""
    return (pl.col("last_transaction_date") - pl.col("first_transaction_date")).dt.total_days(
    ).cast(pl.Float64)


def _purchases() -> pl.Expr:
    return pl.col("total_transactions").cast(pl.Float64)


def recency_gaps(at: Snapshot) -> pl.Expr:
    """Days since the last purchase, in the portfolio's typical gaps."""
    return _recency(at) / at.unit


def recency_shrunk_gaps(at: Snapshot) -> pl.Expr:
    """Days since the last purchase over the customer's gap shrunk to the portfolio's:
    (span + unit) / purchases, so one purchase gives the portfolio's gap."""
    return _recency(at) / ((_span() + at.unit) / _purchases())


def relative_purchase_rate(at: Snapshot) -> pl.Expr:
    """Purchases per shrunk gap relative to the portfolio: unit * purchases / (span + unit)."""
    return at.unit * _purchases() / (_span() + at.unit)


def purchases(at: Snapshot) -> pl.Expr:
    """Approved purchases, all history up to the feature date."""
    return _purchases()


def spend_trend(at: Snapshot) -> pl.Expr:
    """log1p(spend last 90 days) - log1p(spend in the 90 before); NULL under 180 days of tenure
    (the earlier window predates the customer: 0 there is no decline)."""
    tenure = (pl.lit(at.date) - pl.col("first_transaction_date")).dt.total_days()
    change = (pl.col("spend_last_90_days").cast(pl.Float64).log1p()
              - pl.col("spend_prior_90_days").cast(pl.Float64).log1p())
    return pl.when(tenure >= 180).then(change)


FEATURES: tuple[tuple[Callable[[Snapshot], pl.Expr], int], ...] = (
    (recency_gaps, 1), (recency_shrunk_gaps, 1), (relative_purchase_rate, -1), (purchases, -1),
    (spend_trend, -1),
)
"""Model features in column order, each with its monotonic constraint on churn risk (1: risk
never falls as the feature grows, -1: never rises)."""
FEATURE_NAMES = tuple(f.__name__ for f, _ in FEATURES)
MONOTONIC = tuple(sign for _, sign in FEATURES)


def _require(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{name} is missing column(s) {', '.join(missing)}; "
                        "it must come from queries/customer_activity.sql")


def churn_features(activity: pl.DataFrame, *, feature_date: date) -> pl.DataFrame:
    """customer_id plus one Float64 column per feature, from activity as of feature_date."""
    _require(activity, ACTIVITY_COLUMNS, "customer_activity")
    late = activity.filter(pl.col("last_transaction_date") > feature_date).height
    if late:
        raise DataError(f"customer_activity has {late} customer(s) with transactions after the "
                        f"feature date {feature_date}: compute it with as_of = {feature_date}")
    at = snapshot(activity, feature_date)
    return activity.select(
        pl.col("customer_id"),
        *(f(at).cast(pl.Float64).alias(f.__name__) for f, _ in FEATURES),
    ).sort("customer_id")


def _matrix(features: pl.DataFrame) -> np.ndarray:
    """Feature columns as a float64 matrix; NULL becomes NaN (handled natively by the model)."""
    _require(features, ("customer_id", *FEATURE_NAMES), "churn features")
    return features.select(FEATURE_NAMES).fill_null(np.nan).to_numpy().astype(np.float64)


def _untrainable(y: np.ndarray, config: ChurnConfig) -> str | None:
    """Why no model can be trained on these labels, or None."""
    churned = int(y.sum())
    if not config.enabled:
        return "churn model disabled in config ([churn] enabled = false)"
    if y.size < MIN_TRAIN_CUSTOMERS:
        return (f"only {y.size} customer(s) active on or before the feature date; "
                f"need at least {MIN_TRAIN_CUSTOMERS}")
    if min(churned, y.size - churned) < MIN_CLASS_CUSTOMERS:
        return (f"labels too one-sided ({churned} churned, {y.size - churned} retained); "
                f"need at least {MIN_CLASS_CUSTOMERS} of each")
    return None


def _drop_sparse_columns(x: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """A feature known (not NULL) for fewer than half of the labelled customers is left out
    (0 in every matrix): the model would learn it from a minority unlike the customers it
    scores later, e.g. the spend trend of a young portfolio (see module docstring)."""
    known = (~np.isnan(x)).mean(axis=0) if len(x) else np.zeros(x.shape[1])
    sparse = known < MIN_KNOWN_SHARE
    return [np.where(sparse, 0.0, m) for m in (x, *others)]


def _report(rows: list[tuple[str, float | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row")


def _scores(ids: pl.Series, probability: np.ndarray | None) -> pl.DataFrame:
    exact = pl.Series("churn_probability",
                      probability if probability is not None else [None] * ids.len(),
                      dtype=pl.Float64)
    values = (exact * 100.0).round(2).clip(0.0, 100.0).alias("churn_risk_score")
    return pl.DataFrame([ids, values, exact]).cast(SCORES_SCHEMA)  # type: ignore[arg-type]


class ChurnModel(NamedTuple):
    """What training produced: churn_scores, churn_model_report and the held-out customers'
    (churn_probability, churned) the report's AUC and Brier are measured on (empty without a
    model), the input of run/churn_curves.churn_model_curves."""

    scores: pl.DataFrame
    report: pl.DataFrame
    held_out: pl.DataFrame


HELD_OUT_SCHEMA: dict[str, pl.DataType] = {"churn_probability": pl.Float64(),
                                           "churned": pl.Boolean()}


def score_churn(features_at_s: pl.DataFrame, labels: pl.DataFrame, features_now: pl.DataFrame,
                *, config: ChurnConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """churn_scores and churn_model_report (fit_churn without the held-out predictions)."""
    fitted = fit_churn(features_at_s, labels, features_now, config=config)
    return fitted.scores, fitted.report


def fit_churn(features_at_s: pl.DataFrame, labels: pl.DataFrame, features_now: pl.DataFrame,
              *, config: ChurnConfig) -> ChurnModel:
    """Train on (features at S, labels), evaluate on held-out customers, score features now."""
    _require(labels, ("customer_id", "churned"), "churn_labels")
    train = (features_at_s.join(labels.select("customer_id", "churned"), on="customer_id",
                                how="inner").sort("customer_id"))
    now = features_now.sort("customer_id")
    x_now = _matrix(now)
    y = train.get_column("churned").cast(pl.Int8).to_numpy().astype(np.int64)
    base = [("labelled_customers", float(y.size), None),
            ("base_rate", float(y.mean()) if y.size else None, "share churned by as_of")]
    reason = _untrainable(y, config)
    if reason is not None:
        report = _report([("trained", 0.0, reason), *base,
                          ("scored_customers", 0.0, None)])
        return ChurnModel(_scores(now.get_column("customer_id"), None), report,
                          pl.DataFrame(schema=HELD_OUT_SCHEMA))
    x, x_now = _drop_sparse_columns(_matrix(train), x_now)
    lin, lin_now = linear_matrix(train), linear_matrix(now)
    import sklearn.ensemble  # noqa: F401 - load OpenMP before threadpool_limits can cap it
    from sklearn.metrics import brier_score_loss, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    fit_idx, test_idx = train_test_split(np.arange(y.size), test_size=TEST_SHARE, stratify=y,
                                         random_state=config.seed)
    with threadpool_limits(limits=1):  # OpenMP on 2 busy cores stalls (10x slower); see module
        p_test = BlendedModel(config.seed, MONOTONIC).fit(
            x[fit_idx], lin[fit_idx], y[fit_idx]).predict(x[test_idx], lin[test_idx])
        model = BlendedModel(config.seed, MONOTONIC).fit(x, lin, y)  # scores: every label
        p_now = model.predict(x_now, lin_now)
    hit = (p_test >= THRESHOLD).astype(np.int64)
    y_test = y[test_idx]
    report = _report([
        ("trained", 1.0, "evaluated: fitted on train_customers, tested on test_customers; "
                         "scores: refitted on all labelled customers"),
        *base,
        ("train_customers", float(fit_idx.size), None),
        ("test_customers", float(test_idx.size), None),
        ("auc", float(roc_auc_score(y_test, p_test)), "held-out ROC AUC"),
        ("precision", float(precision_score(y_test, hit, zero_division=0)),
         f"held-out, threshold {THRESHOLD}"),
        ("recall", float(recall_score(y_test, hit, zero_division=0)),
         f"held-out, threshold {THRESHOLD}"),
        ("brier", float(brier_score_loss(y_test, p_test)), "held-out mean squared error of "
                                                           "the probability (calibration)"),
        ("scored_customers", float(now.height), None),
    ])
    held_out = pl.DataFrame({"churn_probability": p_test, "churned": y_test.astype(bool)},
                            schema=HELD_OUT_SCHEMA)
    return ChurnModel(_scores(now.get_column("customer_id"), p_now), report, held_out)
