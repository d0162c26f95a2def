WITH ratios AS (
  SELECT
    s.customer_id,
    CAST(s.spend_last_90_days AS DECIMAL(38, 2)) * 20000 + 3 * c.credit_limit AS utilization_m,
    6 * NULLIF(c.credit_limit, 0) AS utilization_k,
    CAST(a.declined_transactions AS DECIMAL(38, 0)) * 20000 + a.all_transactions AS decline_m,
    2 * a.all_transactions AS decline_k
  FROM customer_segments AS s
  JOIN customer_activity AS a
    ON a.customer_id = s.customer_id
  LEFT JOIN customers AS c
    ON c.customer_id = s.customer_id
)
SELECT
  s.customer_id,
  s.customer_key,
  c.first_name,
  c.last_name,
  CASE
    WHEN c.first_name IS NULL AND c.last_name IS NULL
    THEN NULL
    ELSE TRIM(COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, ''))
  END AS full_name,
  c.email,
  c.age,
  c.state,
  c.city,
  c.employment_status,
  c.card_type,
  c.credit_limit,
  c.account_open_date,
  CAST(DATEDIFF(DAY, c.account_open_date, CAST($as_of AS DATE)) AS INT) AS account_age_days,
  s.customer_segment,
  s.segment_reason,
  s.segment_assigned_date,
  s.tenure_months,
  s.lifetime_value,
  s.total_transactions,
  l.customer_age_days,
  l.avg_spend_per_day,
  v.avg_transaction_value,
  v.transaction_value_stddev,
  v.min_transaction_value,
  v.max_transaction_value,
  v.median_transaction_value,
  v.spending_consistency,
  s.spend_last_90_days,
  s.spend_prior_90_days,
  s.spend_change_pct,
  s.avg_monthly_spend,
  s.first_transaction_date,
  s.last_transaction_date,
  CAST(DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) AS INT) AS days_since_last_transaction,
  CASE
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 30
    THEN 'Active (30 days)'
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 60
    THEN 'Recent (60 days)'
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 90
    THEN 'At Risk (90 days)'
    ELSE 'Inactive (90+ days)'
  END AS recency_status,
  s.travel_spend_pct,
  s.necessities_spend_pct,
  CASE
    WHEN a.spend_last_90_days > 0
    AND a.travel_spend_last_90_days * 100 >= 25 * a.spend_last_90_days
    THEN 'Travel-Focused'
    WHEN a.spend_last_90_days > 0
    AND a.necessities_spend_last_90_days * 100 >= 60 * a.spend_last_90_days
    THEN 'Necessity-Focused'
    ELSE 'Balanced'
  END AS spending_profile,
  CASE
    WHEN c.credit_limit > 0
    THEN CAST(CAST(ROUND((
      q.utilization_m - q.utilization_m % q.utilization_k
    ) / q.utilization_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))
  END AS credit_utilization_pct,
  a.declined_transactions,
  CAST(CAST(ROUND((
    q.decline_m - q.decline_m % q.decline_k
  ) / q.decline_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS decline_rate_pct,
  r.r_score,
  r.f_score,
  r.m_score,
  r.segment AS rfm_segment,
  k.cluster_id,
  k.cluster_name,
  m.ml_segment_id,
  m.ml_segment_name,
  ch.churn_risk_score,
  CASE
    WHEN ch.churn_probability IS NULL
    THEN 'Not Scored'
    WHEN ch.churn_probability >= 0.70
    THEN 'High Risk'
    WHEN ch.churn_probability >= 0.40
    THEN 'Medium Risk'
    ELSE 'Low Risk'
  END AS churn_risk_category,
  lc.lifecycle_stage,
  CASE
    WHEN s.customer_segment = 'Declining' OR ch.churn_probability >= 0.70
    THEN TRUE
    ELSE FALSE
  END AS eligible_for_retention_campaign,
  CASE WHEN s.customer_segment = 'New & Growing' THEN TRUE ELSE FALSE END AS eligible_for_onboarding_campaign,
  CASE WHEN s.customer_segment = 'High-Value Travelers' THEN TRUE ELSE FALSE END AS eligible_for_premium_campaign,
  s.as_of_date AS profile_updated_date,
  s.as_of_date
FROM customer_segments AS s
JOIN customer_activity AS a
  ON a.customer_id = s.customer_id
JOIN ratios AS q
  ON q.customer_id = s.customer_id
JOIN metric_customer_ltv AS l
  ON l.customer_id = s.customer_id
JOIN metric_avg_transaction_value AS v
  ON v.customer_id = s.customer_id
LEFT JOIN customers AS c
  ON c.customer_id = s.customer_id
LEFT JOIN customer_rfm AS r
  ON r.customer_id = s.customer_id
LEFT JOIN customer_clusters AS k
  ON k.customer_id = s.customer_id
LEFT JOIN ml_segments AS m
  ON m.customer_id = s.customer_id
LEFT JOIN churn_scores AS ch
  ON ch.customer_id = s.customer_id
LEFT JOIN customer_lifecycle AS lc
  ON lc.customer_id = s.customer_id
