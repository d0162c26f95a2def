SELECT
  s.customer_id,
  s.customer_segment,
  a.avg_transaction_value,
  a.transaction_value_stddev,
  a.min_transaction_value,
  a.max_transaction_value,
  a.median_transaction_value,
  a.total_transactions AS transaction_count,
  CASE
    WHEN a.n_approved < 2
    OR a.n_approved * a.sum_amount_sq - a.sum_amount * a.sum_amount < 2500 * a.n_approved * (
      a.n_approved - 1
    )
    THEN 'Consistent'
    WHEN a.n_approved * a.sum_amount_sq - a.sum_amount * a.sum_amount < 40000 * a.n_approved * (
      a.n_approved - 1
    )
    THEN 'Moderate'
    ELSE 'Variable'
  END AS spending_consistency,
  s.as_of_date AS metric_calculated_date,
  s.as_of_date
FROM customer_segments AS s
JOIN customer_activity AS a
  ON a.customer_id = s.customer_id
