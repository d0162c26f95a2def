WITH base AS (
  SELECT
    a.*,
    COALESCE(c.account_open_date, a.first_transaction_date) AS tenure_start,
    CAST($as_of AS DATE) AS as_of_date
  FROM customer_activity AS a
  LEFT JOIN customers AS c
    ON c.customer_id = a.customer_id
), ratios AS (
  SELECT
    base.*,
    (
      YEAR(as_of_date) - YEAR(tenure_start)
    ) * 12 + MONTH(as_of_date) - MONTH(tenure_start) - CASE
      WHEN DAY(as_of_date) < DAY(tenure_start) AND as_of_date <> LAST_DAY(as_of_date)
      THEN 1
      ELSE 0
    END AS tenure_months,
    CAST(spend_last_90_days AS DECIMAL(38, 2)) * 200 + 3 AS monthly_m,
    ABS(CAST(spend_last_90_days - spend_prior_90_days AS DECIMAL(38, 2))) * 20000 + spend_prior_90_days AS change_m,
    CAST(travel_spend_last_90_days AS DECIMAL(38, 2)) * 20000 + spend_last_90_days AS travel_m,
    CAST(necessities_spend_last_90_days AS DECIMAL(38, 2)) * 20000 + spend_last_90_days AS necessities_m,
    2 * NULLIF(spend_prior_90_days, 0) AS change_k,
    2 * NULLIF(spend_last_90_days, 0) AS share_k
  FROM base
), features AS (
  SELECT
    ratios.*,
    CAST(SIGN(spend_last_90_days - spend_prior_90_days) * CAST(ROUND((
      change_m - change_m % change_k
    ) / change_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS spend_change_pct,
    CAST(CAST(ROUND((
      monthly_m - monthly_m % 6
    ) / 6) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_monthly_spend,
    CAST(CAST(ROUND((
      travel_m - travel_m % share_k
    ) / share_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS travel_spend_pct,
    CAST(CAST(ROUND((
      necessities_m - necessities_m % share_k
    ) / share_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS necessities_spend_pct
  FROM ratios
), rules AS (
  SELECT
    features.*,
    CASE
      WHEN spend_last_90_days >= 3 * CAST($hvt_min_avg_monthly_spend AS DECIMAL(18, 4))
      AND spend_last_90_days > 0
      AND travel_spend_last_90_days * 100 >= CAST($hvt_min_travel_pct AS DECIMAL(18, 4)) * spend_last_90_days
      THEN 1
      ELSE 0
    END AS is_hvt,
    CASE
      WHEN spend_prior_90_days > 0
      AND (
        spend_last_90_days - spend_prior_90_days
      ) * 100 <= CAST($declining_max_change_pct AS DECIMAL(18, 4)) * spend_prior_90_days
      AND spend_prior_90_days >= CAST($declining_min_prior_spend AS DECIMAL(18, 4))
      THEN 1
      ELSE 0
    END AS is_declining,
    CASE
      WHEN tenure_months <= CAST($new_max_tenure_months AS INT)
      AND spend_prior_90_days > 0
      AND (
        spend_last_90_days - spend_prior_90_days
      ) * 100 >= CAST($new_min_change_pct AS DECIMAL(18, 4)) * spend_prior_90_days
      THEN 1
      ELSE 0
    END AS is_new,
    CASE
      WHEN spend_last_90_days < 3 * CAST($budget_max_avg_monthly_spend AS DECIMAL(18, 4))
      AND spend_last_90_days > 0
      AND necessities_spend_last_90_days * 100 >= CAST($budget_min_necessities_pct AS DECIMAL(18, 4)) * spend_last_90_days
      THEN 1
      ELSE 0
    END AS is_budget
  FROM features
)
SELECT
  customer_id,
  MD5(customer_id) AS customer_key,
  CASE
    WHEN is_hvt = 1
    THEN 'High-Value Travelers'
    WHEN is_declining = 1
    THEN 'Declining'
    WHEN is_new = 1
    THEN 'New & Growing'
    WHEN is_budget = 1
    THEN 'Budget-Conscious'
    ELSE 'Stable Mid-Spenders'
  END AS customer_segment,
  CASE
    WHEN is_hvt = 1
    THEN 'avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ' ≥ ' || $hvt_min_avg_monthly_spend_label || ' and travel_spend_pct ' || CAST(travel_spend_pct AS VARCHAR) || ' ≥ ' || $hvt_min_travel_pct_label
    WHEN is_declining = 1
    THEN 'spend_change_pct ' || CAST(spend_change_pct AS VARCHAR) || ' ≤ ' || $declining_max_change_pct_label || ' and spend_prior_90_days ' || CAST(spend_prior_90_days AS VARCHAR) || ' ≥ ' || $declining_min_prior_spend_label
    WHEN is_new = 1
    THEN 'tenure_months ' || CAST(tenure_months AS VARCHAR) || ' ≤ ' || $new_max_tenure_months_label || ' and spend_change_pct ' || CAST(spend_change_pct AS VARCHAR) || ' ≥ ' || $new_min_change_pct_label
    WHEN is_budget = 1
    THEN 'avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ' < ' || $budget_max_avg_monthly_spend_label || ' and necessities_spend_pct ' || CAST(necessities_spend_pct AS VARCHAR) || ' ≥ ' || $budget_min_necessities_pct_label
    ELSE 'no rule matched: avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ', spend_change_pct ' || COALESCE(CAST(spend_change_pct AS VARCHAR), 'NULL') || ', travel_spend_pct ' || COALESCE(CAST(travel_spend_pct AS VARCHAR), 'NULL') || ', necessities_spend_pct ' || COALESCE(CAST(necessities_spend_pct AS VARCHAR), 'NULL') || ', tenure_months ' || CAST(tenure_months AS VARCHAR)
  END AS segment_reason,
  as_of_date AS segment_assigned_date,
  total_transactions,
  lifetime_value,
  avg_transaction_value,
  first_transaction_date,
  last_transaction_date,
  CAST(tenure_months AS INT) AS tenure_months,
  spend_last_90_days,
  spend_prior_90_days,
  spend_change_pct,
  avg_monthly_spend,
  travel_spend_pct,
  necessities_spend_pct,
  as_of_date
FROM rules
