SELECT
  s.customer_key,
  s.customer_id,
  c.first_name,
  c.last_name,
  c.email,
  c.age,
  c.state,
  c.city,
  c.employment_status,
  c.card_type,
  c.credit_limit,
  c.account_open_date,
  TRUE AS is_current,
  s.as_of_date
FROM customer_segments AS s
LEFT JOIN customers AS c
  ON c.customer_id = s.customer_id
