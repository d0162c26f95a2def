WITH txn AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    merchant_category,
    CASE WHEN status = 'approved' THEN 1 ELSE 0 END AS is_approved
  FROM transactions
  WHERE
    transaction_date <= CAST(:as_of AS DATE)
), per_customer AS (
  SELECT
    customer_id,
    SUM(is_approved) AS total_transactions,
    SUM(CASE WHEN is_approved = 1 THEN transaction_amount END) AS lifetime_value,
    MIN(CASE WHEN is_approved = 1 THEN transaction_date END) AS first_transaction_date,
    MAX(CASE WHEN is_approved = 1 THEN transaction_date END) AS last_transaction_date,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST(:last90_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST(:prior90_start AS DATE)
        AND transaction_date <= CAST(:prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_prior_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST(:last90_start AS DATE)
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS travel_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST(:last90_start AS DATE)
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS necessities_spend_last_90_days,
    AVG(CASE WHEN is_approved = 1 THEN transaction_amount END) AS avg_amount,
    STDDEV_SAMP(CASE WHEN is_approved = 1 THEN transaction_amount END) AS stddev_amount,
    MIN(CASE WHEN is_approved = 1 THEN transaction_amount END) AS min_transaction_value,
    MAX(CASE WHEN is_approved = 1 THEN transaction_amount END) AS max_transaction_value,
    MEDIAN(CASE WHEN is_approved = 1 THEN transaction_amount END) AS median_amount,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST(:period_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS period_transactions,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST(:period_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS period_spend,
    COUNT(*) - SUM(is_approved) AS declined_transactions,
    COUNT(*) AS all_transactions
  FROM txn
  GROUP BY
    customer_id
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
  CAST(min_transaction_value AS DECIMAL(18, 2)) AS min_transaction_value,
  CAST(max_transaction_value AS DECIMAL(18, 2)) AS max_transaction_value,
  CAST(ROUND(median_amount, 2) AS DECIMAL(18, 2)) AS median_transaction_value,
  CAST(period_transactions AS BIGINT) AS period_transactions,
  CAST(period_spend AS DECIMAL(18, 2)) AS period_spend,
  CAST(declined_transactions AS BIGINT) AS declined_transactions,
  CAST(all_transactions AS BIGINT) AS all_transactions
FROM per_customer
WHERE
  total_transactions > 0
