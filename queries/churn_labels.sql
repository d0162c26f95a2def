-- churn_labels: churn training rows: activity as of S = $as_of - 90 days and the label by $as_of.
-- Grain: one row per customer with >= 1 approved transaction on or before S (design §7).
-- Parameters: none. Reads customer_activity, whose single pass over the lake also computes the
--   s_* columns as of S and the label windows (its parameters $feature_date, $recent_start,
--   $baseline_start, $s_last90_start, $s_prior90_start, $s_prior90_end come from
--   segengine.churn.label_params).
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
SELECT
    customer_id,
    s_total_transactions AS total_transactions,
    s_lifetime_value AS lifetime_value,
    s_first_transaction_date AS first_transaction_date,
    s_last_transaction_date AS last_transaction_date,
    s_spend_last_90_days AS spend_last_90_days,
    s_spend_prior_90_days AS spend_prior_90_days,
    s_travel_spend_last_90_days AS travel_spend_last_90_days,
    s_necessities_spend_last_90_days AS necessities_spend_last_90_days,
    s_avg_transaction_value AS avg_transaction_value,
    s_transaction_value_stddev AS transaction_value_stddev,
    s_declined_transactions AS declined_transactions,
    s_all_transactions AS all_transactions,
    recent_transactions,
    spend_outcome_window,
    spend_baseline_window,
    CASE
        WHEN recent_transactions = 0 THEN TRUE
        WHEN spend_outcome_window * 10 < spend_baseline_window * 3 THEN TRUE
        ELSE FALSE
    END AS churned
FROM customer_activity
WHERE s_total_transactions > 0
ORDER BY customer_id
