"""Independent Polars reference for design §5.1 (customer_segments features and rules).

Written straight from the spec, sharing no code with the SQL engine, so the lead can reconcile the
engine against it. Money is summed in integer cents and every threshold test is an exact integer
comparison (a rounded float never decides a segment); a comparison with NULL never matches.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import polars as pl

from segengine.config import SegmentsConfig

TRAVEL = ("Travel", "Airlines", "Hotels")
NECESSITIES = ("Grocery", "Gas", "Utilities")
HVT, DECLINING, NEW, BUDGET, STABLE = (
    "High-Value Travelers", "Declining", "New & Growing", "Budget-Conscious", "Stable Mid-Spenders",
)
SEGMENTS = (HVT, DECLINING, NEW, BUDGET, STABLE)


def months_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """DuckDB `date_sub('month', start, end)`: complete months, negative when start > end.

    A month is complete when end's day-of-month reaches start's, or end is the last day of its
    month (2025-01-31 -> 2025-02-28 is one month). For start > end it is -(months end -> start).
    """
    def forward(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        raw = (b.dt.year() - a.dt.year()).cast(pl.Int64) * 12 + (
            b.dt.month().cast(pl.Int64) - a.dt.month().cast(pl.Int64))
        b_is_month_end = b.dt.month_end() == b
        incomplete = (b.dt.day() < a.dt.day()) & ~b_is_month_end
        return raw - incomplete.cast(pl.Int64)

    return pl.when(start <= end).then(forward(start, end)).otherwise(-forward(end, start))


def _ratio(value: float) -> tuple[int, int]:
    """A threshold as an exact fraction (numerator, denominator) of its decimal text."""
    f = Fraction(str(value))
    return f.numerator, f.denominator


def _cents(expr: pl.Expr) -> pl.Expr:
    """Decimal money -> exact integer cents."""
    return (expr * 100).cast(pl.Int64)


def _money(cents: pl.Expr) -> pl.Expr:
    """Integer cents -> Decimal(18,2), exactly."""
    return (cents.cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(18, 2))


def customer_features(transactions: pl.DataFrame, customers: pl.DataFrame | None, *,
                      as_of: date) -> pl.DataFrame:
    """Per-customer §5.1 features over approved transactions on or before as_of (cents exact)."""
    last_from, prior_from, prior_to = (as_of - timedelta(days=d) for d in (90, 180, 91))
    day = pl.col("transaction_date")
    cents = pl.col("cents")
    in_last = day.is_between(last_from, as_of)
    in_prior = day.is_between(prior_from, prior_to)
    approved = transactions.filter(
        pl.col("status").str.to_lowercase() == "approved", day <= as_of
    ).with_columns(cents=_cents(pl.col("transaction_amount")))
    features = approved.group_by("customer_id").agg(
        total_transactions=pl.len().cast(pl.Int64),
        lifetime_cents=cents.sum(),
        first_transaction_date=day.min(),
        last_transaction_date=day.max(),
        last_cents=cents.filter(in_last).sum(),
        prior_cents=cents.filter(in_prior).sum(),
        travel_cents=cents.filter(in_last & pl.col("merchant_category").is_in(TRAVEL)).sum(),
        necessities_cents=cents.filter(
            in_last & pl.col("merchant_category").is_in(NECESSITIES)).sum(),
    )
    if customers is not None:
        opened = customers.select("customer_id", "account_open_date")
        features = features.join(opened, on="customer_id", how="left")
    else:
        features = features.with_columns(account_open_date=pl.lit(None, dtype=pl.Date))
    start = pl.coalesce("account_open_date", "first_transaction_date")
    return features.with_columns(tenure_months=months_between(start, pl.lit(as_of)))


def segment_expr(config: SegmentsConfig) -> pl.Expr:
    """The five rules, first match wins, as exact integer comparisons on cents."""
    last, prior = pl.col("last_cents"), pl.col("prior_cents")
    travel, necessities = pl.col("travel_cents"), pl.col("necessities_cents")
    n, d = _ratio(config.hvt_min_avg_monthly_spend)
    hvt_spend = last * d >= 300 * n  # last/3 dollars >= n/d
    n, d = _ratio(config.hvt_min_travel_pct)
    hvt_travel = (last > 0) & (travel * 100 * d >= n * last)
    n, d = _ratio(config.declining_max_change_pct)
    decl_change = (prior > 0) & ((last - prior) * 100 * d <= n * prior)
    n, d = _ratio(config.declining_min_prior_spend)
    decl_prior = prior * d >= 100 * n
    n, d = _ratio(config.new_min_change_pct)
    new_change = (prior > 0) & ((last - prior) * 100 * d >= n * prior)
    new_tenure = pl.col("tenure_months") <= config.new_max_tenure_months
    n, d = _ratio(config.budget_max_avg_monthly_spend)
    budget_spend = last * d < 300 * n
    n, d = _ratio(config.budget_min_necessities_pct)
    budget_needs = (last > 0) & (necessities * 100 * d >= n * last)
    return (
        pl.when((hvt_spend & hvt_travel).fill_null(False)).then(pl.lit(HVT))
        .when((decl_change & decl_prior).fill_null(False)).then(pl.lit(DECLINING))
        .when((new_tenure & new_change).fill_null(False)).then(pl.lit(NEW))
        .when((budget_spend & budget_needs).fill_null(False)).then(pl.lit(BUDGET))
        .otherwise(pl.lit(STABLE))
    )


def segment_oracle(transactions: pl.DataFrame, customers: pl.DataFrame | None, *, as_of: date,
                   config: SegmentsConfig | None = None) -> pl.DataFrame:
    """One row per customer with >= 1 approved transaction on or before as_of: §5.1 columns."""
    config = config or SegmentsConfig()
    feats = customer_features(transactions, customers, as_of=as_of)
    last, prior = pl.col("last_cents"), pl.col("prior_cents")
    pct = pl.when(last > 0)
    return feats.select(
        "customer_id",
        customer_segment=segment_expr(config),
        segment_assigned_date=pl.lit(as_of),
        total_transactions="total_transactions",
        lifetime_value=_money(pl.col("lifetime_cents")),
        # exact half-up to cents on integers: floor((2·cents + n) / 2n)
        avg_transaction_value=_money((2 * pl.col("lifetime_cents") + pl.col("total_transactions"))
                                     // (2 * pl.col("total_transactions"))),
        first_transaction_date="first_transaction_date",
        last_transaction_date="last_transaction_date",
        tenure_months="tenure_months",
        spend_last_90_days=_money(last),
        spend_prior_90_days=_money(prior),
        spend_change_pct=pl.when(prior > 0).then((last - prior) / prior * 100),
        avg_monthly_spend=last / 300,
        travel_spend_pct=pct.then(pl.col("travel_cents") / last * 100),
        necessities_spend_pct=pct.then(pl.col("necessities_cents") / last * 100),
        last_cents=last,
        prior_cents=prior,
    ).sort("customer_id")


def segment_shares(segments: pl.DataFrame) -> dict[str, float]:
    """Percentage of customers in each of the five segments (0 for an empty one)."""
    counts = dict(segments["customer_segment"].value_counts().iter_rows())
    total = max(segments.height, 1)
    return {name: 100.0 * counts.get(name, 0) / total for name in SEGMENTS}
