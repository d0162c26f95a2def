"""The small aggregated frames the HTML report and the app show (design §13), one function each:
`Results` in, frame out, fixed SQL with bound values. Money stays DECIMAL; averages of money are
exact half-up to cents (AVG over DECIMAL would be a DOUBLE).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from segengine.models.segments import SEGMENT_NAMES
from segengine.rounding import cents, half_up_money, half_up_ratio
from segengine.run.results import HISTORY, Results


def _averages(frame: pl.DataFrame) -> pl.DataFrame:
    """avg_lifetime_value (exact half-up cents) and pct_customers (half-up 2 dp) from the
    total_lifetime_value and customers columns."""
    n = pl.col("customers")
    return frame.with_columns(
        half_up_money(cents(pl.col("total_lifetime_value")), n).alias("avg_lifetime_value"),
        half_up_ratio(100 * n, n.sum()).alias("pct_customers"))


def headline(r: Results) -> dict[str, Any]:
    """Customers, TOTAL and AVERAGE lifetime value, last-90-day spend, activity and risk."""
    r.require("customer_360_profile")
    row = _averages(r.frame("""
        SELECT COUNT(*) AS customers,
               SUM(lifetime_value) AS total_lifetime_value,
               SUM(spend_last_90_days) AS total_spend_last_90_days,
               CAST(SUM(CASE WHEN days_since_last_transaction <= 30 THEN 1 ELSE 0 END)
                    AS BIGINT) AS active_30_days,
               CAST(SUM(CASE WHEN churn_risk_category = 'High Risk' THEN 1 ELSE 0 END)
                    AS BIGINT) AS high_churn_risk
        FROM customer_360_profile""")).row(0, named=True)
    return row


def segment_summary(r: Results) -> pl.DataFrame:
    """Per behavioural segment: customers, share, total and average lifetime value, total
    last-90-day spend (rule order)."""
    r.require("customer_segments")
    frame = _averages(r.frame("""
        SELECT customer_segment, COUNT(*) AS customers,
               SUM(lifetime_value) AS total_lifetime_value,
               SUM(spend_last_90_days) AS total_spend_last_90_days
        FROM customer_segments GROUP BY customer_segment"""))
    rank = {n: i for i, n in enumerate(SEGMENT_NAMES)}
    return frame.sort(pl.col("customer_segment").replace_strict(rank, default=len(rank)))


def segment_reasons(r: Results, per_segment: int = 3) -> pl.DataFrame:
    """A few example segment_reason texts per segment (lowest customer ids, deterministic)."""
    return r.frame("""
        SELECT customer_segment, customer_id, segment_reason FROM (
            SELECT customer_segment, customer_id, segment_reason,
                   ROW_NUMBER() OVER (PARTITION BY customer_segment ORDER BY customer_id) AS n
            FROM customer_segments) WHERE n <= ? ORDER BY customer_segment, customer_id""",
                   [per_segment])


def transitions(r: Results, from_date: date, to_date: date) -> pl.DataFrame:
    """Customers per (segment at from_date, segment at to_date), both dates from the history;
    a customer present on one date only is '(not segmented)' on the other."""
    return r.frame(f"""
        WITH a AS (SELECT customer_id, customer_segment FROM {HISTORY} WHERE as_of_date = ?),
             b AS (SELECT customer_id, customer_segment FROM {HISTORY} WHERE as_of_date = ?)
        SELECT COALESCE(a.customer_segment, '(not segmented)') AS from_segment,
               COALESCE(b.customer_segment, '(not segmented)') AS to_segment,
               COUNT(*) AS customers
        FROM a FULL OUTER JOIN b ON a.customer_id = b.customer_id
        GROUP BY 1, 2 ORDER BY 1, 2""", [from_date, to_date])


def last_two_dates(r: Results) -> tuple[date, date] | None:
    """The two latest history dates on or before this as-of date, or None."""
    dates = [d for d in r.history_dates() if d <= r.as_of]
    return (dates[-2], dates[-1]) if len(dates) >= 2 else None


def rf_counts(r: Results) -> pl.DataFrame:
    """Customers per (r_score, f_score)."""
    r.require("customer_rfm")
    return r.frame("SELECT r_score, f_score, COUNT(*) AS customers FROM customer_rfm "
                   "GROUP BY r_score, f_score ORDER BY r_score, f_score")


def rfm_summary(r: Results) -> pl.DataFrame:
    r.require("rfm_segment_summary")
    return r.frame("SELECT * FROM rfm_segment_summary")


def cluster_profiles(r: Results) -> pl.DataFrame:
    r.require("cluster_profiles")
    return r.frame("SELECT * FROM cluster_profiles ORDER BY cluster_id")


def mom_trend_counts(r: Results, months: int = 12) -> pl.DataFrame:
    """Customers per (month, trend band) over the last `months` months with a trend."""
    r.require("metric_mom_spend_change")
    return r.frame("""
        WITH recent AS (SELECT DISTINCT month FROM metric_mom_spend_change
                        ORDER BY month DESC LIMIT ?)
        SELECT m.month, m.mom_trend_category, COUNT(*) AS customers
        FROM metric_mom_spend_change AS m JOIN recent USING (month)
        WHERE m.mom_trend_category IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2""", [months])


def values(r: Results, column: str) -> pl.Series:
    """One money column of customer_360_profile for a distribution chart."""
    allowed = ("lifetime_value", "avg_transaction_value", "churn_risk_score",
               "spend_last_90_days")
    if column not in allowed:  # a fixed list: the name is formatted into SQL
        raise ValueError(f"not a distribution column: {column}")
    r.require("customer_360_profile")
    return r.frame(f"SELECT {column} FROM customer_360_profile").to_series()


def churn_report(r: Results) -> pl.DataFrame:
    """churn_model_report rows (metric, value, detail); empty when churn was off."""
    if not r.has("churn_model_report"):
        return pl.DataFrame(schema={"metric": pl.String, "value": pl.Float64,
                                    "detail": pl.String})
    return r.frame("SELECT metric, value, detail FROM churn_model_report")


def churn_bands(r: Results) -> pl.DataFrame:
    """Customers and average lifetime value per churn risk band."""
    r.require("customer_360_profile")
    return _averages(r.frame("""
        SELECT churn_risk_category, COUNT(*) AS customers,
               SUM(lifetime_value) AS total_lifetime_value
        FROM customer_360_profile GROUP BY 1"""))


def churn_curves(r: Results) -> dict[str, pl.DataFrame]:
    """ROC and calibration points if the run published them (table churn_model_curves with
    curve, x, y, customers); a curve without points (no model trained) is left out, so {} when
    churn was off or untrainable."""
    if not r.has("churn_model_curves"):
        return {}
    frame = r.frame("SELECT curve, x, y, customers FROM churn_model_curves ORDER BY curve, x, y")
    roc = frame.filter(pl.col("curve") == "roc")
    cal = frame.filter(pl.col("curve") == "calibration")
    curves = {
        "roc": roc.select(pl.col("x").alias("false_positive_rate"),
                          pl.col("y").alias("true_positive_rate")),
        "calibration": cal.select(pl.col("x").alias("mean_predicted"),
                                  pl.col("y").alias("observed_rate"), "customers"),
    }
    return {name: points for name, points in curves.items() if points.height}


def audience_summary(r: Results, where: str, params: list[Any]) -> dict[str, Any]:
    """Customers, TOTAL and AVERAGE lifetime value and TOTAL last-90-day spend of an audience.
    `where` comes from present.campaign.audience_where (fixed column names, values bound)."""
    r.require("customer_360_profile")
    row = _averages(r.frame(f"""
        SELECT COUNT(*) AS customers,
               COALESCE(SUM(lifetime_value), 0) AS total_lifetime_value,
               COALESCE(SUM(spend_last_90_days), 0) AS total_spend_last_90_days
        FROM customer_360_profile WHERE {where}""", params)).row(0, named=True)
    return row


def audience_rows(r: Results, where: str, params: list[Any],
                  columns: tuple[str, ...]) -> pl.DataFrame:
    """The audience's customers (the listed columns this warehouse has), by customer_id."""
    have = set(r.columns("customer_360_profile"))
    picked = ", ".join(c for c in columns if c in have)  # names from a fixed tuple
    return r.frame(f"SELECT {picked} FROM customer_360_profile WHERE {where} "
                   "ORDER BY customer_id", params)


