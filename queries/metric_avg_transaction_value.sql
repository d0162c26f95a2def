-- metric_avg_transaction_value: average transaction value hero metric (design §5.4).
-- Grain: one row per customer in customer_segments. Parameters: none.
-- Columns: customer_id, customer_segment, avg_transaction_value ($), transaction_value_stddev
--   ($, sample, NULL for one transaction), min/max/median_transaction_value ($, median
--   interpolated), transaction_count, spending_consistency (stddev NULL or < 50 Consistent,
--   < 200 Moderate, else Variable — decided on the EXACT sample variance from customer_activity's
--   moments, n·Σx² − (Σx)² < 50²·n(n−1), never on the rounded display stddev: a stddev of
--   49.9969 shows as 50.00 and is Consistent, §5.4), metric_calculated_date, as_of_date.
SELECT
    s.customer_id,
    s.customer_segment,
    a.avg_transaction_value,
    a.transaction_value_stddev,
    a.min_transaction_value,
    a.max_transaction_value,
    a.median_transaction_value,
    a.total_transactions AS transaction_count,
    CASE WHEN a.n_approved < 2
              OR a.n_approved * a.sum_amount_sq - a.sum_amount * a.sum_amount
                 < 2500 * a.n_approved * (a.n_approved - 1)
         THEN 'Consistent'
         WHEN a.n_approved * a.sum_amount_sq - a.sum_amount * a.sum_amount
              < 40000 * a.n_approved * (a.n_approved - 1)
         THEN 'Moderate'
         ELSE 'Variable' END AS spending_consistency,
    s.as_of_date AS metric_calculated_date,
    s.as_of_date
FROM customer_segments AS s
JOIN customer_activity AS a ON a.customer_id = s.customer_id
