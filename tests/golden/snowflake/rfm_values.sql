SELECT
  customer_id,
  CAST(DATEDIFF(DAY, last_transaction_date, CAST($as_of AS DATE)) AS BIGINT) AS recency,
  period_transactions AS frequency,
  period_spend AS monetary
FROM customer_activity
ORDER BY
  customer_id
