"""Baseline B: the reference dbt models, ported as written to DuckDB, one CREATE TABLE per model.

The reference build (reference/segmentation_guide.md, aggregate_marts_guide.md) is a dbt project
on Snowflake. Each model below keeps the reference's shape: staging models over the sources
(materialised as views, dbt's default for staging; `--staging table` materialises them, which
adds a full copy of the lake into DuckDB — the load the reference did before `dbt run --models
marts`), then one CREATE TABLE per mart, each scanning staging again: customer_segments with
its four CTE aggregations (lifetime, last 90 days, prior 90 days, category spend) joined
together, one scan each for LTV, MoM (with a date spine) and ATV, then the customer-360 join.
Only the dialect changed (Snowflake -> DuckDB), and `CURRENT_DATE` became the as-of date,
rendered into the SQL the way dbt renders `{{ var('as_of') }}`. Money stays DECIMAL as in the
lake; rule thresholds are compared on the rounded display columns as the reference did.
`tenure_months` is `DATEDIFF('month', …)` (month boundaries crossed), the reference's Snowflake
idiom, not §5.1's complete months, so New & Growing can differ at the edge.

It computes fewer tables than segengine: no RFM, KMeans, churn model, quality gate, history,
Parquet out/ files or manifest.

    .venv/bin/python benchmarks/baseline_dbt_duckdb.py --data-dir DIR --db OUT.duckdb \
        [--stats stats.json]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import duckdb

MODELS: dict[str, str] = {}

MODELS["stg_transactions"] = """
SELECT
    transaction_id,
    customer_id,
    CAST(transaction_date AS DATE) AS transaction_date,
    CAST(transaction_amount AS DECIMAL(12, 2)) AS transaction_amount,
    merchant_name,
    COALESCE(NULLIF(TRIM(merchant_category), ''), 'Uncategorized') AS merchant_category,
    channel,
    LOWER(status) AS status
FROM read_parquet('{lake}/transactions/*/*.parquet')
WHERE CAST(transaction_date AS DATE) <= {as_of}
"""

MODELS["stg_customers"] = """
SELECT
    customer_id,
    first_name,
    last_name,
    email,
    age,
    state,
    city,
    employment_status,
    card_type,
    CAST(credit_limit AS DECIMAL(12, 2)) AS credit_limit,
    CAST(account_open_date AS DATE) AS account_open_date
