-- rfm_values: raw recency, frequency and monetary per customer as of $as_of (design §5.5).
-- Grain: one row per customer with >= 1 approved transaction on or before $as_of.
-- Parameters: $as_of (DATE). The analysis period (as_of - N < transaction_date <= as_of,
--   N = [rfm] analysis_period_days) is applied in customer_activity, which this model reads so
--   the lake is scanned once.
-- Columns:
--   customer_id  text
--   recency      days from the last approved transaction (any time <= as_of) to as_of, BIGINT
--   frequency    approved transactions in the period (0 when none), BIGINT
--   monetary     approved spend in the period (0.00 when none), DECIMAL(18, 2) currency units
-- Scores and named segments are computed from this table by segengine.rfm.customer_rfm.
SELECT
    customer_id,
    CAST(DATEDIFF('day', last_transaction_date, CAST($as_of AS DATE)) AS BIGINT) AS recency,
    period_transactions AS frequency,
    period_spend AS monetary
FROM customer_activity
ORDER BY customer_id
