WITH txn AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    merchant_category,
    CASE WHEN status = 'approved' THEN 1 ELSE 0 END AS is_approved,
    CASE WHEN transaction_date <= CAST(:feature_date AS DATE) THEN 1 ELSE 0 END AS by_s
  FROM transactions
  WHERE
    transaction_date <= CAST(:as_of AS DATE)
), flagged AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    merchant_category,
    by_s,
    is_approved * by_s AS approved_by_s,
    is_approved * (
      1 - by_s
    ) AS approved_after_s,
    CASE
      WHEN transaction_date >= CAST(:s_last90_start AS DATE)
      THEN is_approved * by_s
      ELSE 0
    END AS approved_last_90_at_s
  FROM txn
), per_customer AS (
  SELECT
    customer_id,
    SUM(approved_by_s) AS total_transactions,
    SUM(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS lifetime_value,
    MIN(CASE WHEN approved_by_s = 1 THEN transaction_date END) AS first_transaction_date,
    MAX(CASE WHEN approved_by_s = 1 THEN transaction_date END) AS last_transaction_date,
    SUM(CASE WHEN approved_last_90_at_s = 1 THEN transaction_amount ELSE 0 END) AS spend_last_90_days,
    SUM(
      CASE
        WHEN approved_by_s = 1
        AND transaction_date >= CAST(:s_prior90_start AS DATE)
        AND transaction_date <= CAST(:s_prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_prior_90_days,
    SUM(
      CASE
        WHEN approved_last_90_at_s = 1
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS travel_spend_last_90_days,
    SUM(
      CASE
        WHEN approved_last_90_at_s = 1
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS necessities_spend_last_90_days,
    AVG(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS avg_amount,
    STDDEV_SAMP(CASE WHEN approved_by_s = 1 THEN transaction_amount END) AS stddev_amount,
    SUM(by_s) - SUM(approved_by_s) AS declined_transactions,
    SUM(by_s) AS all_transactions,
    SUM(
      CASE
        WHEN approved_after_s = 1 AND transaction_date >= CAST(:recent_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS recent_transactions,
    SUM(CASE WHEN approved_after_s = 1 THEN transaction_amount ELSE 0 END) AS spend_outcome_window,
    SUM(
      CASE
        WHEN approved_by_s = 1 AND transaction_date >= CAST(:baseline_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_baseline_window
  FROM flagged
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
  CAST(declined_transactions AS BIGINT) AS declined_transactions,
  CAST(all_transactions AS BIGINT) AS all_transactions,
  CAST(recent_transactions AS BIGINT) AS recent_transactions,
  CAST(spend_outcome_window AS DECIMAL(18, 2)) AS spend_outcome_window,
  CAST(spend_baseline_window AS DECIMAL(18, 2)) AS spend_baseline_window,
  CASE
    WHEN recent_transactions = 0
    THEN TRUE
    WHEN spend_outcome_window * 10 < spend_baseline_window * 3
    THEN TRUE
    ELSE FALSE
  END AS churned
FROM per_customer
WHERE
  total_transactions > 0
ORDER BY
  customer_id
