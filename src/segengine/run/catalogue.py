"""The table and column catalogue (dbt-docs style, design §13): declared once, applied to the
warehouse as COMMENT ON TABLE/COLUMN by `apply_comments` (called by publish), printed by
`segengine docs` (present/docs.py).

A column's text is "what [unit]. formula (§section)". A column documented under its bare name
means the same in every table; `(table, column)` entries override that for one table.
"""

from __future__ import annotations

import duckdb

TABLES: dict[str, str] = {
    "customer_segments": "One row per customer: behavioural segment on the rolling 90-day "
                         "window with the rule that fired (§5.1)",
    "customer_segments_history": "customer_segments rows of every as-of date run; a rerun of "
                                 "a date replaces that date (§5.8)",
    "metric_customer_ltv": "One row per customer: lifetime value and spend per day (§5.2)",
    "metric_mom_spend_change": "One row per customer and calendar month, dense from the first "
                               "approved month: month-over-month spend change (§5.3)",
    "metric_avg_transaction_value": "One row per customer: transaction value statistics and "
                                    "spending consistency (§5.4)",
    "customer_rfm": "One row per customer: RFM values, scores 1..k and named segment (§5.5)",
    "rfm_segment_summary": "One row per RFM segment: size, revenue share and averages (§5.5)",
    "customer_clusters": "One row per customer: KMeans cluster on log RFM features (§5.6)",
    "cluster_profiles": "One row per KMeans cluster: size, averages and fit quality (§5.6)",
    "churn_model_report": "One row per churn-model metric: training and held-out quality (§7)",
    "churn_model_curves": "Held-out ROC and calibration points of the churn model, one row per "
                          "point (§7, §13)",
    "customer_360_profile": "One row per customer: everything denormalised for dashboards and "
                            "campaigns (§5.7)",
    "dim_customer": "One row per customer: the customer dimension keyed by customer_key (§5.7)",
    "runs": "The run published for each as-of date: id, date, commit time, manifest; the "
            "row with a version is the run this warehouse shows (§10)",
}
"""What every warehouse table holds, and its grain."""

_MONEY_90 = "approved spend in as_of-90 <= date <= as_of"
_PRIOR_90 = "approved spend in as_of-180 <= date <= as_of-91"

