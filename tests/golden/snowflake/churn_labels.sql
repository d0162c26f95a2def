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
    WHEN recent_transactions = 0
    THEN TRUE
    WHEN spend_outcome_window * 10 < spend_baseline_window * 3
    THEN TRUE
    ELSE FALSE
  END AS churned
FROM customer_activity
WHERE
  s_total_transactions > 0
ORDER BY
  customer_id