FROM read_parquet('{lake}/customers/customers.parquet')
"""

MODELS["customer_segments"] = """
WITH customer_lifetime AS (
    SELECT
        customer_id,
        COUNT(*) AS total_transactions,
        SUM(transaction_amount) AS lifetime_value,
        AVG(transaction_amount) AS avg_transaction_value,
        MIN(transaction_date) AS first_transaction_date,
        MAX(transaction_date) AS last_transaction_date
    FROM stg_transactions
    WHERE status = 'approved'
    GROUP BY customer_id
),
recent_90_days AS (
    SELECT
        customer_id,
        SUM(transaction_amount) AS spend_last_90_days
    FROM stg_transactions
    WHERE status = 'approved'
      AND transaction_date >= {as_of} - INTERVAL 90 DAY
    GROUP BY customer_id
),
prior_90_days AS (
    SELECT
        customer_id,
        SUM(transaction_amount) AS spend_prior_90_days
    FROM stg_transactions
    WHERE status = 'approved'
      AND transaction_date BETWEEN {as_of} - INTERVAL 180 DAY AND {as_of} - INTERVAL 91 DAY
    GROUP BY customer_id
),
category_spend AS (
    SELECT
        customer_id,
        SUM(CASE WHEN merchant_category IN ('Travel', 'Airlines', 'Hotels')
                 THEN transaction_amount ELSE 0 END) AS travel_amount,
        SUM(CASE WHEN merchant_category IN ('Grocery', 'Gas', 'Utilities')
                 THEN transaction_amount ELSE 0 END) AS necessities_amount,
        SUM(transaction_amount) AS total_amount
    FROM stg_transactions
    WHERE status = 'approved'
      AND transaction_date >= {as_of} - INTERVAL 90 DAY
    GROUP BY customer_id
),
customer_metrics AS (
    SELECT
        l.customer_id,
        l.total_transactions,
        l.lifetime_value,
        ROUND(l.avg_transaction_value, 2) AS avg_transaction_value,
        l.first_transaction_date,
        l.last_transaction_date,
        DATEDIFF('month', COALESCE(c.account_open_date, l.first_transaction_date), {as_of})
            AS tenure_months,
        COALESCE(r.spend_last_90_days, 0) AS spend_last_90_days,
        COALESCE(p.spend_prior_90_days, 0) AS spend_prior_90_days,
        CASE WHEN COALESCE(p.spend_prior_90_days, 0) > 0
             THEN ROUND((COALESCE(r.spend_last_90_days, 0) - p.spend_prior_90_days)
                        / p.spend_prior_90_days * 100, 2)
        END AS spend_change_pct,
        ROUND(COALESCE(r.spend_last_90_days, 0) / 3, 2) AS avg_monthly_spend,
        CASE WHEN cs.total_amount > 0
             THEN ROUND(cs.travel_amount / cs.total_amount * 100, 2) END AS travel_spend_pct,
        CASE WHEN cs.total_amount > 0
             THEN ROUND(cs.necessities_amount / cs.total_amount * 100, 2)
        END AS necessities_spend_pct
    FROM customer_lifetime l
    LEFT JOIN stg_customers c ON l.customer_id = c.customer_id
    LEFT JOIN recent_90_days r ON l.customer_id = r.customer_id
    LEFT JOIN prior_90_days p ON l.customer_id = p.customer_id
    LEFT JOIN category_spend cs ON l.customer_id = cs.customer_id
)
SELECT
    customer_id,
    MD5(customer_id) AS customer_key,
    CASE
        WHEN avg_monthly_spend >= 5000 AND travel_spend_pct >= 25
            THEN 'High-Value Travelers'
        WHEN spend_change_pct <= -30 AND spend_prior_90_days >= 2000
            THEN 'Declining'
        WHEN tenure_months <= 6 AND spend_change_pct >= 50
            THEN 'New & Growing'
        WHEN avg_monthly_spend < 1500 AND necessities_spend_pct >= 60
            THEN 'Budget-Conscious'
        ELSE 'Stable Mid-Spenders'
    END AS customer_segment,
    {as_of} AS segment_assigned_date,
    total_transactions,
    lifetime_value,
    avg_transaction_value,
    first_transaction_date,
    last_transaction_date,
    tenure_months,
    spend_last_90_days,
    spend_prior_90_days,
    spend_change_pct,
    avg_monthly_spend,
    travel_spend_pct,
    necessities_spend_pct
FROM customer_metrics
"""

MODELS["metric_customer_ltv"] = """
WITH customer_transactions AS (
    SELECT
        customer_id,
        SUM(transaction_amount) AS lifetime_value,
        COUNT(*) AS total_transactions,
        MIN(transaction_date) AS first_transaction_date,
        MAX(transaction_date) AS last_transaction_date
    FROM stg_transactions
    WHERE status = 'approved'
    GROUP BY customer_id
)
SELECT
    t.customer_id,
    s.customer_segment,
    t.lifetime_value,
    t.total_transactions,
    t.first_transaction_date,
    t.last_transaction_date,
    DATEDIFF('day', t.first_transaction_date, t.last_transaction_date) AS customer_age_days,
    CASE WHEN DATEDIFF('day', t.first_transaction_date, t.last_transaction_date) > 0
         THEN ROUND(t.lifetime_value
                    / DATEDIFF('day', t.first_transaction_date, t.last_transaction_date), 2)
    END AS avg_spend_per_day,
    {as_of} AS metric_calculated_date
