-- metric_mom_spend_change: month-over-month spend change hero metric (design §5.3).
-- Grain: customer x calendar month, dense from the customer's first approved month to the month
--   of $as_of (months without spend have monthly_spend 0).
-- Parameters: $as_of (DATE), $as_of_month (DATE, first day of as_of's month). Inputs: transactions, customer_activity, calendar_months (one row
--   per first-of-month date covering the lake up to as_of, supplied by the pipeline).
-- Columns: customer_id, month (first day), month_number (1, 2, ... per customer), monthly_spend
--   ($, approved), transaction_count, prior_month_spend ($, previous calendar month; NULL for the
--   first), mom_change_pct (%, NULL when prior is NULL or 0), mom_trend_category (>= 25 High
--   Growth, >= 5 Growth, > -5 Flat, > -25 Decline, else High Decline; tested exactly on cents;
--   NULL when the pct is NULL), is_complete_month (false for as_of's month unless as_of is its
--   last day), as_of_date. mom_change_pct is exact decimal half-up to 2 places (§5.4; the
--   MOD form of customer_segments, so DuckDB and Snowflake give the same cents).
WITH monthly AS (
    SELECT
        customer_id,
        DATE_TRUNC('month', transaction_date) AS month,
        SUM(transaction_amount) AS monthly_spend,
        COUNT(*) AS transaction_count
    FROM transactions
    WHERE status = 'approved'
      AND transaction_date <= CAST($as_of AS DATE)
    GROUP BY customer_id, DATE_TRUNC('month', transaction_date)
),
dense AS (
    SELECT
        a.customer_id,
        CAST(m.month AS DATE) AS month,
        CAST(COALESCE(s.monthly_spend, 0) AS DECIMAL(18, 2)) AS monthly_spend,
        CAST(COALESCE(s.transaction_count, 0) AS BIGINT) AS transaction_count
    FROM customer_activity AS a
    JOIN calendar_months AS m
      ON m.month >= DATE_TRUNC('month', a.first_transaction_date)
     AND m.month <= CAST($as_of_month AS DATE)
    LEFT JOIN monthly AS s
      ON s.customer_id = a.customer_id AND s.month = m.month
),
with_prior AS (
    SELECT
        dense.*,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS month_number,
        LAG(monthly_spend) OVER (PARTITION BY customer_id ORDER BY month) AS prior_month_spend
    FROM dense
),
with_ratio AS (
    SELECT
        with_prior.*,
        ABS(CAST(monthly_spend - prior_month_spend AS DECIMAL(38, 2))) * 20000
            + prior_month_spend AS change_m,
        2 * NULLIF(prior_month_spend, 0) AS change_k
    FROM with_prior
)
SELECT
    customer_id,
    month,
    CAST(month_number AS INTEGER) AS month_number,
    monthly_spend,
    transaction_count,
    prior_month_spend,
    CAST(SIGN(monthly_spend - prior_month_spend)
         * CAST(ROUND((change_m - MOD(change_m, change_k)) / change_k) AS DECIMAL(38, 0)) * 0.01
         AS DECIMAL(18, 2)) AS mom_change_pct,
    CASE WHEN prior_month_spend IS NULL OR prior_month_spend = 0 THEN NULL
         WHEN (monthly_spend - prior_month_spend) * 100 >= 25 * prior_month_spend
             THEN 'High Growth'
         WHEN (monthly_spend - prior_month_spend) * 100 >= 5 * prior_month_spend THEN 'Growth'
         WHEN (monthly_spend - prior_month_spend) * 100 > -5 * prior_month_spend THEN 'Flat'
         WHEN (monthly_spend - prior_month_spend) * 100 > -25 * prior_month_spend THEN 'Decline'
         ELSE 'High Decline' END AS mom_trend_category,
    CASE WHEN month < CAST($as_of_month AS DATE)
           OR CAST($as_of AS DATE) = LAST_DAY(CAST($as_of AS DATE))
         THEN TRUE ELSE FALSE END AS is_complete_month,
    CAST($as_of AS DATE) AS as_of_date
FROM with_ratio
