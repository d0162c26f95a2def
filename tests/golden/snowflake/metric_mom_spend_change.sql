WITH monthly AS (
  SELECT
    customer_id,
    DATE_TRUNC('MONTH', transaction_date) AS month,
    SUM(transaction_amount) AS monthly_spend,
    COUNT(*) AS transaction_count
  FROM transactions
  WHERE
    status = 'approved' AND transaction_date <= CAST($as_of AS DATE)
  GROUP BY
    customer_id,
    DATE_TRUNC('MONTH', transaction_date)
), dense AS (
  SELECT
    a.customer_id,
    CAST(m.month AS DATE) AS month,
    CAST(COALESCE(s.monthly_spend, 0) AS DECIMAL(18, 2)) AS monthly_spend,
    CAST(COALESCE(s.transaction_count, 0) AS BIGINT) AS transaction_count
  FROM customer_activity AS a
  JOIN calendar_months AS m
    ON m.month >= DATE_TRUNC('MONTH', a.first_transaction_date)
    AND m.month <= CAST($as_of_month AS DATE)
  LEFT JOIN monthly AS s
    ON s.customer_id = a.customer_id AND s.month = m.month
), with_prior AS (
  SELECT
    dense.*,
    ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS month_number,
    LAG(monthly_spend) OVER (PARTITION BY customer_id ORDER BY month) AS prior_month_spend
  FROM dense
), with_ratio AS (
  SELECT
    with_prior.*,
    ABS(CAST(monthly_spend - prior_month_spend AS DECIMAL(38, 2))) * 20000 + prior_month_spend AS change_m,
    2 * NULLIF(prior_month_spend, 0) AS change_k
  FROM with_prior
)
SELECT
  customer_id,
  month,
  CAST(month_number AS INT) AS month_number,
  monthly_spend,
  transaction_count,
  prior_month_spend,
  CAST(SIGN(monthly_spend - prior_month_spend) * CAST(ROUND((
    change_m - change_m % change_k
  ) / change_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS mom_change_pct,
  CASE
    WHEN prior_month_spend IS NULL OR prior_month_spend = 0
    THEN NULL
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 >= 25 * prior_month_spend
    THEN 'High Growth'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 >= 5 * prior_month_spend
    THEN 'Growth'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 > -5 * prior_month_spend
    THEN 'Flat'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 > -25 * prior_month_spend
    THEN 'Decline'
    ELSE 'High Decline'
  END AS mom_trend_category,
  CASE
    WHEN month < CAST($as_of_month AS DATE)
    OR CAST($as_of AS DATE) = LAST_DAY(CAST($as_of AS DATE))
    THEN TRUE
    ELSE FALSE
  END AS is_complete_month,
  CAST($as_of AS DATE) AS as_of_date
FROM with_ratio
