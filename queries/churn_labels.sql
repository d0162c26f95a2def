-- churn_labels: churn training rows: activity as of S = $as_of - 90 days and the label by $as_of.
-- Grain: one row per customer with >= 1 approved transaction on or before S (design §7).
-- Parameters (DATEs, computed once by segengine.churn.label_params, so no per-row date arithmetic):
--   $as_of (label date); $feature_date (S = as_of - 90); $recent_start (as_of - 59);
--   $baseline_start (as_of - 179 = S - 89); $s_last90_start (S - 90);
--   $s_prior90_start (S - 180); $s_prior90_end (S - 91).
-- One pass over transactions <= as_of gives both halves, so training needs no second
-- customer_activity run.
-- Activity columns as of S (the customer_activity definitions with as_of := S, data <= S only):
--   total_transactions, lifetime_value, first/last_transaction_date (approved, all history <= S);
--   spend_last_90_days (S-90 <= date <= S), spend_prior_90_days (S-180 <= date <= S-91);
--   travel_spend_last_90_days, necessities_spend_last_90_days (last window);
--   avg_transaction_value, transaction_value_stddev (sample; NULL for one transaction);
--   declined_transactions, all_transactions (approved + declined, <= S).
--   Money is DECIMAL(18, 2) currency units, counts BIGINT.
-- Label windows (approved transactions only, dates inclusive):
--   recent window   as_of - 59 <= date <= as_of        i.e. (as_of - 60, as_of]
--   outcome window  as_of - 89 <= date <= as_of        i.e. (S, as_of]
--   baseline window as_of - 179 <= date <= as_of - 90  i.e. [S - 89, S], the 90 days ending at S
-- Label columns:
--   recent_transactions      approved transactions in the recent window, BIGINT
--   spend_outcome_window     approved spend in the outcome window, DECIMAL(18, 2)
--   spend_baseline_window    approved spend in the baseline window, DECIMAL(18, 2)
--   churned                  BOOLEAN: recent_transactions = 0, or spend_outcome_window is below
--                            30% of spend_baseline_window (exact: outcome * 10 < baseline * 3)
WITH txn AS (
    SELECT
        customer_id,
        transaction_date,
        transaction_amount,
        merchant_category,
        CASE WHEN status = 'approved' THEN 1 ELSE 0 END AS is_approved,
        CASE WHEN transaction_date <= CAST($feature_date AS DATE) THEN 1 ELSE 0 END AS by_s
    FROM transactions
    WHERE transaction_date <= CAST($as_of AS DATE)
),
flagged AS (
    SELECT
        customer_id,
        transaction_date,
        transaction_amount,
        merchant_category,
        by_s,
        is_approved * by_s AS approved_by_s,
        is_approved * (1 - by_s) AS approved_after_s,
        CASE WHEN transaction_date >= CAST($s_last90_start AS DATE)
             THEN is_approved * by_s ELSE 0 END AS approved_last_90_at_s
    FROM txn
),
per_customer AS (
    SELECT
        customer_id,
        SUM(approved_by_s) AS total_transactions,
        SUM(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS lifetime_value,
        MIN(CASE WHEN approved_by_s = 1 THEN transaction_date END) AS first_transaction_date,
        MAX(CASE WHEN approved_by_s = 1 THEN transaction_date END) AS last_transaction_date,
        SUM(CASE WHEN approved_last_90_at_s = 1
                 THEN transaction_amount ELSE 0 END) AS spend_last_90_days,
        SUM(CASE WHEN approved_by_s = 1
                  AND transaction_date >= CAST($s_prior90_start AS DATE)
                  AND transaction_date <= CAST($s_prior90_end AS DATE)
                 THEN transaction_amount ELSE 0 END) AS spend_prior_90_days,
        SUM(CASE WHEN approved_last_90_at_s = 1
                  AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
                 THEN transaction_amount ELSE 0 END) AS travel_spend_last_90_days,
        SUM(CASE WHEN approved_last_90_at_s = 1
                  AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
                 THEN transaction_amount ELSE 0 END) AS necessities_spend_last_90_days,
        AVG(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS avg_amount,
        STDDEV_SAMP(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS stddev_amount,
        SUM(by_s) - SUM(approved_by_s) AS declined_transactions,
        SUM(by_s) AS all_transactions,
        SUM(CASE WHEN approved_after_s = 1
                  AND transaction_date >= CAST($recent_start AS DATE)
                 THEN 1 ELSE 0 END) AS recent_transactions,
        SUM(CASE WHEN approved_after_s = 1
                 THEN transaction_amount ELSE 0 END) AS spend_outcome_window,
        SUM(CASE WHEN approved_by_s = 1
                  AND transaction_date >= CAST($baseline_start AS DATE)
                 THEN transaction_amount ELSE 0 END) AS spend_baseline_window
    FROM flagged
    GROUP BY customer_id
)
SELECT
    customer_id,
    CAST(total_transactions AS BIGINT) AS total_transactions,
    CAST(lifetime_value AS DECIMAL(18, 2)) AS lifetime_value,
    first_transaction_date,
    last_transaction_date,
    CAST(spend_last_90_days AS DECIMAL(18, 2)) AS spend_last_90_days,
    CAST(spend_prior_90_days AS DECIMAL(18, 2)) AS spend_prior_90_days,
    CAST(travel_spend_last_90_days AS DECIMAL(18, 2)) AS travel_spend_last_90_days,
    CAST(necessities_spend_last_90_days AS DECIMAL(18, 2)) AS necessities_spend_last_90_days,
    CAST(ROUND(avg_amount, 2) AS DECIMAL(18, 2)) AS avg_transaction_value,
    CAST(ROUND(stddev_amount, 2) AS DECIMAL(18, 2)) AS transaction_value_stddev,
    CAST(declined_transactions AS BIGINT) AS declined_transactions,
    CAST(all_transactions AS BIGINT) AS all_transactions,
    CAST(recent_transactions AS BIGINT) AS recent_transactions,
    CAST(spend_outcome_window AS DECIMAL(18, 2)) AS spend_outcome_window,
    CAST(spend_baseline_window AS DECIMAL(18, 2)) AS spend_baseline_window,
    CASE
        WHEN recent_transactions = 0 THEN TRUE
        WHEN spend_outcome_window * 10 < spend_baseline_window * 3 THEN TRUE
        ELSE FALSE
    END AS churned
FROM per_customer
WHERE total_transactions > 0
ORDER BY customer_id
