-- metric_avg_transaction_value: average transaction value hero metric (design §5.4).
-- Grain: one row per customer in customer_segments. Parameters: none.
-- Columns: customer_id, customer_segment, avg_transaction_value ($), transaction_value_stddev
--   ($, sample, NULL for one transaction), min/max/median_transaction_value ($, median
--   interpolated), transaction_count, spending_consistency (stddev NULL or < 50 Consistent,
--   < 200 Moderate, else Variable), metric_calculated_date, as_of_date.
SELECT
    s.customer_id,
    s.customer_segment,
    a.avg_transaction_value,
    a.transaction_value_stddev,
    a.min_transaction_value,
    a.max_transaction_value,
    a.median_transaction_value,
    a.total_transactions AS transaction_count,
    CASE WHEN a.transaction_value_stddev IS NULL OR a.transaction_value_stddev < 50
         THEN 'Consistent'
         WHEN a.transaction_value_stddev < 200 THEN 'Moderate'
         ELSE 'Variable' END AS spending_consistency,
    s.as_of_date AS metric_calculated_date,
    s.as_of_date
FROM customer_segments AS s
JOIN customer_activity AS a ON a.customer_id = s.customer_id