FROM customer_transactions t
LEFT JOIN customer_segments s ON t.customer_id = s.customer_id
"""

MODELS["metric_mom_spend_change"] = """
WITH monthly_spend AS (
    SELECT
        customer_id,
        DATE_TRUNC('month', transaction_date) AS month,
        SUM(transaction_amount) AS monthly_spend,
        COUNT(*) AS transaction_count
    FROM stg_transactions
    WHERE status = 'approved'
    GROUP BY customer_id, DATE_TRUNC('month', transaction_date)
),
first_month AS (
    SELECT customer_id, MIN(month) AS first_month
    FROM monthly_spend
    GROUP BY customer_id
),
month_spine AS (
    SELECT CAST(generate_series AS DATE) AS month
    FROM generate_series(
        (SELECT MIN(first_month) FROM first_month),
        DATE_TRUNC('month', {as_of}),
        INTERVAL 1 MONTH)
),
customer_months AS (
    SELECT f.customer_id, s.month
    FROM first_month f
    JOIN month_spine s ON s.month >= f.first_month
),
dense AS (
    SELECT
        cm.customer_id,
        cm.month,
        COALESCE(ms.monthly_spend, 0) AS monthly_spend,
        COALESCE(ms.transaction_count, 0) AS transaction_count
    FROM customer_months cm
    LEFT JOIN monthly_spend ms ON cm.customer_id = ms.customer_id AND cm.month = ms.month
),
with_prior AS (
    SELECT
        customer_id,
        month,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS month_number,
        monthly_spend,
        transaction_count,
        LAG(monthly_spend) OVER (PARTITION BY customer_id ORDER BY month) AS prior_month_spend
    FROM dense
)
SELECT
    customer_id,
    month,
    month_number,
    monthly_spend,
    transaction_count,
    prior_month_spend,
    CASE WHEN prior_month_spend > 0
         THEN ROUND((monthly_spend - prior_month_spend) / prior_month_spend * 100, 2)
    END AS mom_change_pct,
    CASE
        WHEN prior_month_spend IS NULL OR prior_month_spend = 0 THEN NULL
        WHEN (monthly_spend - prior_month_spend) / prior_month_spend * 100 >= 25
            THEN 'High Growth'
        WHEN (monthly_spend - prior_month_spend) / prior_month_spend * 100 >= 5 THEN 'Growth'
        WHEN (monthly_spend - prior_month_spend) / prior_month_spend * 100 > -5 THEN 'Flat'
        WHEN (monthly_spend - prior_month_spend) / prior_month_spend * 100 > -25 THEN 'Decline'
        ELSE 'High Decline'
    END AS mom_trend_category,
    month < DATE_TRUNC('month', {as_of}) OR {as_of} = LAST_DAY({as_of}) AS is_complete_month
FROM with_prior
"""

MODELS["metric_avg_transaction_value"] = """
WITH transaction_stats AS (
    SELECT
        customer_id,
        AVG(transaction_amount) AS avg_transaction_value,
        STDDEV(transaction_amount) AS transaction_value_stddev,
        MIN(transaction_amount) AS min_transaction_value,
        MAX(transaction_amount) AS max_transaction_value,
        MEDIAN(transaction_amount) AS median_transaction_value,
        COUNT(*) AS transaction_count
    FROM stg_transactions
    WHERE status = 'approved'
    GROUP BY customer_id
)
SELECT
    t.customer_id,
    s.customer_segment,
    ROUND(t.avg_transaction_value, 2) AS avg_transaction_value,
    ROUND(t.transaction_value_stddev, 2) AS transaction_value_stddev,
    t.min_transaction_value,
    t.max_transaction_value,
    ROUND(t.median_transaction_value, 2) AS median_transaction_value,
    t.transaction_count,
    CASE
        WHEN t.transaction_value_stddev IS NULL OR t.transaction_value_stddev < 50
            THEN 'Consistent'
        WHEN t.transaction_value_stddev < 200 THEN 'Moderate'
        ELSE 'Variable'
    END AS spending_consistency,
    {as_of} AS metric_calculated_date
