-- Our own queries in the style of the reference guides (segmentation_guide.md,
-- aggregate_marts_guide.md): the same tables and columns, written here so the contract "the
-- guides' queries run unchanged against warehouse.duckdb" is tested without ../shared.
-- Each query starts with `-- name: <name>`; tests/test_reference_style_queries.py holds the
-- expected result of each on tests.frames.portfolio(), derived by hand.

-- name: segment_distribution
SELECT
    customer_segment,
    COUNT(*) AS customer_count,
    ROUND(COUNT(*) * 100.0 / SUM(COUNT(*)) OVER (), 2) AS percentage,
    ROUND(SUM(lifetime_value), 2) AS total_segment_value,
    ROUND(SUM(lifetime_value) * 100.0 / SUM(SUM(lifetime_value)) OVER (), 2) AS value_percentage
FROM customer_segments
GROUP BY customer_segment
ORDER BY total_segment_value DESC;

-- name: declining_prioritised
SELECT
    customer_id,
    lifetime_value,
    spend_last_90_days,
    spend_prior_90_days,
    spend_change_pct,
    RANK() OVER (ORDER BY lifetime_value DESC) AS ltv_rank
FROM customer_segments
WHERE customer_segment = 'Declining'
ORDER BY spend_change_pct ASC, customer_id
LIMIT 3;

-- name: new_and_growing_projection
SELECT
    customer_id,
    tenure_months,
    spend_change_pct,
    avg_monthly_spend,
    avg_monthly_spend * 12 AS projected_annual_value
FROM customer_segments
WHERE customer_segment = 'New & Growing'
ORDER BY customer_id
LIMIT 2;

-- name: budget_conscious_shares
SELECT
    customer_id,
    avg_monthly_spend,
    necessities_spend_pct,
    travel_spend_pct
FROM customer_segments
WHERE customer_segment = 'Budget-Conscious'
ORDER BY customer_id
LIMIT 1;

-- name: premium_campaign_with_dim_customer
SELECT
    c.customer_id,
    c.email,
    c.first_name,
    s.lifetime_value,
    s.avg_monthly_spend,
    s.travel_spend_pct
FROM customer_segments s
JOIN dim_customer c ON s.customer_key = c.customer_key AND c.is_current = TRUE
WHERE s.customer_segment = 'High-Value Travelers'
  AND s.avg_monthly_spend >= 7500
ORDER BY s.lifetime_value DESC, c.customer_id
LIMIT 2;

-- name: segment_history_by_date
WITH current_segments AS (
    SELECT customer_id, customer_segment AS current_segment
    FROM customer_segments
),
prior_segments AS (
    SELECT customer_id, customer_segment AS prior_segment
    FROM customer_segments_history
)
SELECT
    p.prior_segment,
    c.current_segment,
    COUNT(*) AS customer_count
FROM current_segments c
JOIN prior_segments p ON c.customer_id = p.customer_id
GROUP BY p.prior_segment, c.current_segment
ORDER BY p.prior_segment;

-- name: ltv_tiers
SELECT
    CASE
        WHEN lifetime_value < 1000 THEN '<$1K'
        WHEN lifetime_value < 10000 THEN '$1K-$10K'
        ELSE '$10K+'
    END AS ltv_tier,
    COUNT(*) AS customer_count,
    SUM(total_transactions) AS transactions
FROM metric_customer_ltv
GROUP BY ltv_tier
ORDER BY ltv_tier;

-- name: ltv_per_day
SELECT
    customer_id,
    customer_segment,
    lifetime_value,
    total_transactions,
    avg_spend_per_day
FROM metric_customer_ltv
WHERE customer_id IN ('S0', 'B0')
ORDER BY customer_id;

-- name: latest_month_mom_by_segment
WITH latest_month AS (
    SELECT MAX(month) AS max_month
    FROM metric_mom_spend_change
)
SELECT
    seg.customer_segment,
    AVG(m.mom_change_pct) AS avg_mom_change,
    COUNT(*) AS customer_count
FROM metric_mom_spend_change m
JOIN customer_segments seg ON m.customer_id = seg.customer_id
CROSS JOIN latest_month
WHERE m.month = latest_month.max_month
  AND m.mom_change_pct IS NOT NULL
GROUP BY seg.customer_segment
ORDER BY seg.customer_segment;

-- name: mom_trend_for_one_customer
SELECT
    mom_trend_category,
    COUNT(*) AS months,
    SUM(monthly_spend) AS spend
FROM metric_mom_spend_change
WHERE customer_id = 'S0'
GROUP BY mom_trend_category
ORDER BY mom_trend_category NULLS LAST;

-- name: atv_consistency
SELECT
    spending_consistency,
    COUNT(*) AS customer_count,
    MIN(transaction_value_stddev) AS min_stddev,
    MAX(transaction_value_stddev) AS max_stddev
FROM metric_avg_transaction_value
GROUP BY spending_consistency
ORDER BY spending_consistency;

-- name: executive_dashboard
SELECT
    COUNT(*) AS total_customers,
    SUM(lifetime_value) AS total_ltv,
    AVG(lifetime_value) AS avg_ltv
FROM customer_360_profile;

-- name: churn_watchlist
SELECT
    customer_id,
    full_name,
    email,
    customer_segment,
    spend_change_pct,
    days_since_last_transaction,
    recency_status
FROM customer_360_profile
WHERE customer_segment = 'Declining'
   OR recency_status = 'Inactive (90+ days)'
ORDER BY spend_change_pct ASC, customer_id
LIMIT 2;

-- name: campaign_eligibility
SELECT
    customer_segment,
    SUM(CASE WHEN eligible_for_retention_campaign THEN 1 ELSE 0 END) AS retention,
    SUM(CASE WHEN eligible_for_onboarding_campaign THEN 1 ELSE 0 END) AS onboarding,
    SUM(CASE WHEN eligible_for_premium_campaign THEN 1 ELSE 0 END) AS premium
FROM customer_360_profile
GROUP BY customer_segment
ORDER BY customer_segment;

-- name: customer_lookup
SELECT
    customer_id,
    full_name,
    customer_segment,
    tenure_months,
    days_since_last_transaction,
    recency_status,
    spending_profile,
    credit_utilization_pct,
    declined_transactions,
    decline_rate_pct
FROM customer_360_profile
WHERE customer_id = $customer_id;