COLUMNS: dict[str, str] = {
    # keys and dates
    "customer_id": "Customer identifier from the source, always text (§3)",
    "customer_key": "Surrogate key [hex]. MD5(customer_id) (§5.7)",
    "as_of_date": "As-of date of the run that produced the row (§4)",
    "segment_assigned_date": "Date the segment was assigned [date]. = as_of (§5.1)",
    "metric_calculated_date": "Date the metric was calculated [date]. = as_of (§5.2)",
    "profile_updated_date": "Date the profile was built [date]. = as_of (§5.7)",
    "first_transaction_date": "First approved transaction on or before as_of [date] (§5.1)",
    "last_transaction_date": "Last approved transaction on or before as_of [date] (§5.1)",
    "segmented_at": "Run timestamp [UTC]. when the RFM scores were computed (§5.5)",
    # behavioural segment (§5.1)
    "customer_segment": "Behavioural segment, first matching rule of 5 (§5.1)",
    "segment_reason": "The rule and the values that fired it (§5.1)",
    "total_transactions": "Approved transactions on or before as_of [count] (§5.1)",
    "lifetime_value": "Approved spend on or before as_of [$, total per customer]. "
                      "sum(transaction_amount) (§5.1)",
    "avg_transaction_value": "Average approved transaction [$, per transaction]. "
                             "lifetime_value / total_transactions, half-up 2 dp (§5.4)",
    "tenure_months": "Complete months from account_open_date (else first transaction) to "
                     "as_of [months] (§5.1)",
    "spend_last_90_days": f"Spend in the last 90 days [$, total]. {_MONEY_90} (§4)",
    "spend_prior_90_days": f"Spend in the prior 90 days [$, total]. {_PRIOR_90} (§4)",
    "spend_change_pct": "Change of 90-day spend [%]. (last - prior) / prior x 100; NULL when "
                        "prior = 0 (§5.1)",
    "avg_monthly_spend": "Average monthly spend over the last 90 days [$, per month]. "
                         "spend_last_90_days / 3 (§5.1)",
    "travel_spend_pct": "Travel share of last-90-day spend [%]. Travel+Airlines+Hotels / "
                        "spend_last_90_days x 100; NULL when that spend is 0 (§5.1)",
    "necessities_spend_pct": "Necessities share of last-90-day spend [%]. Grocery+Gas+Utilities "
                             "/ spend_last_90_days x 100; NULL when that spend is 0 (§5.1)",
    # LTV (§5.2)
    "customer_age_days": "Days between first and last approved transaction [days] (§5.2)",
    "avg_spend_per_day": "Lifetime spend per active day [$, per day]. lifetime_value / "
                         "customer_age_days; NULL when 0 days (§5.2)",
    # MoM (§5.3)
    "month": "Calendar month [first day of the month] (§5.3)",
    "month_number": "Month index per customer [1 = first approved month] (§5.3)",
    "monthly_spend": "Approved spend in the month [$, total; 0 for an empty month] (§5.3)",
    "transaction_count": "Approved transactions [count] (§5.3, §5.4)",
    "prior_month_spend": "Approved spend in the previous calendar month [$, total]; NULL for "
                         "the first month (§5.3)",
    "mom_change_pct": "Month-over-month change [%]. (spend - prior) / prior x 100; NULL when "
                      "prior is NULL or 0 (§5.3)",
    "mom_trend_category": "Trend band of mom_change_pct: >= 25 High Growth, >= 5 Growth, > -5 "
                          "Flat, > -25 Decline, else High Decline; NULL when the pct is (§5.3)",
    "is_complete_month": "False for as_of's month unless as_of is its last day (§5.3)",
    # ATV (§5.4)
    "transaction_value_stddev": "Sample standard deviation of approved amounts [$]; NULL for "
                                "one transaction (§5.4)",
    "min_transaction_value": "Smallest approved transaction [$] (§5.4)",
    "max_transaction_value": "Largest approved transaction [$] (§5.4)",
    "median_transaction_value": "Median approved transaction [$, interpolated] (§5.4)",
    "spending_consistency": "stddev NULL or < 50 Consistent, < 200 Moderate, else Variable; "
                            "decided on the exact stddev (§5.4)",
    # RFM (§5.5)
    "recency": "Days from the last approved transaction to as_of [days] (§5.5)",
    "frequency": "Approved transactions in the analysis period [count] (§5.5)",
    "monetary": "Approved spend in the analysis period [$, total] (§5.5)",
    "r_score": "Recency score [1..k, higher = more recent] (§5.5)",
    "f_score": "Frequency score [1..k, higher = more frequent] (§5.5)",
    "m_score": "Monetary score [1..k, higher = more spend] (§5.5)",
    "rfm_score": "Weighted RFM score [1..k]. (wR R + wF F + wM M) / (wR + wF + wM) (§5.5)",
    "rfm_code": "Scores as digits R F M, e.g. 545 (§5.5)",
    "segment": "RFM segment name, first matching rule then the R x F grid (§5.5)",
    "rfm_segment": "RFM segment name from customer_rfm (§5.5)",
    "recommendation": "Recommended action for the RFM segment (§5.5)",
    "customers": "Customers in the group [count]",
    "pct_customers": "Share of all customers in the group [%]. customers / total x 100 (§5.5)",
    "total_monetary": "Monetary value of the group [$, total] (§5.5)",
    "pct_revenue": "Share of all monetary value in the group [%] (§5.5)",
    "avg_monetary": "Monetary value per customer in the group [$, average] (§5.5)",
    "avg_recency": "Recency per customer in the group [days, average] (§5.5)",
    "avg_frequency": "Frequency per customer in the group [count, average] (§5.5)",
    # clusters (§5.6)
    "cluster_id": "KMeans cluster number [0..k-1] (§5.6)",
    "cluster_name": "Human-readable cluster name from its centroid (§5.6)",
    "distance_to_centroid": "Distance to the cluster centre in standardised log-RFM space (§5.6)",
    "silhouette": "Silhouette score of the clustering on a fixed-seed sample [-1..1] (§5.6)",
    "k": "Number of clusters [count] (§5.6)",
    "inertia": "KMeans inertia: sum of squared distances to the centres (§5.6)",
    # churn (§7)
    "metric": "Churn model metric name (auc, precision, recall, base_rate, ...) (§7)",
    "value": "Metric value [ratio 0..1 for rates, count for customers] (§7)",
    "detail": "What the metric measures or why the model was not trained (§7)",
    "churn_risk_score": "Churn risk [0..100]. model probability x 100, 2 dp; NULL when not "
                        "scored (§7)",
    "churn_risk_category": "probability >= 0.70 High Risk, >= 0.40 Medium Risk, else Low Risk; "
                           "Not Scored when NULL (§5.7)",
    # 360 (§5.7) and customers (§3)
    "first_name": "First name from the customers table (§3)",
    "last_name": "Last name from the customers table (§3)",
    "full_name": "first_name || ' ' || last_name (§5.7)",
    "email": "E-mail address from the customers table (§3)",
    "age": "Age [years] from the customers table (§3)",
    "state": "State code from the customers table (§3)",
    "city": "City from the customers table (§3)",
    "employment_status": "Employment status from the customers table (§3)",
    "card_type": "Card type, Standard or Premium (§3)",
    "credit_limit": "Credit limit [$] (§3)",
    "account_open_date": "Account open date [date] (§3)",
    "account_age_days": "Days from account_open_date to as_of [days] (§5.7)",
    "days_since_last_transaction": "as_of - last_transaction_date [days] (§5.7)",
    "recency_status": "<= 30 days Active, <= 60 Recent, <= 90 At Risk, else Inactive (§5.7)",
    "spending_profile": "travel >= 25% Travel-Focused, necessities >= 60% Necessity-Focused, "
                        "else Balanced (§5.7)",
    "credit_utilization_pct": "Credit used per month [%]. (spend_last_90_days / 3) / "
                              "credit_limit x 100 (§5.7)",
    "declined_transactions": "Declined transactions on or before as_of [count] (§5.7)",
    "decline_rate_pct": "Declined share of all transactions on or before as_of [%] (§5.7)",
    "ml_segment_id": "External segment id from --segments-file; NULL unless attached (§5.6)",
    "ml_segment_name": "External segment name from --segments-file; NULL unless attached (§5.6)",
    "eligible_for_retention_campaign": "Declining, or churn probability >= 0.70 (§5.7)",
    "eligible_for_onboarding_campaign": "Segment New & Growing (§5.7)",
    "eligible_for_premium_campaign": "Segment High-Value Travelers (§5.7)",
    "lifecycle_stage": "One reconciled stage: New, Active, Cooling, Lapsing or Lost (§5.9)",
    "is_current": "True for the current version of the customer row (§5.7)",
    # runs (§10)
    "run_id": "Run identifier: <as_of>_<start timestamp UTC> (§10)",
    "as_of": "As-of date of the run (§4)",
    "finished_at": "When the run's warehouse transaction committed [UTC] (§10)",
    "manifest": "The run manifest (versions, input fingerprint, stages, quality, outputs) (§10)",
    "version": "Warehouse version file of the run this warehouse shows (NULL for the runs of "
               "other dates): warehouse/<version>.duckdb (§10)",
    "data_dir": "Data directory the views were built for; readers re-point them when it moved "
                "(§10)",
    "views": "Each view's Parquet files, relative to the data directory (§10)",
}
"""Columns that mean the same in every table they appear in."""

