WITH approved AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    CASE
      WHEN transaction_date > CAST(:as_of AS DATE) - CAST(:analysis_period_days AS INT)
      THEN 1
      ELSE 0
    END AS in_period
  FROM transactions
  WHERE
    status = 'approved' AND transaction_date <= CAST(:as_of AS DATE)
)
SELECT
  customer_id,
  CAST(DATEDIFF(DAY, MAX(transaction_date), CAST(:as_of AS DATE)) AS BIGINT) AS recency,
  CAST(SUM(in_period) AS BIGINT) AS frequency,
  CAST(SUM(CASE WHEN in_period = 1 THEN transaction_amount ELSE 0 END) AS DECIMAL(18, 2)) AS monetary
FROM approved
GROUP BY
  customer_id
ORDER BY
  customer_id