def filter_options(r: Results) -> dict[str, list[str]]:
    """Values present per filterable column of customer_360_profile (for the app's pickers)."""
    have = set(r.columns("customer_360_profile"))
    out: dict[str, list[str]] = {}
    for column in ("customer_segment", "rfm_segment", "cluster_name", "lifecycle_stage",
                   "churn_risk_category"):
        if column in have:  # a fixed list of names
            out[column] = [v for (v,) in r.frame(
                f"SELECT DISTINCT {column} FROM customer_360_profile WHERE {column} IS NOT NULL "
                "ORDER BY 1").iter_rows()]
    return out


def customer_profile(r: Results, customer_id: str) -> pl.DataFrame:
    """The customer_360_profile row of one customer (empty when unknown)."""
    r.require("customer_360_profile")
    return r.frame("SELECT * FROM customer_360_profile WHERE customer_id = ?", [customer_id])


def customer_history(r: Results, customer_id: str) -> pl.DataFrame:
    """One customer's segment on every as-of date of the history."""
    if HISTORY not in r.tables:
        return pl.DataFrame()
    return r.frame(f"""SELECT as_of_date, customer_segment, segment_reason, lifetime_value,
                              spend_last_90_days, spend_change_pct
                       FROM {HISTORY} WHERE customer_id = ? ORDER BY as_of_date""",
                   [customer_id])


def customer_months(r: Results, customer_id: str) -> pl.DataFrame:
    """One customer's monthly spend and trend (metric_mom_spend_change rows)."""
    r.require("metric_mom_spend_change")
    return r.frame("SELECT month, monthly_spend, transaction_count, mom_change_pct, "
                   "mom_trend_category FROM metric_mom_spend_change WHERE customer_id = ? "
                   "ORDER BY month", [customer_id])


def segment_customers(r: Results, where: str, params: list[Any], limit: int) -> pl.DataFrame:
    """The first `limit` customers of a filtered selection, highest lifetime value first."""
    r.require("customer_360_profile")
    return r.frame(f"""SELECT customer_id, full_name, customer_segment, rfm_segment,
                              cluster_name, churn_risk_category, lifetime_value,
                              spend_last_90_days, days_since_last_transaction
                       FROM customer_360_profile WHERE {where}
                       ORDER BY lifetime_value DESC, customer_id LIMIT ?""", [*params, limit])
