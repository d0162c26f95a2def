-- metric_customer_ltv: customer lifetime value hero metric (design §5.2).
-- Grain: one row per customer in customer_segments. Parameters: none (as_of comes from it).
-- Columns: customer_id, customer_segment, lifetime_value ($, approved, all history <= as_of),
--   total_transactions, first/last_transaction_date, customer_age_days (last - first, days),
--   avg_spend_per_day ($/day, NULL when age is 0; exact decimal half-up to cents, §5.4, in the
--   MOD form of customer_segments), metric_calculated_date, as_of_date.
WITH ages AS (
    SELECT
        customer_segments.*,
        DATEDIFF('day', first_transaction_date, last_transaction_date) AS age_days,
        CAST(lifetime_value AS DECIMAL(38, 2)) * 200
            + DATEDIFF('day', first_transaction_date, last_transaction_date) AS per_day_m,
        2 * NULLIF(DATEDIFF('day', first_transaction_date, last_transaction_date), 0)
            AS per_day_k
    FROM customer_segments
)
SELECT
    customer_id,
    customer_segment,
    lifetime_value,
    total_transactions,
    first_transaction_date,
    last_transaction_date,
    CAST(age_days AS INTEGER) AS customer_age_days,
    CAST(CAST(ROUND((per_day_m - MOD(per_day_m, per_day_k)) / per_day_k) AS DECIMAL(38, 0))
         * 0.01 AS DECIMAL(18, 2)) AS avg_spend_per_day,
    as_of_date AS metric_calculated_date,
    as_of_date
FROM ages
