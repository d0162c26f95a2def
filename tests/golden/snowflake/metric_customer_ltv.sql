WITH ages AS (
  SELECT
    customer_segments.*,
    DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS age_days,
    CAST(lifetime_value AS DECIMAL(38, 2)) * 200 + DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS per_day_m,
    2 * NULLIF(DATEDIFF(DAY, first_transaction_date, last_transaction_date), 0) AS per_day_k
  FROM customer_segments
)
SELECT
  customer_id,
  customer_segment,
  lifetime_value,
  total_transactions,
  first_transaction_date,
  last_transaction_date,
  CAST(age_days AS INT) AS customer_age_days,
  CAST(CAST(ROUND((
    per_day_m - per_day_m % per_day_k
  ) / per_day_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_spend_per_day,
  as_of_date AS metric_calculated_date,
  as_of_date
FROM ages
