SELECT
  customer_id,
  customer_segment,
  lifetime_value,
  total_transactions,
  first_transaction_date,
  last_transaction_date,
  CAST(DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS INT) AS customer_age_days,
  CASE
    WHEN last_transaction_date > first_transaction_date
    THEN CAST(ROUND(lifetime_value / DATEDIFF(DAY, first_transaction_date, last_transaction_date), 2) AS DECIMAL(18, 2))
  END AS avg_spend_per_day,
  as_of_date AS metric_calculated_date,
  as_of_date
FROM customer_segments