FROM transaction_stats t
LEFT JOIN customer_segments s ON t.customer_id = s.customer_id
"""

MODELS["customer_360_profile"] = """
WITH declines AS (
    SELECT
        customer_id,
        SUM(CASE WHEN status = 'declined' THEN 1 ELSE 0 END) AS declined_transactions,
        COUNT(*) AS all_transactions
    FROM stg_transactions
    GROUP BY customer_id
)
SELECT
    s.customer_id,
    s.customer_key,
    c.first_name || ' ' || c.last_name AS full_name,
    c.first_name,
    c.last_name,
    c.email,
    c.age,
    c.state,
    c.city,
    c.employment_status,
    c.card_type,
    c.credit_limit,
    c.account_open_date,
    DATEDIFF('day', c.account_open_date, {as_of}) AS account_age_days,
    s.customer_segment,
    s.segment_assigned_date,
    s.tenure_months,
    l.lifetime_value,
    l.total_transactions,
    l.customer_age_days,
    l.avg_spend_per_day,
    a.avg_transaction_value,
    a.transaction_value_stddev,
    a.min_transaction_value,
    a.max_transaction_value,
    a.median_transaction_value,
    a.spending_consistency,
    s.spend_last_90_days,
    s.spend_prior_90_days,
    s.spend_change_pct,
    s.avg_monthly_spend,
    s.first_transaction_date,
    s.last_transaction_date,
    DATEDIFF('day', s.last_transaction_date, {as_of}) AS days_since_last_transaction,
    CASE
        WHEN DATEDIFF('day', s.last_transaction_date, {as_of}) <= 30 THEN 'Active (30 days)'
        WHEN DATEDIFF('day', s.last_transaction_date, {as_of}) <= 60 THEN 'Recent (60 days)'
        WHEN DATEDIFF('day', s.last_transaction_date, {as_of}) <= 90 THEN 'At Risk (90 days)'
        ELSE 'Inactive (90+ days)'
    END AS recency_status,
    s.travel_spend_pct,
    s.necessities_spend_pct,
    CASE
        WHEN s.travel_spend_pct >= 25 THEN 'Travel-Focused'
        WHEN s.necessities_spend_pct >= 60 THEN 'Necessity-Focused'
        ELSE 'Balanced'
    END AS spending_profile,
    ROUND(s.avg_monthly_spend / NULLIF(c.credit_limit, 0) * 100, 2) AS credit_utilization_pct,
    COALESCE(d.declined_transactions, 0) AS declined_transactions,
    ROUND(COALESCE(d.declined_transactions, 0) * 100.0 / NULLIF(d.all_transactions, 0), 2)
        AS decline_rate_pct,
    s.customer_segment = 'Declining' AS eligible_for_retention_campaign,
    s.customer_segment = 'New & Growing' AS eligible_for_onboarding_campaign,
    s.customer_segment = 'High-Value Travelers' AS eligible_for_premium_campaign,
    CAST(NULL AS DOUBLE) AS churn_risk_score,
    CAST(NULL AS VARCHAR) AS churn_risk_category,
    {as_of} AS profile_updated_date
FROM customer_segments s
LEFT JOIN stg_customers c ON s.customer_id = c.customer_id
LEFT JOIN metric_customer_ltv l ON s.customer_id = l.customer_id
LEFT JOIN metric_avg_transaction_value a ON s.customer_id = a.customer_id
LEFT JOIN declines d ON s.customer_id = d.customer_id
"""


def render(sql: str, *, lake: Path, as_of: date) -> str:
    """What dbt's compile step does: substitute the lake path and the as-of date literal."""
    lake_literal = str(lake.resolve()).replace("'", "''")
    return sql.format(lake=lake_literal, as_of=f"DATE '{as_of.isoformat()}'")


def latest_date(con: duckdb.DuckDBPyConnection, lake: Path) -> date:
    path = str(lake.resolve()).replace("'", "''")
    sql = f"SELECT MAX(transaction_date) FROM read_parquet('{path}/transactions/*/*.parquet')"
    row = con.sql(sql).fetchall()
    return row[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file to build into")
    parser.add_argument("--as-of", type=date.fromisoformat)
    parser.add_argument("--stats", type=Path)
    parser.add_argument("--staging", choices=["view", "table"], default="view",
                        help="materialisation of the stg_ models (default view, as in dbt)")
    args = parser.parse_args()
    lake = args.data_dir / "lake"
    stages: dict[str, float] = {}
    rows: dict[str, int] = {}
    con = duckdb.connect(str(args.db))
    try:
        start = time.perf_counter()
        as_of = args.as_of or latest_date(con, lake)
        stages["as_of"] = round(time.perf_counter() - start, 4)
        for name, sql in MODELS.items():  # dbt run: models in dependency order
            start = time.perf_counter()
            kind = args.staging.upper() if name.startswith("stg_") else "TABLE"
            con.execute(f"CREATE OR REPLACE {kind} {name} AS "
                        f"{render(sql, lake=lake, as_of=as_of)}")
            stages[name] = round(time.perf_counter() - start, 4)
            if kind == "TABLE":
                rows[name] = con.sql(f"SELECT COUNT(*) FROM {name}").fetchall()[0][0]
    finally:
        con.close()
    stats = {"as_of": as_of.isoformat(), "staging": args.staging, "stages": stages,
             "rows": rows}
    if args.stats:
        args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
