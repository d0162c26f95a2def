-- metric_customer_ltv: customer lifetime value hero metric (design §5.2).
-- Grain: one row per customer in customer_segments. Parameters: none (as_of comes from it).
-- Columns: customer_id, customer_segment, lifetime_value ($, approved, all history <= as_of),
--   total_transactions, first/last_transaction_date, customer_age_days (last - first, days),
--   avg_spend_per_day ($/day, NULL when age is 0), metric_calculated_date, as_of_date.
SELECT
    customer_id,
    customer_segment,
    lifetime_value,
    total_transactions,
    first_transaction_date,
    last_transaction_date,
    CAST(DATEDIFF('day', first_transaction_date, last_transaction_date) AS INTEGER)
        AS customer_age_days,
    CASE WHEN last_transaction_date > first_transaction_date
         THEN CAST(ROUND(lifetime_value
                         / DATEDIFF('day', first_transaction_date, last_transaction_date), 2)
                   AS DECIMAL(18, 2)) END AS avg_spend_per_day,
    as_of_date AS metric_calculated_date,
    as_of_date
FROM customer_segments
