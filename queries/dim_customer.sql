-- dim_customer: current-state customer dimension, so the reference guides' campaign queries
--   (`JOIN dim_customer c ON s.customer_key = c.customer_key AND c.is_current = TRUE`) run as
--   written. Grain: one row per customer in customer_segments. Parameters: none.
-- Columns: customer_key (MD5 of customer_id, as customer_segments), customer_id, the §3
--   customer columns (NULL without a customers table), is_current (always TRUE: segengine keeps
--   the current state; history lives in customer_segments_history), as_of_date.
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
LEFT JOIN customers AS c ON c.customer_id = s.customer_id
