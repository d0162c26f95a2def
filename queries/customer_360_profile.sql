-- customer_360_profile: denormalised customer view for dashboards and campaigns (design §5.7).
-- Grain: one row per customer in customer_segments (>= 1 approved transaction <= as_of).
-- Parameters: $as_of (DATE). Inputs: customers, customer_segments, metric_customer_ltv,
--   metric_avg_transaction_value, customer_activity, customer_rfm, customer_clusters,
--   ml_segments (customer_id, ml_segment_id, ml_segment_name) and churn_scores (customer_id,
--   churn_risk_score, churn_probability) and customer_lifecycle (customer_id, lifecycle_stage,
--   computed by segengine.models.lifecycle); the pipeline supplies empty relations for features
--   that are off. Risk bands are decided on the unrounded churn_probability (>= 0.70 High,
--   >= 0.40 Medium), never on the 2-decimal display score.
-- Columns: the §3 customer columns, full_name, account_age_days (days), customer_key; segment
--   columns; LTV and ATV columns ($); 90-day window columns ($, %); activity timeline
--   (days_since_last_transaction, recency_status); travel/necessities % and spending_profile;
--   credit_utilization_pct (% of credit limit used per month over the last 90 days);
--   declined_transactions, decline_rate_pct (% of all transactions <= as_of); r/f/m scores and
--   rfm_segment; cluster_id/name; ml_segment_id/name; churn_risk_score (0-100) and category;
--   lifecycle_stage (New, Active, Cooling, Lapsing, Lost: one answer from recency in typical
--   purchase gaps, tenure and churn risk, §5.9); campaign eligibility flags;
--   profile_updated_date, as_of_date.
-- credit_utilization_pct and decline_rate_pct are exact decimal half-up to 2 places (§5.4; the MOD
--   form of customer_segments); categories are decided on exact values, never on display columns.
WITH ratios AS (
    SELECT
        s.customer_id,
        CAST(s.spend_last_90_days AS DECIMAL(38, 2)) * 20000 + 3 * c.credit_limit
            AS utilization_m,
        6 * NULLIF(c.credit_limit, 0) AS utilization_k,
        CAST(a.declined_transactions AS DECIMAL(38, 0)) * 20000 + a.all_transactions
            AS decline_m,
        2 * a.all_transactions AS decline_k
    FROM customer_segments AS s
    JOIN customer_activity AS a ON a.customer_id = s.customer_id
    LEFT JOIN customers AS c ON c.customer_id = s.customer_id
)
SELECT
    s.customer_id,
    s.customer_key,
    c.first_name,
    c.last_name,
    CASE WHEN c.first_name IS NULL AND c.last_name IS NULL THEN NULL
         ELSE TRIM(COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, '')) END
        AS full_name,
    c.email,
    c.age,
    c.state,
    c.city,
    c.employment_status,
    c.card_type,
    c.credit_limit,
    c.account_open_date,
    CAST(DATEDIFF('day', c.account_open_date, CAST($as_of AS DATE)) AS INTEGER)
        AS account_age_days,
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
    CAST(DATEDIFF('day', s.last_transaction_date, CAST($as_of AS DATE)) AS INTEGER)
        AS days_since_last_transaction,
    CASE WHEN DATEDIFF('day', s.last_transaction_date, CAST($as_of AS DATE)) <= 30
             THEN 'Active (30 days)'
         WHEN DATEDIFF('day', s.last_transaction_date, CAST($as_of AS DATE)) <= 60
             THEN 'Recent (60 days)'
         WHEN DATEDIFF('day', s.last_transaction_date, CAST($as_of AS DATE)) <= 90
             THEN 'At Risk (90 days)'
         ELSE 'Inactive (90+ days)' END AS recency_status,
    s.travel_spend_pct,
    s.necessities_spend_pct,
    CASE WHEN a.spend_last_90_days > 0
              AND a.travel_spend_last_90_days * 100 >= 25 * a.spend_last_90_days
             THEN 'Travel-Focused'
         WHEN a.spend_last_90_days > 0
              AND a.necessities_spend_last_90_days * 100 >= 60 * a.spend_last_90_days
             THEN 'Necessity-Focused'
         ELSE 'Balanced' END AS spending_profile,
    CASE WHEN c.credit_limit > 0
         THEN CAST(CAST(ROUND((q.utilization_m - MOD(q.utilization_m, q.utilization_k))
                              / q.utilization_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))
         END AS credit_utilization_pct,
    a.declined_transactions,
    CAST(CAST(ROUND((q.decline_m - MOD(q.decline_m, q.decline_k)) / q.decline_k)
              AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS decline_rate_pct,
    r.r_score,
    r.f_score,
    r.m_score,
    r.segment AS rfm_segment,
    k.cluster_id,
    k.cluster_name,
    m.ml_segment_id,
    m.ml_segment_name,
    ch.churn_risk_score,
    CASE WHEN ch.churn_probability IS NULL THEN 'Not Scored'
         WHEN ch.churn_probability >= 0.70 THEN 'High Risk'
         WHEN ch.churn_probability >= 0.40 THEN 'Medium Risk'
         ELSE 'Low Risk' END AS churn_risk_category,
    lc.lifecycle_stage,
    CASE WHEN s.customer_segment = 'Declining' OR ch.churn_probability >= 0.70
         THEN TRUE ELSE FALSE END AS eligible_for_retention_campaign,
    CASE WHEN s.customer_segment = 'New & Growing' THEN TRUE ELSE FALSE END
        AS eligible_for_onboarding_campaign,
    CASE WHEN s.customer_segment = 'High-Value Travelers' THEN TRUE ELSE FALSE END
        AS eligible_for_premium_campaign,
    s.as_of_date AS profile_updated_date,
    s.as_of_date
FROM customer_segments AS s
JOIN customer_activity AS a ON a.customer_id = s.customer_id
JOIN ratios AS q ON q.customer_id = s.customer_id
JOIN metric_customer_ltv AS l ON l.customer_id = s.customer_id
JOIN metric_avg_transaction_value AS v ON v.customer_id = s.customer_id
LEFT JOIN customers AS c ON c.customer_id = s.customer_id
LEFT JOIN customer_rfm AS r ON r.customer_id = s.customer_id
LEFT JOIN customer_clusters AS k ON k.customer_id = s.customer_id
LEFT JOIN ml_segments AS m ON m.customer_id = s.customer_id
LEFT JOIN churn_scores AS ch ON ch.customer_id = s.customer_id
LEFT JOIN customer_lifecycle AS lc ON lc.customer_id = s.customer_id
