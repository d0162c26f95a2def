WITH txn AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    merchant_category,
    CASE WHEN status = 'approved' THEN 1 ELSE 0 END AS is_approved,
    CASE WHEN transaction_date <= CAST($feature_date AS DATE) THEN 1 ELSE 0 END AS by_s
  FROM transactions
  WHERE
    transaction_date <= CAST($as_of AS DATE)
), per_customer AS (
  SELECT
    customer_id,
    SUM(is_approved) AS total_transactions,
    SUM(CASE WHEN is_approved = 1 THEN transaction_amount END) AS lifetime_value,
    MIN(CASE WHEN is_approved = 1 THEN transaction_date END) AS first_transaction_date,
    MAX(CASE WHEN is_approved = 1 THEN transaction_date END) AS last_transaction_date,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($last90_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($prior90_start AS DATE)
        AND transaction_date <= CAST($prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_prior_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($last90_start AS DATE)
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS travel_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($last90_start AS DATE)
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS necessities_spend_last_90_days,
    SUM(CASE WHEN is_approved = 1 THEN transaction_amount * transaction_amount END) AS sum_amount_sq,
    MIN(CASE WHEN is_approved = 1 THEN transaction_amount END) AS min_transaction_value,
    MAX(CASE WHEN is_approved = 1 THEN transaction_amount END) AS max_transaction_value,
    MEDIAN(CASE WHEN is_approved = 1 THEN CAST(transaction_amount AS DECIMAL(18, 3)) END) AS median_amount,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($period_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS period_transactions,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($period_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS period_spend,
    COUNT(*) - SUM(is_approved) AS declined_transactions,
    COUNT(*) AS all_transactions,
    SUM(is_approved * by_s) AS s_total_transactions,
    SUM(CASE WHEN is_approved * by_s = 1 THEN transaction_amount END) AS s_lifetime_value,
    MAX(CASE WHEN is_approved * by_s = 1 THEN transaction_date END) AS s_last_transaction_date,
    SUM(
      CASE
        WHEN is_approved * by_s = 1 AND transaction_date >= CAST($s_last90_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($s_prior90_start AS DATE)
        AND transaction_date <= CAST($s_prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_spend_prior_90_days,
    SUM(
      CASE
        WHEN is_approved * by_s = 1
        AND transaction_date >= CAST($s_last90_start AS DATE)
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_travel_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved * by_s = 1
        AND transaction_date >= CAST($s_last90_start AS DATE)
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_necessities_spend_last_90_days,
    SUM(
      CASE WHEN is_approved * by_s = 1 THEN transaction_amount * transaction_amount END
    ) AS s_sum_amount_sq,
    SUM(by_s) - SUM(is_approved * by_s) AS s_declined_transactions,
    SUM(by_s) AS s_all_transactions,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($recent_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS recent_transactions,
    SUM(CASE WHEN is_approved = 1 AND by_s = 0 THEN transaction_amount ELSE 0 END) AS spend_outcome_window,
    SUM(
      CASE
        WHEN is_approved * by_s = 1 AND transaction_date >= CAST($baseline_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_baseline_window
  FROM txn
  GROUP BY
    customer_id
), moments AS (
  SELECT
    per_customer.*,
    CAST(lifetime_value AS DECIMAL(38, 2)) * 200 + total_transactions AS avg_m,
    2 * total_transactions AS avg_k,
    CAST(total_transactions * sum_amount_sq - lifetime_value * lifetime_value AS DECIMAL(38, 4)) AS var_a,
    CAST(total_transactions * (
      total_transactions - 1
    ) AS DECIMAL(38, 0)) AS var_n,
    CAST(s_lifetime_value AS DECIMAL(38, 2)) * 200 + s_total_transactions AS s_avg_m,
    2 * s_total_transactions AS s_avg_k,
    CAST(s_total_transactions * s_sum_amount_sq - s_lifetime_value * s_lifetime_value AS DECIMAL(38, 4)) AS s_var_a,
    CAST(s_total_transactions * (
      s_total_transactions - 1
    ) AS DECIMAL(38, 0)) AS s_var_n
  FROM per_customer
  WHERE
    total_transactions > 0
), estimates AS (
  SELECT
    moments.*,
    CASE
      WHEN total_transactions > 1
      THEN CAST(ROUND(SQRT(CAST(var_a AS DOUBLE) / CAST(NULLIF(var_n, 0) AS DOUBLE)) * 100) AS DECIMAL(38, 0))
    END AS sd_c0,
    CASE
      WHEN s_total_transactions > 1
      THEN CAST(ROUND(SQRT(CAST(s_var_a AS DOUBLE) / CAST(NULLIF(s_var_n, 0) AS DOUBLE)) * 100) AS DECIMAL(38, 0))
    END AS s_sd_c0
  FROM moments
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
  CAST(CAST(ROUND((
    avg_m - avg_m % avg_k
  ) / avg_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_transaction_value,
  CAST((
    sd_c0 - CASE
      WHEN sd_c0 > 0 AND (
        2 * sd_c0 - 1
      ) * (
        2 * sd_c0 - 1
      ) * var_n > 40000 * var_a
      THEN 1
      ELSE 0
    END + CASE
      WHEN (
        2 * sd_c0 + 1
      ) * (
        2 * sd_c0 + 1
      ) * var_n <= 40000 * var_a
      THEN 1
      ELSE 0
    END
  ) * 0.01 AS DECIMAL(18, 2)) AS transaction_value_stddev,
  CAST(min_transaction_value AS DECIMAL(18, 2)) AS min_transaction_value,
  CAST(max_transaction_value AS DECIMAL(18, 2)) AS max_transaction_value,
  CAST(ROUND(median_amount, 2) AS DECIMAL(18, 2)) AS median_transaction_value,
  CAST(period_transactions AS BIGINT) AS period_transactions,
  CAST(period_spend AS DECIMAL(18, 2)) AS period_spend,
  CAST(declined_transactions AS BIGINT) AS declined_transactions,
  CAST(all_transactions AS BIGINT) AS all_transactions,
  CAST(s_total_transactions AS BIGINT) AS s_total_transactions,
  CAST(s_lifetime_value AS DECIMAL(18, 2)) AS s_lifetime_value,
  CASE WHEN s_total_transactions > 0 THEN first_transaction_date END AS s_first_transaction_date,
  s_last_transaction_date,
  CAST(s_spend_last_90_days AS DECIMAL(18, 2)) AS s_spend_last_90_days,
  CAST(s_spend_prior_90_days AS DECIMAL(18, 2)) AS s_spend_prior_90_days,
  CAST(s_travel_spend_last_90_days AS DECIMAL(18, 2)) AS s_travel_spend_last_90_days,
  CAST(s_necessities_spend_last_90_days AS DECIMAL(18, 2)) AS s_necessities_spend_last_90_days,
  CASE
    WHEN s_total_transactions > 0
    THEN CAST(CAST(ROUND((
      s_avg_m - s_avg_m % NULLIF(s_avg_k, 0)
    ) / NULLIF(s_avg_k, 0)) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))
  END AS s_avg_transaction_value,
  CAST((
    s_sd_c0 - CASE
      WHEN s_sd_c0 > 0
      AND (
        2 * s_sd_c0 - 1
      ) * (
        2 * s_sd_c0 - 1
      ) * s_var_n > 40000 * s_var_a
      THEN 1
      ELSE 0
    END + CASE
      WHEN (
        2 * s_sd_c0 + 1
      ) * (
        2 * s_sd_c0 + 1
      ) * s_var_n <= 40000 * s_var_a
      THEN 1
      ELSE 0
    END
  ) * 0.01 AS DECIMAL(18, 2)) AS s_transaction_value_stddev,
  CAST(s_declined_transactions AS BIGINT) AS s_declined_transactions,
  CAST(s_all_transactions AS BIGINT) AS s_all_transactions,
  CAST(recent_transactions AS BIGINT) AS recent_transactions,
  CAST(spend_outcome_window AS DECIMAL(18, 2)) AS spend_outcome_window,
  CAST(spend_baseline_window AS DECIMAL(18, 2)) AS spend_baseline_window,
  CAST(total_transactions AS BIGINT) AS n_approved,
  CAST(lifetime_value AS DECIMAL(38, 2)) AS sum_amount,
  CAST(sum_amount_sq AS DECIMAL(38, 4)) AS sum_amount_sq
FROM estimates
