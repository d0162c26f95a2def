-- rfm_values: raw recency, frequency and monetary per customer as of $as_of (design §5.5).
-- Grain: one row per customer with >= 1 approved transaction on or before $as_of.
-- Parameters: $as_of (DATE), $analysis_period_days (INTEGER, N; the period is
--   as_of - N < transaction_date <= as_of).
-- Columns:
--   customer_id  text
--   recency      days from the last approved transaction (any time <= as_of) to as_of, BIGINT
--   frequency    approved transactions in the period (0 when none), BIGINT
--   monetary     approved spend in the period (0.00 when none), DECIMAL(18, 2) currency units
-- Scores and named segments are computed from this table by segengine.rfm.customer_rfm.
WITH approved AS (
    SELECT
        customer_id,
        transaction_date,
        transaction_amount,
        CASE
            WHEN transaction_date > CAST($as_of AS DATE) - CAST($analysis_period_days AS INTEGER)
            THEN 1
            ELSE 0
        END AS in_period
    FROM transactions
    WHERE status = 'approved'
      AND transaction_date <= CAST($as_of AS DATE)
)
SELECT
    customer_id,
    CAST(DATEDIFF('day', MAX(transaction_date), CAST($as_of AS DATE)) AS BIGINT) AS recency,
    CAST(SUM(in_period) AS BIGINT) AS frequency,
    CAST(
        SUM(CASE WHEN in_period = 1 THEN transaction_amount ELSE 0 END) AS DECIMAL(18, 2)
    ) AS monetary
FROM approved
GROUP BY customer_id
ORDER BY customer_id