TABLE_COLUMNS: dict[tuple[str, str], str] = {
    ("metric_avg_transaction_value", "avg_transaction_value"):
        "Average approved transaction [$, per transaction]. sum / count, half-up 2 dp (§5.4)",
    ("metric_mom_spend_change", "transaction_count"):
        "Approved transactions in the month [count] (§5.3)",
    ("metric_avg_transaction_value", "transaction_count"):
        "Approved transactions on or before as_of [count] (§5.4)",
    ("cluster_profiles", "pct_revenue"):
        "Share of all monetary value in the cluster [%] (§5.6)",
    ("cluster_profiles", "customers"): "Customers in the cluster [count] (§5.6)",
    ("rfm_segment_summary", "customers"): "Customers in the RFM segment [count] (§5.5)",
    ("churn_model_curves", "curve"): "roc or calibration (§7)",
    ("churn_model_curves", "x"): "roc: false positive rate; calibration: mean predicted "
                                 "probability of the bin [0..1] (§7)",
    ("churn_model_curves", "y"): "roc: true positive rate; calibration: observed churn rate "
                                 "of the bin [0..1] (§7)",
    ("churn_model_curves", "customers"): "Held-out customers in the calibration bin [count] "
                                         "(§7)",
}
"""Columns whose meaning depends on the table."""


def column_comment(table: str, column: str) -> str | None:
    """The catalogue text of one column, or None when it is not documented."""
    return TABLE_COLUMNS.get((table, column), COLUMNS.get(column))


def _literal(text: str) -> str:
    # COMMENT ON takes no bound parameters; the texts are this module's constants
    return "'" + text.replace("'", "''") + "'"


def _relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Main-schema tables and views of the connection: name -> TABLE or VIEW."""
    rows = con.sql("SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = 'main' "
                   "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() "
                   "WHERE schema_name = 'main' AND NOT internal").fetchall()
    return {str(name): str(kind) for name, kind in rows}


def apply_comments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """COMMENT ON every catalogued table/view and column present on the connection (inside the
    caller's transaction, if one is open); returns `table.column` names left undocumented."""
    missing = []
    relations = _relations(con)
    for name, kind in sorted(relations.items()):
        if name not in TABLES:  # tables users create in the warehouse are left alone
            continue
        con.execute(f'COMMENT ON {kind} "{name}" IS {_literal(TABLES[name])}')
        columns = con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = "
                              "'main' AND table_name = ? ORDER BY column_index",
                              [name]).fetchall()
        for (column,) in columns:
            text = column_comment(name, column)
            if text is None:
                missing.append(f"{name}.{column}")
                continue
            con.execute(f'COMMENT ON COLUMN "{name}"."{column}" IS {_literal(text)}')
    return missing
