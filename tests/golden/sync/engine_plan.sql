CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."SEGENGINE";
SELECT table_name FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES WHERE table_schema = %s AND CONTAINS(table_name, %s) ORDER BY table_name;  -- params: 'SEGENGINE', '__RUN_'
-- then DROP TABLE IF EXISTS each run table of an earlier run found above
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH mapped AS (
  SELECT
    NULLIF(TRIM(CAST("TXN_ID" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS transaction_id,
    NULLIF(TRIM(CAST("CUST_NO" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS customer_id,
    TO_DATE("TXN_TS") AS transaction_date,
    NULLIF(TRIM(CAST(("AMOUNT_CENTS" / 100.0) AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS raw_amount,
    NULLIF(TRIM(CAST("MERCHANT_NAME" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS merchant_name,
    COALESCE(NULLIF(TRIM(CAST("MERCHANT_CATEGORY" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), ''), 'Uncategorized') AS merchant_category,
    CAST(NULL AS VARCHAR) AS channel,
    LOWER(NULLIF(TRIM(CAST("Status" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '')) AS status
  FROM "ANALYTICS"."RAW"."CARD_TXNS"
), typed1 AS (
  SELECT mapped.*,
    TRY_CAST(raw_amount AS NUMBER(38, 10)) AS wide,
    TRY_CAST(raw_amount AS DOUBLE) IS NOT NULL AS is_number
  FROM mapped
), typed AS (
  SELECT typed1.*,
    CASE WHEN wide = ROUND(wide, 2) AND ABS(wide) < 10000000000
         THEN CAST(wide AS NUMBER(12, 2)) END AS transaction_amount
  FROM typed1
), flagged AS (
  SELECT typed.*,
    COALESCE(customer_id IS NULL, FALSE) AS r_null_customer_id,
    COALESCE(transaction_date IS NULL, FALSE) AS r_null_transaction_date,
    COALESCE(transaction_date > CAST('2025-11-04' AS DATE), FALSE) AS r_future_date,
    COALESCE(raw_amount IS NULL, FALSE) AS r_null_amount,
    COALESCE(raw_amount IS NOT NULL AND wide IS NULL AND NOT is_number, FALSE) AS r_unparseable_amount,
    COALESCE(wide > 1000000.0 OR (wide IS NULL AND is_number), FALSE) AS r_amount_out_of_range,
    COALESCE(wide <> ROUND(wide, 2) OR (wide IS NOT NULL AND REGEXP_LIKE(raw_amount, '.*[.][0-9][0-9]0*[1-9].*')), FALSE) AS r_sub_cent_amount,
    COALESCE(wide <= 0, FALSE) AS r_non_positive_amount,
    COALESCE(NOT COALESCE(status IN ('approved', 'declined'), FALSE), FALSE) AS r_unknown_status
  FROM typed
), ranked AS (
  SELECT flagged.*, (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) AS has_reason,
        ROW_NUMBER() OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS key_rank,
        FIRST_VALUE(customer_id) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_customer_id,
        FIRST_VALUE(transaction_date) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_transaction_date,
        FIRST_VALUE(transaction_amount) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_transaction_amount,
        FIRST_VALUE(merchant_name) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_merchant_name,
        FIRST_VALUE(merchant_category) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_merchant_category,
        FIRST_VALUE(channel) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_channel,
        FIRST_VALUE(status) OVER (PARTITION BY transaction_id, DATE_TRUNC('MONTH', transaction_date) ORDER BY CASE WHEN (r_null_customer_id OR r_null_transaction_date OR r_future_date OR r_null_amount OR r_unparseable_amount OR r_amount_out_of_range OR r_sub_cent_amount OR r_non_positive_amount OR r_unknown_status) THEN 1 ELSE 0 END, customer_id NULLS LAST, transaction_date NULLS LAST, transaction_amount NULLS LAST, merchant_name NULLS LAST, merchant_category NULLS LAST, channel NULLS LAST, status NULLS LAST) AS kept_status
  FROM flagged
), checked AS (
  SELECT ranked.*,
    transaction_id IS NOT NULL AND key_rank > 1 AND (customer_id IS NOT DISTINCT FROM kept_customer_id AND transaction_date IS NOT DISTINCT FROM kept_transaction_date AND transaction_amount IS NOT DISTINCT FROM kept_transaction_amount AND merchant_name IS NOT DISTINCT FROM kept_merchant_name AND merchant_category IS NOT DISTINCT FROM kept_merchant_category AND channel IS NOT DISTINCT FROM kept_channel AND status IS NOT DISTINCT FROM kept_status) AS r_duplicate_transaction_id,
    transaction_id IS NOT NULL AND key_rank > 1 AND NOT (customer_id IS NOT DISTINCT FROM kept_customer_id AND transaction_date IS NOT DISTINCT FROM kept_transaction_date AND transaction_amount IS NOT DISTINCT FROM kept_transaction_amount AND merchant_name IS NOT DISTINCT FROM kept_merchant_name AND merchant_category IS NOT DISTINCT FROM kept_merchant_category AND channel IS NOT DISTINCT FROM kept_channel AND status IS NOT DISTINCT FROM kept_status) AS r_duplicate_id_conflict
  FROM ranked
)
SELECT checked.*, NULLIF(SUBSTR(CASE WHEN r_null_customer_id THEN '; null_customer_id' ELSE '' END || CASE WHEN r_null_transaction_date THEN '; null_transaction_date' ELSE '' END || CASE WHEN r_future_date THEN '; future_date' ELSE '' END || CASE WHEN r_null_amount THEN '; null_amount' ELSE '' END || CASE WHEN r_unparseable_amount THEN '; unparseable_amount' ELSE '' END || CASE WHEN r_amount_out_of_range THEN '; amount_out_of_range' ELSE '' END || CASE WHEN r_sub_cent_amount THEN '; sub_cent_amount' ELSE '' END || CASE WHEN r_non_positive_amount THEN '; non_positive_amount' ELSE '' END || CASE WHEN r_unknown_status THEN '; unknown_status' ELSE '' END || CASE WHEN r_duplicate_transaction_id THEN '; duplicate_transaction_id' ELSE '' END || CASE WHEN r_duplicate_id_conflict THEN '; duplicate_id_conflict' ELSE '' END, 3), '') AS reject_reason
FROM checked;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT transaction_id, customer_id, transaction_date, transaction_amount, merchant_name, merchant_category, channel, status FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB" WHERE reject_reason IS NULL;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT reject_reason, transaction_id AS transaction_id, customer_id AS customer_id, CAST(transaction_date AS VARCHAR) AS transaction_date, raw_amount AS transaction_amount, merchant_name AS merchant_name, merchant_category AS merchant_category, channel AS channel, status AS status FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB" WHERE reject_reason IS NOT NULL;
SELECT CAST(DATE_TRUNC('MONTH', transaction_date) AS DATE) AS month, COUNT(*) AS rows_read, SUM(CASE WHEN reject_reason IS NULL THEN 0 ELSE 1 END) AS rejected, SUM(CASE WHEN r_null_customer_id THEN 1 ELSE 0 END) AS null_customer_id, SUM(CASE WHEN r_null_transaction_date THEN 1 ELSE 0 END) AS null_transaction_date, SUM(CASE WHEN r_future_date THEN 1 ELSE 0 END) AS future_date, SUM(CASE WHEN r_null_amount THEN 1 ELSE 0 END) AS null_amount, SUM(CASE WHEN r_unparseable_amount THEN 1 ELSE 0 END) AS unparseable_amount, SUM(CASE WHEN r_amount_out_of_range THEN 1 ELSE 0 END) AS amount_out_of_range, SUM(CASE WHEN r_sub_cent_amount THEN 1 ELSE 0 END) AS sub_cent_amount, SUM(CASE WHEN r_non_positive_amount THEN 1 ELSE 0 END) AS non_positive_amount, SUM(CASE WHEN r_unknown_status THEN 1 ELSE 0 END) AS unknown_status, SUM(CASE WHEN r_duplicate_transaction_id THEN 1 ELSE 0 END) AS duplicate_transaction_id, SUM(CASE WHEN r_duplicate_id_conflict THEN 1 ELSE 0 END) AS duplicate_id_conflict FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB" GROUP BY 1 ORDER BY 1 NULLS FIRST;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH mapped AS (
  SELECT
    NULLIF(TRIM(CAST("CUSTOMER_ID" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS customer_id,
    NULLIF(TRIM(CAST("FIRST_NAME" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS first_name,
    CAST(NULL AS VARCHAR) AS last_name,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS VARCHAR) AS state,
    CAST(NULL AS VARCHAR) AS city,
    CAST(NULL AS VARCHAR) AS employment_status,
    CAST(NULL AS VARCHAR) AS card_type,
    NULLIF(TRIM(CAST("AGE" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS raw_age,
    NULLIF(TRIM(CAST("CREDIT_LIMIT" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS raw_credit_limit,
    NULLIF(TRIM(CAST("ACCOUNT_OPEN_DATE" AS VARCHAR), ' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)), '') AS raw_account_open_date
  FROM "ANALYTICS"."RAW"."CUSTOMERS"
), typed1 AS (
  SELECT mapped.*,
    TRY_CAST(raw_age AS DOUBLE) AS age_value,
    TRY_CAST(raw_credit_limit AS NUMBER(38, 10)) * 100 AS limit_cents,
    FLOOR(TRY_CAST(raw_credit_limit AS NUMBER(38, 10)) * 100) AS limit_floor,
    TRY_TO_DATE(raw_account_open_date) AS account_open_date
  FROM mapped
), typed AS (
  SELECT typed1.*,
    CASE WHEN age_value BETWEEN -2147483648 AND 2147483647
         THEN CAST(TRUNC(age_value) AS INTEGER) END AS age,
    CASE WHEN ABS(CASE WHEN limit_cents - limit_floor > 0.5 OR (limit_cents - limit_floor = 0.5 AND MOD(limit_floor, 2) <> 0) THEN limit_floor + 1 ELSE limit_floor END) < 1000000000000
         THEN CAST((CASE WHEN limit_cents - limit_floor > 0.5 OR (limit_cents - limit_floor = 0.5 AND MOD(limit_floor, 2) <> 0) THEN limit_floor + 1 ELSE limit_floor END) / 100 AS NUMBER(12, 2)) END AS credit_limit
  FROM typed1
), flagged AS (
  SELECT typed.*,
    COALESCE(customer_id IS NULL, FALSE) AS r_null_customer_id,
    COALESCE((raw_age IS NOT NULL AND age IS NULL) OR age_value <> ROUND(age_value, 0), FALSE) AS r_unparseable_age,
    COALESCE(raw_credit_limit IS NOT NULL AND credit_limit IS NULL, FALSE) AS r_unparseable_credit_limit,
    COALESCE(raw_account_open_date IS NOT NULL AND account_open_date IS NULL, FALSE) AS r_unparseable_account_open_date
  FROM typed
), ranked AS (
  SELECT flagged.*, (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) AS has_reason,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS key_rank,
        FIRST_VALUE(first_name) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_first_name,
        FIRST_VALUE(last_name) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_last_name,
        FIRST_VALUE(email) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_email,
        FIRST_VALUE(age) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_age,
        FIRST_VALUE(state) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_state,
        FIRST_VALUE(city) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_city,
        FIRST_VALUE(employment_status) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_employment_status,
        FIRST_VALUE(card_type) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_card_type,
        FIRST_VALUE(credit_limit) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_credit_limit,
        FIRST_VALUE(account_open_date) OVER (PARTITION BY customer_id ORDER BY CASE WHEN (r_null_customer_id OR r_unparseable_age OR r_unparseable_credit_limit OR r_unparseable_account_open_date) THEN 1 ELSE 0 END, first_name NULLS LAST, last_name NULLS LAST, email NULLS LAST, age NULLS LAST, state NULLS LAST, city NULLS LAST, employment_status NULLS LAST, card_type NULLS LAST, credit_limit NULLS LAST, account_open_date NULLS LAST) AS kept_account_open_date
  FROM flagged
), checked AS (
  SELECT ranked.*,
    customer_id IS NOT NULL AND key_rank > 1 AS r_duplicate_customer_id
  FROM ranked
)
SELECT checked.*, NULLIF(SUBSTR(CASE WHEN r_null_customer_id THEN '; null_customer_id' ELSE '' END || CASE WHEN r_unparseable_age THEN '; unparseable_age' ELSE '' END || CASE WHEN r_unparseable_credit_limit THEN '; unparseable_credit_limit' ELSE '' END || CASE WHEN r_unparseable_account_open_date THEN '; unparseable_account_open_date' ELSE '' END || CASE WHEN r_duplicate_customer_id THEN '; duplicate_customer_id' ELSE '' END, 3), '') AS reject_reason
FROM checked;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT customer_id, first_name, last_name, email, age, state, city, employment_status, card_type, credit_limit, account_open_date FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB" WHERE reject_reason IS NULL;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT reject_reason, customer_id AS customer_id, first_name AS first_name, last_name AS last_name, email AS email, raw_age AS age, state AS state, city AS city, employment_status AS employment_status, card_type AS card_type, raw_credit_limit AS credit_limit, raw_account_open_date AS account_open_date FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB" WHERE reject_reason IS NOT NULL;
SELECT CAST(NULL AS DATE) AS month, COUNT(*) AS rows_read, SUM(CASE WHEN reject_reason IS NULL THEN 0 ELSE 1 END) AS rejected, SUM(CASE WHEN r_null_customer_id THEN 1 ELSE 0 END) AS null_customer_id, SUM(CASE WHEN r_unparseable_age THEN 1 ELSE 0 END) AS unparseable_age, SUM(CASE WHEN r_unparseable_credit_limit THEN 1 ELSE 0 END) AS unparseable_credit_limit, SUM(CASE WHEN r_unparseable_account_open_date THEN 1 ELSE 0 END) AS unparseable_account_open_date, SUM(CASE WHEN r_duplicate_customer_id THEN 1 ELSE 0 END) AS duplicate_customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB" GROUP BY 1 ORDER BY 1 NULLS FIRST;
SELECT MAX(transaction_date) FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB";
SET budget_max_avg_monthly_spend_label = %s;  -- params: '1500'
SET budget_min_necessities_pct_label = %s;  -- params: '60'
SET declining_min_prior_spend_label = %s;  -- params: '2000'
SET hvt_min_avg_monthly_spend_label = %s;  -- params: '5000'
SET declining_max_change_pct_label = %s;  -- params: '-30'
SET budget_max_avg_monthly_spend = %s;  -- params: 1500
SET new_max_tenure_months_label = %s;  -- params: '6'
SET budget_min_necessities_pct = %s;  -- params: 60
SET declining_min_prior_spend = %s;  -- params: 2000
SET hvt_min_avg_monthly_spend = %s;  -- params: 5000
SET declining_max_change_pct = %s;  -- params: -30
SET hvt_min_travel_pct_label = %s;  -- params: '25'
SET new_min_change_pct_label = %s;  -- params: '50'
SET new_max_tenure_months = %s;  -- params: 6
SET hvt_min_travel_pct = %s;  -- params: 25
SET new_min_change_pct = %s;  -- params: 50
SET s_prior90_start = %s;  -- params: '2025-02-03'
SET baseline_start = %s;  -- params: '2025-05-05'
SET s_last90_start = %s;  -- params: '2025-05-04'
SET prior90_start = %s;  -- params: '2025-05-04'
SET s_prior90_end = %s;  -- params: '2025-05-03'
SET feature_date = %s;  -- params: '2025-08-02'
SET last90_start = %s;  -- params: '2025-08-02'
SET period_start = %s;  -- params: '2024-11-01'
SET recent_start = %s;  -- params: '2025-09-02'
SET as_of_month = %s;  -- params: '2025-10-01'
SET prior90_end = %s;  -- params: '2025-08-01'
SET as_of = %s;  -- params: '2025-10-31'
CREATE TEMPORARY STAGE IF NOT EXISTS "ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH txn AS (
  SELECT
    customer_id,
    transaction_date,
    transaction_amount,
    merchant_category,
    CASE WHEN status = 'approved' THEN 1 ELSE 0 END AS is_approved,
    CASE WHEN transaction_date <= CAST($feature_date AS DATE) THEN 1 ELSE 0 END AS by_s
  FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" AS transactions
  WHERE
    transaction_date <= CAST($as_of AS DATE)
), per_customer AS (
  SELECT
    customer_id,
    SUM(is_approved) AS total_transactions,
    SUM(CASE WHEN is_approved = 1 THEN transaction_amount END) AS lifetime_value,
    MIN(CASE WHEN is_approved = 1 THEN transaction_date END) AS first_transaction_date,
    MAX(CASE WHEN is_approved = 1 THEN transaction_date END) AS last_transaction_date,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($last90_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($prior90_start AS DATE)
        AND transaction_date <= CAST($prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_prior_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($last90_start AS DATE)
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS travel_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($last90_start AS DATE)
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS necessities_spend_last_90_days,
    SUM(CASE WHEN is_approved = 1 THEN transaction_amount * transaction_amount END) AS sum_amount_sq,
    MIN(CASE WHEN is_approved = 1 THEN transaction_amount END) AS min_transaction_value,
    MAX(CASE WHEN is_approved = 1 THEN transaction_amount END) AS max_transaction_value,
    MEDIAN(CASE WHEN is_approved = 1 THEN CAST(transaction_amount AS DECIMAL(18, 3)) END) AS median_amount,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($period_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS period_transactions,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($period_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS period_spend,
    COUNT(*) - SUM(is_approved) AS declined_transactions,
    COUNT(*) AS all_transactions,
    SUM(is_approved * by_s) AS s_total_transactions,
    SUM(CASE WHEN is_approved * by_s = 1 THEN transaction_amount END) AS s_lifetime_value,
    MAX(CASE WHEN is_approved * by_s = 1 THEN transaction_date END) AS s_last_transaction_date,
    SUM(
      CASE
        WHEN is_approved * by_s = 1 AND transaction_date >= CAST($s_last90_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved = 1
        AND transaction_date >= CAST($s_prior90_start AS DATE)
        AND transaction_date <= CAST($s_prior90_end AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_spend_prior_90_days,
    SUM(
      CASE
        WHEN is_approved * by_s = 1
        AND transaction_date >= CAST($s_last90_start AS DATE)
        AND merchant_category IN ('Travel', 'Airlines', 'Hotels')
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_travel_spend_last_90_days,
    SUM(
      CASE
        WHEN is_approved * by_s = 1
        AND transaction_date >= CAST($s_last90_start AS DATE)
        AND merchant_category IN ('Grocery', 'Gas', 'Utilities')
        THEN transaction_amount
        ELSE 0
      END
    ) AS s_necessities_spend_last_90_days,
    SUM(
      CASE WHEN is_approved * by_s = 1 THEN transaction_amount * transaction_amount END
    ) AS s_sum_amount_sq,
    SUM(by_s) - SUM(is_approved * by_s) AS s_declined_transactions,
    SUM(by_s) AS s_all_transactions,
    SUM(
      CASE
        WHEN is_approved = 1 AND transaction_date >= CAST($recent_start AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS recent_transactions,
    SUM(CASE WHEN is_approved = 1 AND by_s = 0 THEN transaction_amount ELSE 0 END) AS spend_outcome_window,
    SUM(
      CASE
        WHEN is_approved * by_s = 1 AND transaction_date >= CAST($baseline_start AS DATE)
        THEN transaction_amount
        ELSE 0
      END
    ) AS spend_baseline_window
  FROM txn
  GROUP BY
    customer_id
), moments AS (
  SELECT
    per_customer.*,
    CAST(lifetime_value AS DECIMAL(38, 2)) * 200 + total_transactions AS avg_m,
    2 * total_transactions AS avg_k,
    CAST(total_transactions * sum_amount_sq - lifetime_value * lifetime_value AS DECIMAL(38, 4)) AS var_a,
    CAST(total_transactions * (
      total_transactions - 1
    ) AS DECIMAL(38, 0)) AS var_n,
    CAST(s_lifetime_value AS DECIMAL(38, 2)) * 200 + s_total_transactions AS s_avg_m,
    2 * s_total_transactions AS s_avg_k,
    CAST(s_total_transactions * s_sum_amount_sq - s_lifetime_value * s_lifetime_value AS DECIMAL(38, 4)) AS s_var_a,
    CAST(s_total_transactions * (
      s_total_transactions - 1
    ) AS DECIMAL(38, 0)) AS s_var_n
  FROM per_customer
  WHERE
    total_transactions > 0
), estimates AS (
  SELECT
    moments.*,
    CASE
      WHEN total_transactions > 1
      THEN CAST(ROUND(SQRT(CAST(var_a AS DOUBLE) / CAST(NULLIF(var_n, 0) AS DOUBLE)) * 100) AS DECIMAL(38, 0))
    END AS sd_c0,
    CASE
      WHEN s_total_transactions > 1
      THEN CAST(ROUND(SQRT(CAST(s_var_a AS DOUBLE) / CAST(NULLIF(s_var_n, 0) AS DOUBLE)) * 100) AS DECIMAL(38, 0))
    END AS s_sd_c0
  FROM moments
)
SELECT
  customer_id,
  CAST(total_transactions AS BIGINT) AS total_transactions,
  CAST(lifetime_value AS DECIMAL(18, 2)) AS lifetime_value,
  first_transaction_date,
  last_transaction_date,
  CAST(spend_last_90_days AS DECIMAL(18, 2)) AS spend_last_90_days,
  CAST(spend_prior_90_days AS DECIMAL(18, 2)) AS spend_prior_90_days,
  CAST(travel_spend_last_90_days AS DECIMAL(18, 2)) AS travel_spend_last_90_days,
  CAST(necessities_spend_last_90_days AS DECIMAL(18, 2)) AS necessities_spend_last_90_days,
  CAST(CAST(ROUND((
    avg_m - avg_m % avg_k
  ) / avg_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_transaction_value,
  CAST((
    sd_c0 - CASE
      WHEN sd_c0 > 0 AND (
        2 * sd_c0 - 1
      ) * (
        2 * sd_c0 - 1
      ) * var_n > 40000 * var_a
      THEN 1
      ELSE 0
    END + CASE
      WHEN (
        2 * sd_c0 + 1
      ) * (
        2 * sd_c0 + 1
      ) * var_n <= 40000 * var_a
      THEN 1
      ELSE 0
    END
  ) * 0.01 AS DECIMAL(18, 2)) AS transaction_value_stddev,
  CAST(min_transaction_value AS DECIMAL(18, 2)) AS min_transaction_value,
  CAST(max_transaction_value AS DECIMAL(18, 2)) AS max_transaction_value,
  CAST(ROUND(median_amount, 2) AS DECIMAL(18, 2)) AS median_transaction_value,
  CAST(period_transactions AS BIGINT) AS period_transactions,
  CAST(period_spend AS DECIMAL(18, 2)) AS period_spend,
  CAST(declined_transactions AS BIGINT) AS declined_transactions,
  CAST(all_transactions AS BIGINT) AS all_transactions,
  CAST(s_total_transactions AS BIGINT) AS s_total_transactions,
  CAST(s_lifetime_value AS DECIMAL(18, 2)) AS s_lifetime_value,
  CASE WHEN s_total_transactions > 0 THEN first_transaction_date END AS s_first_transaction_date,
  s_last_transaction_date,
  CAST(s_spend_last_90_days AS DECIMAL(18, 2)) AS s_spend_last_90_days,
  CAST(s_spend_prior_90_days AS DECIMAL(18, 2)) AS s_spend_prior_90_days,
  CAST(s_travel_spend_last_90_days AS DECIMAL(18, 2)) AS s_travel_spend_last_90_days,
  CAST(s_necessities_spend_last_90_days AS DECIMAL(18, 2)) AS s_necessities_spend_last_90_days,
  CASE
    WHEN s_total_transactions > 0
    THEN CAST(CAST(ROUND((
      s_avg_m - s_avg_m % NULLIF(s_avg_k, 0)
    ) / NULLIF(s_avg_k, 0)) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))
  END AS s_avg_transaction_value,
  CAST((
    s_sd_c0 - CASE
      WHEN s_sd_c0 > 0
      AND (
        2 * s_sd_c0 - 1
      ) * (
        2 * s_sd_c0 - 1
      ) * s_var_n > 40000 * s_var_a
      THEN 1
      ELSE 0
    END + CASE
      WHEN (
        2 * s_sd_c0 + 1
      ) * (
        2 * s_sd_c0 + 1
      ) * s_var_n <= 40000 * s_var_a
      THEN 1
      ELSE 0
    END
  ) * 0.01 AS DECIMAL(18, 2)) AS s_transaction_value_stddev,
  CAST(s_declined_transactions AS BIGINT) AS s_declined_transactions,
  CAST(s_all_transactions AS BIGINT) AS s_all_transactions,
  CAST(recent_transactions AS BIGINT) AS recent_transactions,
  CAST(spend_outcome_window AS DECIMAL(18, 2)) AS spend_outcome_window,
  CAST(spend_baseline_window AS DECIMAL(18, 2)) AS spend_baseline_window,
  CAST(total_transactions AS BIGINT) AS n_approved,
  CAST(lifetime_value AS DECIMAL(38, 2)) AS sum_amount,
  CAST(sum_amount_sq AS DECIMAL(38, 4)) AS sum_amount_sq
FROM estimates;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH base AS (
  SELECT
    a.*,
    COALESCE(c.account_open_date, a.first_transaction_date) AS tenure_start,
    CAST($as_of AS DATE) AS as_of_date
  FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS a
  LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB" AS c
    ON c.customer_id = a.customer_id
), ratios AS (
  SELECT
    base.*,
    (
      YEAR(as_of_date) - YEAR(tenure_start)
    ) * 12 + MONTH(as_of_date) - MONTH(tenure_start) - CASE
      WHEN DAY(as_of_date) < DAY(tenure_start) AND as_of_date <> LAST_DAY(as_of_date)
      THEN 1
      ELSE 0
    END AS tenure_months,
    CAST(spend_last_90_days AS DECIMAL(38, 2)) * 200 + 3 AS monthly_m,
    ABS(CAST(spend_last_90_days - spend_prior_90_days AS DECIMAL(38, 2))) * 20000 + spend_prior_90_days AS change_m,
    CAST(travel_spend_last_90_days AS DECIMAL(38, 2)) * 20000 + spend_last_90_days AS travel_m,
    CAST(necessities_spend_last_90_days AS DECIMAL(38, 2)) * 20000 + spend_last_90_days AS necessities_m,
    2 * NULLIF(spend_prior_90_days, 0) AS change_k,
    2 * NULLIF(spend_last_90_days, 0) AS share_k
  FROM base
), features AS (
  SELECT
    ratios.*,
    CAST(SIGN(spend_last_90_days - spend_prior_90_days) * CAST(ROUND((
      change_m - change_m % change_k
    ) / change_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS spend_change_pct,
    CAST(CAST(ROUND((
      monthly_m - monthly_m % 6
    ) / 6) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_monthly_spend,
    CAST(CAST(ROUND((
      travel_m - travel_m % share_k
    ) / share_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS travel_spend_pct,
    CAST(CAST(ROUND((
      necessities_m - necessities_m % share_k
    ) / share_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS necessities_spend_pct
  FROM ratios
), rules AS (
  SELECT
    features.*,
    CASE
      WHEN spend_last_90_days >= 3 * CAST($hvt_min_avg_monthly_spend AS DECIMAL(18, 4))
      AND spend_last_90_days > 0
      AND travel_spend_last_90_days * 100 >= CAST($hvt_min_travel_pct AS DECIMAL(18, 4)) * spend_last_90_days
      THEN 1
      ELSE 0
    END AS is_hvt,
    CASE
      WHEN spend_prior_90_days > 0
      AND (
        spend_last_90_days - spend_prior_90_days
      ) * 100 <= CAST($declining_max_change_pct AS DECIMAL(18, 4)) * spend_prior_90_days
      AND spend_prior_90_days >= CAST($declining_min_prior_spend AS DECIMAL(18, 4))
      THEN 1
      ELSE 0
    END AS is_declining,
    CASE
      WHEN tenure_months <= CAST($new_max_tenure_months AS INT)
      AND spend_prior_90_days > 0
      AND (
        spend_last_90_days - spend_prior_90_days
      ) * 100 >= CAST($new_min_change_pct AS DECIMAL(18, 4)) * spend_prior_90_days
      THEN 1
      ELSE 0
    END AS is_new,
    CASE
      WHEN spend_last_90_days < 3 * CAST($budget_max_avg_monthly_spend AS DECIMAL(18, 4))
      AND spend_last_90_days > 0
      AND necessities_spend_last_90_days * 100 >= CAST($budget_min_necessities_pct AS DECIMAL(18, 4)) * spend_last_90_days
      THEN 1
      ELSE 0
    END AS is_budget
  FROM features
)
SELECT
  customer_id,
  MD5(customer_id) AS customer_key,
  CASE
    WHEN is_hvt = 1
    THEN 'High-Value Travelers'
    WHEN is_declining = 1
    THEN 'Declining'
    WHEN is_new = 1
    THEN 'New & Growing'
    WHEN is_budget = 1
    THEN 'Budget-Conscious'
    ELSE 'Stable Mid-Spenders'
  END AS customer_segment,
  CASE
    WHEN is_hvt = 1
    THEN 'avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ' ≥ ' || $hvt_min_avg_monthly_spend_label || ' and travel_spend_pct ' || CAST(travel_spend_pct AS VARCHAR) || ' ≥ ' || $hvt_min_travel_pct_label
    WHEN is_declining = 1
    THEN 'spend_change_pct ' || CAST(spend_change_pct AS VARCHAR) || ' ≤ ' || $declining_max_change_pct_label || ' and spend_prior_90_days ' || CAST(spend_prior_90_days AS VARCHAR) || ' ≥ ' || $declining_min_prior_spend_label
    WHEN is_new = 1
    THEN 'tenure_months ' || CAST(tenure_months AS VARCHAR) || ' ≤ ' || $new_max_tenure_months_label || ' and spend_change_pct ' || CAST(spend_change_pct AS VARCHAR) || ' ≥ ' || $new_min_change_pct_label
    WHEN is_budget = 1
    THEN 'avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ' < ' || $budget_max_avg_monthly_spend_label || ' and necessities_spend_pct ' || CAST(necessities_spend_pct AS VARCHAR) || ' ≥ ' || $budget_min_necessities_pct_label
    ELSE 'no rule matched: avg_monthly_spend ' || CAST(avg_monthly_spend AS VARCHAR) || ', spend_change_pct ' || COALESCE(CAST(spend_change_pct AS VARCHAR), 'NULL') || ', travel_spend_pct ' || COALESCE(CAST(travel_spend_pct AS VARCHAR), 'NULL') || ', necessities_spend_pct ' || COALESCE(CAST(necessities_spend_pct AS VARCHAR), 'NULL') || ', tenure_months ' || CAST(tenure_months AS VARCHAR)
  END AS segment_reason,
  as_of_date AS segment_assigned_date,
  total_transactions,
  lifetime_value,
  avg_transaction_value,
  first_transaction_date,
  last_transaction_date,
  CAST(tenure_months AS INT) AS tenure_months,
  spend_last_90_days,
  spend_prior_90_days,
  spend_change_pct,
  avg_monthly_spend,
  travel_spend_pct,
  necessities_spend_pct,
  as_of_date
FROM rules;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH ages AS (
  SELECT
    customer_segments.*,
    DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS age_days,
    CAST(lifetime_value AS DECIMAL(38, 2)) * 200 + DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS per_day_m,
    2 * NULLIF(DATEDIFF(DAY, first_transaction_date, last_transaction_date), 0) AS per_day_k
  FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS customer_segments
)
SELECT
  customer_id,
  customer_segment,
  lifetime_value,
  total_transactions,
  first_transaction_date,
  last_transaction_date,
  CAST(age_days AS INT) AS customer_age_days,
  CAST(CAST(ROUND((
    per_day_m - per_day_m % per_day_k
  ) / per_day_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS avg_spend_per_day,
  as_of_date AS metric_calculated_date,
  as_of_date
FROM ages;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
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
FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s
JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS a
  ON a.customer_id = s.customer_id;
SELECT MIN(first_transaction_date) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB";
-- python: calendar_months -> calendar_months
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB" ("MONTH" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/calendar_months.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CALENDAR_MONTHS/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CALENDAR_MONTHS/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH monthly AS (
  SELECT
    customer_id,
    DATE_TRUNC('MONTH', transaction_date) AS month,
    SUM(transaction_amount) AS monthly_spend,
    COUNT(*) AS transaction_count
  FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" AS transactions
  WHERE
    status = 'approved' AND transaction_date <= CAST($as_of AS DATE)
  GROUP BY
    customer_id,
    DATE_TRUNC('MONTH', transaction_date)
), dense AS (
  SELECT
    a.customer_id,
    CAST(m.month AS DATE) AS month,
    CAST(COALESCE(s.monthly_spend, 0) AS DECIMAL(18, 2)) AS monthly_spend,
    CAST(COALESCE(s.transaction_count, 0) AS BIGINT) AS transaction_count
  FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS a
  JOIN "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB" AS m
    ON m.month >= DATE_TRUNC('MONTH', a.first_transaction_date)
    AND m.month <= CAST($as_of_month AS DATE)
  LEFT JOIN monthly AS s
    ON s.customer_id = a.customer_id AND s.month = m.month
), with_prior AS (
  SELECT
    dense.*,
    ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS month_number,
    LAG(monthly_spend) OVER (PARTITION BY customer_id ORDER BY month) AS prior_month_spend
  FROM dense
), with_ratio AS (
  SELECT
    with_prior.*,
    ABS(CAST(monthly_spend - prior_month_spend AS DECIMAL(38, 2))) * 20000 + prior_month_spend AS change_m,
    2 * NULLIF(prior_month_spend, 0) AS change_k
  FROM with_prior
)
SELECT
  customer_id,
  month,
  CAST(month_number AS INT) AS month_number,
  monthly_spend,
  transaction_count,
  prior_month_spend,
  CAST(SIGN(monthly_spend - prior_month_spend) * CAST(ROUND((
    change_m - change_m % change_k
  ) / change_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS mom_change_pct,
  CASE
    WHEN prior_month_spend IS NULL OR prior_month_spend = 0
    THEN NULL
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 >= 25 * prior_month_spend
    THEN 'High Growth'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 >= 5 * prior_month_spend
    THEN 'Growth'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 > -5 * prior_month_spend
    THEN 'Flat'
    WHEN (
      monthly_spend - prior_month_spend
    ) * 100 > -25 * prior_month_spend
    THEN 'Decline'
    ELSE 'High Decline'
  END AS mom_trend_category,
  CASE
    WHEN month < CAST($as_of_month AS DATE)
    OR CAST($as_of AS DATE) = LAST_DAY(CAST($as_of AS DATE))
    THEN TRUE
    ELSE FALSE
  END AS is_complete_month,
  CAST($as_of AS DATE) AS as_of_date
FROM with_ratio;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."RFM_VALUES__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT
  customer_id,
  CAST(DATEDIFF(DAY, last_transaction_date, CAST($as_of AS DATE)) AS BIGINT) AS recency,
  period_transactions AS frequency,
  period_spend AS monetary
FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS customer_activity
ORDER BY
  customer_id;
SELECT total_transactions, first_transaction_date, last_transaction_date FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" ORDER BY customer_id;
-- python: cadence -> cadence
SELECT customer_id, recency, frequency, monetary FROM "ANALYTICS"."SEGENGINE"."RFM_VALUES__RUN_0123456789AB" ORDER BY customer_id;
-- python: customer_rfm -> customer_rfm, rfm_segment_summary
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "RECENCY" NUMBER(38,0), "FREQUENCY" NUMBER(38,0), "MONETARY" NUMBER(18,2), "R_SCORE" NUMBER(38,0), "F_SCORE" NUMBER(38,0), "M_SCORE" NUMBER(38,0), "RFM_SCORE" FLOAT, "RFM_CODE" VARCHAR, "SEGMENT" VARCHAR, "RECOMMENDATION" VARCHAR, "SEGMENTED_AT" TIMESTAMP_NTZ, "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/customer_rfm.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_RFM/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_RFM/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB" ("SEGMENT" VARCHAR, "CUSTOMERS" NUMBER(38,0), "PCT_CUSTOMERS" FLOAT, "TOTAL_MONETARY" NUMBER(18,2), "PCT_REVENUE" FLOAT, "AVG_MONETARY" NUMBER(18,2), "AVG_RECENCY" FLOAT, "AVG_FREQUENCY" FLOAT, "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/rfm_segment_summary.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/RFM_SEGMENT_SUMMARY/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/RFM_SEGMENT_SUMMARY/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB";
-- python: customer_clusters -> customer_clusters, cluster_profiles
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "CLUSTER_ID" NUMBER(38,0), "CLUSTER_NAME" VARCHAR, "DISTANCE_TO_CENTROID" FLOAT, "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/customer_clusters.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_CLUSTERS/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_CLUSTERS/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB" ("CLUSTER_ID" NUMBER(38,0), "CLUSTER_NAME" VARCHAR, "CUSTOMERS" NUMBER(38,0), "PCT_CUSTOMERS" FLOAT, "AVG_RECENCY" FLOAT, "AVG_FREQUENCY" FLOAT, "AVG_MONETARY" NUMBER(18,2), "PCT_REVENUE" FLOAT, "SILHOUETTE" FLOAT, "K" NUMBER(38,0), "INERTIA" FLOAT, "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/cluster_profiles.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CLUSTER_PROFILES/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CLUSTER_PROFILES/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CHURN_LABELS__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
SELECT
  customer_id,
  s_total_transactions AS total_transactions,
  s_lifetime_value AS lifetime_value,
  s_first_transaction_date AS first_transaction_date,
  s_last_transaction_date AS last_transaction_date,
  s_spend_last_90_days AS spend_last_90_days,
  s_spend_prior_90_days AS spend_prior_90_days,
  s_travel_spend_last_90_days AS travel_spend_last_90_days,
  s_necessities_spend_last_90_days AS necessities_spend_last_90_days,
  s_avg_transaction_value AS avg_transaction_value,
  s_transaction_value_stddev AS transaction_value_stddev,
  s_declined_transactions AS declined_transactions,
  s_all_transactions AS all_transactions,
  recent_transactions,
  spend_outcome_window,
  spend_baseline_window,
  CASE
    WHEN recent_transactions = 0
    THEN TRUE
    WHEN spend_outcome_window * 10 < spend_baseline_window * 3
    THEN TRUE
    ELSE FALSE
  END AS churned
FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS customer_activity
WHERE
  s_total_transactions > 0
ORDER BY
  customer_id;
SELECT customer_id, total_transactions, first_transaction_date, last_transaction_date, spend_last_90_days, spend_prior_90_days, churned FROM "ANALYTICS"."SEGENGINE"."CHURN_LABELS__RUN_0123456789AB" ORDER BY customer_id;
SELECT customer_id, total_transactions, first_transaction_date, last_transaction_date, spend_last_90_days, spend_prior_90_days FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" ORDER BY customer_id;
-- python: churn_model -> churn_scores, churn_model_report, churn_model_curves
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "CHURN_RISK_SCORE" FLOAT, "CHURN_PROBABILITY" FLOAT) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/churn_scores.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_SCORES/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_SCORES/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB" ("METRIC" VARCHAR, "VALUE" FLOAT, "DETAIL" VARCHAR, "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/churn_model_report.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_MODEL_REPORT/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_MODEL_REPORT/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB";
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB" ("CURVE" VARCHAR, "X" FLOAT, "Y" FLOAT, "CUSTOMERS" NUMBER(38,0), "AS_OF_DATE" DATE) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/churn_model_curves.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_MODEL_CURVES/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CHURN_MODEL_CURVES/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB";
SELECT customer_id, tenure_months, last_transaction_date FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" ORDER BY customer_id;
-- python: customer_lifecycle -> customer_lifecycle
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "LIFECYCLE_STAGE" VARCHAR) DATA_RETENTION_TIME_IN_DAYS = 0;
PUT 'file://<TMP>/customer_lifecycle.parquet' @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_LIFECYCLE/ AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE;
COPY INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB" FROM @"ANALYTICS"."SEGENGINE"."SEGENGINE_RUN_0123456789AB"/CUSTOMER_LIFECYCLE/ FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
SELECT COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB";
-- python: ml_segments -> ml_segments
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."ML_SEGMENTS__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "ML_SEGMENT_ID" VARCHAR, "ML_SEGMENT_NAME" VARCHAR) DATA_RETENTION_TIME_IN_DAYS = 0;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
WITH ratios AS (
  SELECT
    s.customer_id,
    CAST(s.spend_last_90_days AS DECIMAL(38, 2)) * 20000 + 3 * c.credit_limit AS utilization_m,
    6 * NULLIF(c.credit_limit, 0) AS utilization_k,
    CAST(a.declined_transactions AS DECIMAL(38, 0)) * 20000 + a.all_transactions AS decline_m,
    2 * a.all_transactions AS decline_k
  FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s
  JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS a
    ON a.customer_id = s.customer_id
  LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB" AS c
    ON c.customer_id = s.customer_id
)
SELECT
  s.customer_id,
  s.customer_key,
  c.first_name,
  c.last_name,
  CASE
    WHEN c.first_name IS NULL AND c.last_name IS NULL
    THEN NULL
    ELSE TRIM(COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, ''))
  END AS full_name,
  c.email,
  c.age,
  c.state,
  c.city,
  c.employment_status,
  c.card_type,
  c.credit_limit,
  c.account_open_date,
  CAST(DATEDIFF(DAY, c.account_open_date, CAST($as_of AS DATE)) AS INT) AS account_age_days,
  s.customer_segment,
  s.segment_reason,
  s.segment_assigned_date,
  s.tenure_months,
  s.lifetime_value,
  s.total_transactions,
  l.customer_age_days,
  l.avg_spend_per_day,
  v.avg_transaction_value,
  v.transaction_value_stddev,
  v.min_transaction_value,
  v.max_transaction_value,
  v.median_transaction_value,
  v.spending_consistency,
  s.spend_last_90_days,
  s.spend_prior_90_days,
  s.spend_change_pct,
  s.avg_monthly_spend,
  s.first_transaction_date,
  s.last_transaction_date,
  CAST(DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) AS INT) AS days_since_last_transaction,
  CASE
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 30
    THEN 'Active (30 days)'
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 60
    THEN 'Recent (60 days)'
    WHEN DATEDIFF(DAY, s.last_transaction_date, CAST($as_of AS DATE)) <= 90
    THEN 'At Risk (90 days)'
    ELSE 'Inactive (90+ days)'
  END AS recency_status,
  s.travel_spend_pct,
  s.necessities_spend_pct,
  CASE
    WHEN a.spend_last_90_days > 0
    AND a.travel_spend_last_90_days * 100 >= 25 * a.spend_last_90_days
    THEN 'Travel-Focused'
    WHEN a.spend_last_90_days > 0
    AND a.necessities_spend_last_90_days * 100 >= 60 * a.spend_last_90_days
    THEN 'Necessity-Focused'
    ELSE 'Balanced'
  END AS spending_profile,
  CASE
    WHEN c.credit_limit > 0
    THEN CAST(CAST(ROUND((
      q.utilization_m - q.utilization_m % q.utilization_k
    ) / q.utilization_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))
  END AS credit_utilization_pct,
  a.declined_transactions,
  CAST(CAST(ROUND((
    q.decline_m - q.decline_m % q.decline_k
  ) / q.decline_k) AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2)) AS decline_rate_pct,
  r.r_score,
  r.f_score,
  r.m_score,
  r.segment AS rfm_segment,
  k.cluster_id,
  k.cluster_name,
  m.ml_segment_id,
  m.ml_segment_name,
  ch.churn_risk_score,
  CASE
    WHEN ch.churn_probability IS NULL
    THEN 'Not Scored'
    WHEN ch.churn_probability >= 0.70
    THEN 'High Risk'
    WHEN ch.churn_probability >= 0.40
    THEN 'Medium Risk'
    ELSE 'Low Risk'
  END AS churn_risk_category,
  lc.lifecycle_stage,
  CASE
    WHEN s.customer_segment = 'Declining' OR ch.churn_probability >= 0.70
    THEN TRUE
    ELSE FALSE
  END AS eligible_for_retention_campaign,
  CASE WHEN s.customer_segment = 'New & Growing' THEN TRUE ELSE FALSE END AS eligible_for_onboarding_campaign,
  CASE WHEN s.customer_segment = 'High-Value Travelers' THEN TRUE ELSE FALSE END AS eligible_for_premium_campaign,
  s.as_of_date AS profile_updated_date,
  s.as_of_date
FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s
JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB" AS a
  ON a.customer_id = s.customer_id
JOIN ratios AS q
  ON q.customer_id = s.customer_id
JOIN "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB" AS l
  ON l.customer_id = s.customer_id
JOIN "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB" AS v
  ON v.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB" AS c
  ON c.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" AS r
  ON r.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB" AS k
  ON k.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."ML_SEGMENTS__RUN_0123456789AB" AS m
  ON m.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB" AS ch
  ON ch.customer_id = s.customer_id
LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB" AS lc
  ON lc.customer_id = s.customer_id;
CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB" DATA_RETENTION_TIME_IN_DAYS = 0 AS
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
FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s
LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB" AS c
  ON c.customer_id = s.customer_id;
SELECT 'transactions_checked' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB"
UNION ALL SELECT 'transactions' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB"
UNION ALL SELECT 'transactions_rejects' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS__RUN_0123456789AB"
UNION ALL SELECT 'customers_checked' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB"
UNION ALL SELECT 'customers' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB"
UNION ALL SELECT 'customers_rejects' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS__RUN_0123456789AB"
UNION ALL SELECT 'customer_activity' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB"
UNION ALL SELECT 'customer_segments' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB"
UNION ALL SELECT 'metric_customer_ltv' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB"
UNION ALL SELECT 'metric_avg_transaction_value' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB"
UNION ALL SELECT 'calendar_months' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB"
UNION ALL SELECT 'metric_mom_spend_change' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB"
UNION ALL SELECT 'rfm_values' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."RFM_VALUES__RUN_0123456789AB"
UNION ALL SELECT 'customer_rfm' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB"
UNION ALL SELECT 'rfm_segment_summary' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB"
UNION ALL SELECT 'customer_clusters' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB"
UNION ALL SELECT 'cluster_profiles' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB"
UNION ALL SELECT 'churn_labels' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CHURN_LABELS__RUN_0123456789AB"
UNION ALL SELECT 'churn_scores' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB"
UNION ALL SELECT 'churn_model_report' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB"
UNION ALL SELECT 'churn_model_curves' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB"
UNION ALL SELECT 'customer_lifecycle' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB"
UNION ALL SELECT 'ml_segments' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."ML_SEGMENTS__RUN_0123456789AB"
UNION ALL SELECT 'customer_360_profile' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"
UNION ALL SELECT 'dim_customer' AS table_name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB";
SELECT 'segment' AS kind, customer_segment AS name, COUNT(*) AS n FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" GROUP BY customer_segment
UNION ALL SELECT 'segments', NULL, COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB"
UNION ALL SELECT 'profiles', NULL, COUNT(*) FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"
UNION ALL SELECT 'sample', NULL, COUNT(*) FROM (SELECT customer_id FROM (SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id) - 1 AS i, COUNT(*) OVER () AS total FROM (SELECT DISTINCT customer_id FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" WHERE status = 'approved' AND transaction_date <= CAST($as_of AS DATE))) WHERE MOD(i, GREATEST(1, FLOOR(total / 1000))) = 0 AND i < GREATEST(1, FLOOR(total / 1000)) * 1000);
WITH failing AS (
  SELECT 0 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 1 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 2 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 3 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 4 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 5 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 6 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB" WHERE customer_id IS NULL OR month IS NULL)
  UNION ALL
  SELECT 7 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, month, COUNT(*) OVER (PARTITION BY customer_id, month) AS copies FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 8 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 9 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 10 AS check_no, example FROM (SELECT CAST(customer_key AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB" WHERE customer_key IS NULL)
  UNION ALL
  SELECT 11 AS check_no, example FROM (SELECT CAST(customer_key AS VARCHAR) AS example FROM (SELECT customer_key, COUNT(*) OVER (PARTITION BY customer_key) AS copies FROM "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 12 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 13 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 14 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB" WHERE customer_id IS NULL)
  UNION ALL
  SELECT 15 AS check_no, example FROM (SELECT CAST(customer_id AS VARCHAR) AS example FROM (SELECT customer_id, COUNT(*) OVER (PARTITION BY customer_id) AS copies FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB") WHERE copies > 1)
  UNION ALL
  SELECT 16 AS check_no, example FROM (SELECT CAST(customer_segment AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" WHERE NOT COALESCE(customer_segment IN ('High-Value Travelers', 'Declining', 'New & Growing', 'Budget-Conscious', 'Stable Mid-Spenders'), FALSE))
  UNION ALL
  SELECT 17 AS check_no, example FROM (SELECT CAST(customer_segment AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE NOT COALESCE(customer_segment IN ('High-Value Travelers', 'Declining', 'New & Growing', 'Budget-Conscious', 'Stable Mid-Spenders'), FALSE))
  UNION ALL
  SELECT 18 AS check_no, example FROM (SELECT CAST(customer_segment AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB" WHERE NOT COALESCE(customer_segment IN ('High-Value Travelers', 'Declining', 'New & Growing', 'Budget-Conscious', 'Stable Mid-Spenders'), FALSE))
  UNION ALL
  SELECT 19 AS check_no, example FROM (SELECT CAST(spending_consistency AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB" WHERE NOT COALESCE(spending_consistency IN ('Consistent', 'Moderate', 'Variable'), FALSE))
  UNION ALL
  SELECT 20 AS check_no, example FROM (SELECT CAST(mom_trend_category AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB" WHERE mom_trend_category IS NOT NULL AND mom_trend_category NOT IN ('High Growth', 'Growth', 'Flat', 'Decline', 'High Decline'))
  UNION ALL
  SELECT 21 AS check_no, example FROM (SELECT CAST(recency_status AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE NOT COALESCE(recency_status IN ('Active (30 days)', 'Recent (60 days)', 'At Risk (90 days)', 'Inactive (90+ days)'), FALSE))
  UNION ALL
  SELECT 22 AS check_no, example FROM (SELECT CAST(spending_profile AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE NOT COALESCE(spending_profile IN ('Travel-Focused', 'Necessity-Focused', 'Balanced'), FALSE))
  UNION ALL
  SELECT 23 AS check_no, example FROM (SELECT CAST(segment AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE NOT COALESCE(segment IN ('Champions', 'Loyal Customers', 'Potential Loyalists', 'Promising', 'Need Attention', 'At Risk', 'About to Sleep', 'Can\'t Lose Them', 'Hibernating', 'Lost'), FALSE))
  UNION ALL
  SELECT 24 AS check_no, example FROM (SELECT CAST(rfm_segment AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE rfm_segment IS NOT NULL AND rfm_segment NOT IN ('Champions', 'Loyal Customers', 'Potential Loyalists', 'Promising', 'Need Attention', 'At Risk', 'About to Sleep', 'Can\'t Lose Them', 'Hibernating', 'Lost'))
  UNION ALL
  SELECT 25 AS check_no, example FROM (SELECT CAST(r_score AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE NOT COALESCE(r_score IN (1, 2, 3, 4, 5), FALSE))
  UNION ALL
  SELECT 26 AS check_no, example FROM (SELECT CAST(f_score AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE NOT COALESCE(f_score IN (1, 2, 3, 4, 5), FALSE))
  UNION ALL
  SELECT 27 AS check_no, example FROM (SELECT CAST(m_score AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE NOT COALESCE(m_score IN (1, 2, 3, 4, 5), FALSE))
  UNION ALL
  SELECT 28 AS check_no, example FROM (SELECT CAST(churn_risk_category AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE NOT COALESCE(churn_risk_category IN ('High Risk', 'Medium Risk', 'Low Risk', 'Not Scored'), FALSE))
  UNION ALL
  SELECT 29 AS check_no, example FROM (SELECT CAST(lifecycle_stage AS VARCHAR) AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE NOT COALESCE(lifecycle_stage IN ('New', 'Active', 'Cooling', 'Lapsing', 'Lost'), FALSE))
  UNION ALL
  SELECT 30 AS check_no, example FROM (SELECT p.customer_id AS example FROM (SELECT DISTINCT customer_id FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" WHERE status = 'approved' AND transaction_date <= CAST($as_of AS DATE)) AS p WHERE p.customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB"))
  UNION ALL
  SELECT 31 AS check_no, example FROM (SELECT s.customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s WHERE s.customer_id NOT IN (SELECT customer_id FROM (SELECT DISTINCT customer_id FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" WHERE status = 'approved' AND transaction_date <= CAST($as_of AS DATE))))
  UNION ALL
  SELECT 32 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" WHERE (customer_segment = 'High-Value Travelers' AND (NOT COALESCE((CAST(avg_monthly_spend AS DOUBLE) >= CAST(4999.995 AS DOUBLE) AND CAST(travel_spend_pct AS DOUBLE) >= CAST(24.995 AS DOUBLE)), FALSE))) OR (customer_segment = 'Declining' AND (NOT COALESCE((CAST(spend_change_pct AS DOUBLE) <= CAST(-29.995 AS DOUBLE) AND CAST(spend_prior_90_days AS DOUBLE) >= CAST(2000.0 AS DOUBLE)), FALSE) OR COALESCE((CAST(avg_monthly_spend AS DOUBLE) >= CAST(5000.005 AS DOUBLE) AND CAST(travel_spend_pct AS DOUBLE) >= CAST(25.005 AS DOUBLE)), FALSE))) OR (customer_segment = 'New & Growing' AND (NOT COALESCE((tenure_months <= 6 AND CAST(spend_change_pct AS DOUBLE) >= CAST(49.995 AS DOUBLE)), FALSE) OR COALESCE((CAST(avg_monthly_spend AS DOUBLE) >= CAST(5000.005 AS DOUBLE) AND CAST(travel_spend_pct AS DOUBLE) >= CAST(25.005 AS DOUBLE)), FALSE) OR COALESCE((CAST(spend_change_pct AS DOUBLE) <= CAST(-30.005 AS DOUBLE) AND CAST(spend_prior_90_days AS DOUBLE) >= CAST(2000.0 AS DOUBLE)), FALSE))) OR (customer_segment = 'Budget-Conscious' AND (NOT COALESCE((CAST(avg_monthly_spend AS DOUBLE) < CAST(1500.005 AS DOUBLE) AND CAST(necessities_spend_pct AS DOUBLE) >= CAST(59.995 AS DOUBLE)), FALSE) OR COALESCE((CAST(avg_monthly_spend AS DOUBLE) >= CAST(5000.005 AS DOUBLE) AND CAST(travel_spend_pct AS DOUBLE) >= CAST(25.005 AS DOUBLE)), FALSE) OR COALESCE((CAST(spend_change_pct AS DOUBLE) <= CAST(-30.005 AS DOUBLE) AND CAST(spend_prior_90_days AS DOUBLE) >= CAST(2000.0 AS DOUBLE)), FALSE) OR COALESCE((tenure_months <= 6 AND CAST(spend_change_pct AS DOUBLE) >= CAST(50.005 AS DOUBLE)), FALSE))) OR (customer_segment = 'Stable Mid-Spenders' AND (COALESCE((CAST(avg_monthly_spend AS DOUBLE) >= CAST(5000.005 AS DOUBLE) AND CAST(travel_spend_pct AS DOUBLE) >= CAST(25.005 AS DOUBLE)), FALSE) OR COALESCE((CAST(spend_change_pct AS DOUBLE) <= CAST(-30.005 AS DOUBLE) AND CAST(spend_prior_90_days AS DOUBLE) >= CAST(2000.0 AS DOUBLE)), FALSE) OR COALESCE((tenure_months <= 6 AND CAST(spend_change_pct AS DOUBLE) >= CAST(50.005 AS DOUBLE)), FALSE) OR COALESCE((CAST(avg_monthly_spend AS DOUBLE) < CAST(1499.995 AS DOUBLE) AND CAST(necessities_spend_pct AS DOUBLE) >= CAST(60.005 AS DOUBLE)), FALSE))))
  UNION ALL
  SELECT 33 AS check_no, example FROM (SELECT r.customer_id AS example FROM (SELECT t.customer_id, SUM(CASE WHEN t.transaction_date >= DATEADD(DAY, -90, CAST($as_of AS DATE)) THEN t.transaction_amount ELSE 0 END) AS spend_last_90_days, SUM(CASE WHEN t.transaction_date BETWEEN DATEADD(DAY, -180, CAST($as_of AS DATE)) AND DATEADD(DAY, -91, CAST($as_of AS DATE)) THEN t.transaction_amount ELSE 0 END) AS spend_prior_90_days, SUM(t.transaction_amount) AS lifetime_value, COUNT(*) AS total_transactions FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" AS t WHERE t.customer_id IN (SELECT customer_id FROM (SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id) - 1 AS i, COUNT(*) OVER () AS total FROM (SELECT DISTINCT customer_id FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB" WHERE status = 'approved' AND transaction_date <= CAST($as_of AS DATE))) WHERE MOD(i, GREATEST(1, FLOOR(total / 1000))) = 0 AND i < GREATEST(1, FLOOR(total / 1000)) * 1000) AND t.status = 'approved' AND t.transaction_date <= CAST($as_of AS DATE) GROUP BY t.customer_id) AS r LEFT JOIN "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" AS s ON s.customer_id = r.customer_id WHERE COALESCE(ABS(CAST(r.spend_last_90_days AS DOUBLE) - CAST(s.spend_last_90_days AS DOUBLE)), 1) > 0.001 OR COALESCE(ABS(CAST(r.spend_prior_90_days AS DOUBLE) - CAST(s.spend_prior_90_days AS DOUBLE)), 1) > 0.001 OR COALESCE(ABS(CAST(r.lifetime_value AS DOUBLE) - CAST(s.lifetime_value AS DOUBLE)), 1) > 0.001 OR COALESCE(ABS(CAST(r.total_transactions AS DOUBLE) - CAST(s.total_transactions AS DOUBLE)), 1) > 0.001)
  UNION ALL
  SELECT 34 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"))
  UNION ALL
  SELECT 35 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"))
  UNION ALL
  SELECT 36 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"))
  UNION ALL
  SELECT 37 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"))
  UNION ALL
  SELECT 38 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"))
  UNION ALL
  SELECT 39 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE customer_id NOT IN (SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB"))
  UNION ALL
  SELECT 40 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" WHERE CAST(travel_spend_pct AS DOUBLE) < 0 OR CAST(travel_spend_pct AS DOUBLE) > 100)
  UNION ALL
  SELECT 41 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" WHERE CAST(necessities_spend_pct AS DOUBLE) < 0 OR CAST(necessities_spend_pct AS DOUBLE) > 100)
  UNION ALL
  SELECT 42 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE CAST(travel_spend_pct AS DOUBLE) < 0 OR CAST(travel_spend_pct AS DOUBLE) > 100)
  UNION ALL
  SELECT 43 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE CAST(necessities_spend_pct AS DOUBLE) < 0 OR CAST(necessities_spend_pct AS DOUBLE) > 100)
  UNION ALL
  SELECT 44 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE CAST(decline_rate_pct AS DOUBLE) < 0 OR CAST(decline_rate_pct AS DOUBLE) > 100)
  UNION ALL
  SELECT 45 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE CAST(churn_risk_score AS DOUBLE) < 0 OR CAST(churn_risk_score AS DOUBLE) > 100)
  UNION ALL
  SELECT 46 AS check_no, example FROM (SELECT customer_id AS example FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB" WHERE CAST(credit_utilization_pct AS DOUBLE) > CAST(1000.0 AS DOUBLE) OR CAST(credit_utilization_pct AS DOUBLE) < 0)
), ranked AS (
  SELECT check_no, example, COUNT(*) OVER (PARTITION BY check_no) AS failing, ROW_NUMBER() OVER (PARTITION BY check_no ORDER BY example NULLS FIRST) AS n FROM failing
)
SELECT check_no, failing, example FROM ranked WHERE n <= 3 ORDER BY check_no, n;
WITH p AS (SELECT * FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB"), g AS (SELECT (SELECT MEDIAN(CAST(DATEDIFF(DAY, first_transaction_date, last_transaction_date) AS DOUBLE) / CAST(total_transactions - 1 AS DOUBLE)) FROM p WHERE total_transactions >= 2) AS gap)
SELECT COUNT(*) AS customers, MAX(g.gap) AS gap, SUM(CASE WHEN CAST(days_since_last_transaction AS DOUBLE) <= g.gap AND rfm_segment IN ('At Risk', 'About to Sleep', 'Hibernating', 'Lost', 'Can\'t Lose Them') THEN 1 ELSE 0 END), SUM(CASE WHEN CAST(days_since_last_transaction AS DOUBLE) <= g.gap AND cluster_name IN ('At-Risk (Lapsing)', 'Dormant', 'Fading Regulars', 'Inactive Majority') THEN 1 ELSE 0 END), SUM(CASE WHEN CAST(days_since_last_transaction AS DOUBLE) <= g.gap AND recency_status <> 'Active (30 days)' THEN 1 ELSE 0 END), SUM(CASE WHEN CAST(days_since_last_transaction AS DOUBLE) <= g.gap AND lifecycle_stage IN ('Lapsing', 'Lost') THEN 1 ELSE 0 END), MEDIAN(CAST(days_since_last_transaction AS DOUBLE)), PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY CAST(days_since_last_transaction AS DOUBLE)), MEDIAN(CASE WHEN rfm_segment = 'Champions' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN rfm_segment = 'Loyal Customers' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN cluster_name = 'Champions' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN cluster_name = 'Loyal Customers' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN rfm_segment = 'Lost' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN churn_risk_category = 'High Risk' THEN CAST(days_since_last_transaction AS DOUBLE) END), MEDIAN(CASE WHEN churn_risk_category = 'Low Risk' THEN CAST(days_since_last_transaction AS DOUBLE) END) FROM p CROSS JOIN g;
SELECT table_name, column_name, data_type, numeric_precision, numeric_scale FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE table_schema = %s AND CONTAINS(table_name, %s) ORDER BY table_name, ordinal_position;  -- params: 'SEGENGINE', '__RUN_0123456789AB'
SELECT table_name, column_name, data_type, numeric_precision, numeric_scale FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE table_schema = %s ORDER BY table_name, ordinal_position;  -- params: 'SEGENGINE'
-- then CREATE TABLE IF NOT EXISTS each missing published table with its run table's columns, typed as push types them
BEGIN;
SELECT CURRENT_TRANSACTION();
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS";
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS" ("CUSTOMER_ID", "CUSTOMER_KEY", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TOTAL_TRANSACTIONS", "LIFETIME_VALUE", "AVG_TRANSACTION_VALUE", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "TENURE_MONTHS", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CUSTOMER_KEY", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TOTAL_TRANSACTIONS", "LIFETIME_VALUE", "AVG_TRANSACTION_VALUE", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "TENURE_MONTHS", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV";
INSERT INTO "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV" ("CUSTOMER_ID", "CUSTOMER_SEGMENT", "LIFETIME_VALUE", "TOTAL_TRANSACTIONS", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "CUSTOMER_AGE_DAYS", "AVG_SPEND_PER_DAY", "METRIC_CALCULATED_DATE", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CUSTOMER_SEGMENT", "LIFETIME_VALUE", "TOTAL_TRANSACTIONS", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "CUSTOMER_AGE_DAYS", "AVG_SPEND_PER_DAY", "METRIC_CALCULATED_DATE", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE";
INSERT INTO "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE" ("CUSTOMER_ID", "CUSTOMER_SEGMENT", "AVG_TRANSACTION_VALUE", "TRANSACTION_VALUE_STDDEV", "MIN_TRANSACTION_VALUE", "MAX_TRANSACTION_VALUE", "MEDIAN_TRANSACTION_VALUE", "TRANSACTION_COUNT", "SPENDING_CONSISTENCY", "METRIC_CALCULATED_DATE", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CUSTOMER_SEGMENT", "AVG_TRANSACTION_VALUE", "TRANSACTION_VALUE_STDDEV", "MIN_TRANSACTION_VALUE", "MAX_TRANSACTION_VALUE", "MEDIAN_TRANSACTION_VALUE", "TRANSACTION_COUNT", "SPENDING_CONSISTENCY", "METRIC_CALCULATED_DATE", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE";
INSERT INTO "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE" ("CUSTOMER_ID", "MONTH", "MONTH_NUMBER", "MONTHLY_SPEND", "TRANSACTION_COUNT", "PRIOR_MONTH_SPEND", "MOM_CHANGE_PCT", "MOM_TREND_CATEGORY", "IS_COMPLETE_MONTH", "AS_OF_DATE") SELECT "CUSTOMER_ID", "MONTH", "MONTH_NUMBER", "MONTHLY_SPEND", "TRANSACTION_COUNT", "PRIOR_MONTH_SPEND", "MOM_CHANGE_PCT", "MOM_TREND_CATEGORY", "IS_COMPLETE_MONTH", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM";
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM" ("CUSTOMER_ID", "RECENCY", "FREQUENCY", "MONETARY", "R_SCORE", "F_SCORE", "M_SCORE", "RFM_SCORE", "RFM_CODE", "SEGMENT", "RECOMMENDATION", "SEGMENTED_AT", "AS_OF_DATE") SELECT "CUSTOMER_ID", "RECENCY", "FREQUENCY", "MONETARY", "R_SCORE", "F_SCORE", "M_SCORE", "RFM_SCORE", "RFM_CODE", "SEGMENT", "RECOMMENDATION", "SEGMENTED_AT", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY";
INSERT INTO "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY" ("SEGMENT", "CUSTOMERS", "PCT_CUSTOMERS", "TOTAL_MONETARY", "PCT_REVENUE", "AVG_MONETARY", "AVG_RECENCY", "AVG_FREQUENCY", "AS_OF_DATE") SELECT "SEGMENT", "CUSTOMERS", "PCT_CUSTOMERS", "TOTAL_MONETARY", "PCT_REVENUE", "AVG_MONETARY", "AVG_RECENCY", "AVG_FREQUENCY", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS";
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS" ("CUSTOMER_ID", "CLUSTER_ID", "CLUSTER_NAME", "DISTANCE_TO_CENTROID", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CLUSTER_ID", "CLUSTER_NAME", "DISTANCE_TO_CENTROID", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES";
INSERT INTO "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES" ("CLUSTER_ID", "CLUSTER_NAME", "CUSTOMERS", "PCT_CUSTOMERS", "AVG_RECENCY", "AVG_FREQUENCY", "AVG_MONETARY", "PCT_REVENUE", "SILHOUETTE", "K", "INERTIA", "AS_OF_DATE") SELECT "CLUSTER_ID", "CLUSTER_NAME", "CUSTOMERS", "PCT_CUSTOMERS", "AVG_RECENCY", "AVG_FREQUENCY", "AVG_MONETARY", "PCT_REVENUE", "SILHOUETTE", "K", "INERTIA", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT";
INSERT INTO "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT" ("METRIC", "VALUE", "DETAIL", "AS_OF_DATE") SELECT "METRIC", "VALUE", "DETAIL", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES";
INSERT INTO "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES" ("CURVE", "X", "Y", "CUSTOMERS", "AS_OF_DATE") SELECT "CURVE", "X", "Y", "CUSTOMERS", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE";
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE" ("CUSTOMER_ID", "CUSTOMER_KEY", "FIRST_NAME", "LAST_NAME", "FULL_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE", "ACCOUNT_AGE_DAYS", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TENURE_MONTHS", "LIFETIME_VALUE", "TOTAL_TRANSACTIONS", "CUSTOMER_AGE_DAYS", "AVG_SPEND_PER_DAY", "AVG_TRANSACTION_VALUE", "TRANSACTION_VALUE_STDDEV", "MIN_TRANSACTION_VALUE", "MAX_TRANSACTION_VALUE", "MEDIAN_TRANSACTION_VALUE", "SPENDING_CONSISTENCY", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "DAYS_SINCE_LAST_TRANSACTION", "RECENCY_STATUS", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "SPENDING_PROFILE", "CREDIT_UTILIZATION_PCT", "DECLINED_TRANSACTIONS", "DECLINE_RATE_PCT", "R_SCORE", "F_SCORE", "M_SCORE", "RFM_SEGMENT", "CLUSTER_ID", "CLUSTER_NAME", "ML_SEGMENT_ID", "ML_SEGMENT_NAME", "CHURN_RISK_SCORE", "CHURN_RISK_CATEGORY", "LIFECYCLE_STAGE", "ELIGIBLE_FOR_RETENTION_CAMPAIGN", "ELIGIBLE_FOR_ONBOARDING_CAMPAIGN", "ELIGIBLE_FOR_PREMIUM_CAMPAIGN", "PROFILE_UPDATED_DATE", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CUSTOMER_KEY", "FIRST_NAME", "LAST_NAME", "FULL_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE", "ACCOUNT_AGE_DAYS", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TENURE_MONTHS", "LIFETIME_VALUE", "TOTAL_TRANSACTIONS", "CUSTOMER_AGE_DAYS", "AVG_SPEND_PER_DAY", "AVG_TRANSACTION_VALUE", "TRANSACTION_VALUE_STDDEV", "MIN_TRANSACTION_VALUE", "MAX_TRANSACTION_VALUE", "MEDIAN_TRANSACTION_VALUE", "SPENDING_CONSISTENCY", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "DAYS_SINCE_LAST_TRANSACTION", "RECENCY_STATUS", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "SPENDING_PROFILE", "CREDIT_UTILIZATION_PCT", "DECLINED_TRANSACTIONS", "DECLINE_RATE_PCT", "R_SCORE", "F_SCORE", "M_SCORE", "RFM_SEGMENT", "CLUSTER_ID", "CLUSTER_NAME", "ML_SEGMENT_ID", "ML_SEGMENT_NAME", "CHURN_RISK_SCORE", "CHURN_RISK_CATEGORY", "LIFECYCLE_STAGE", "ELIGIBLE_FOR_RETENTION_CAMPAIGN", "ELIGIBLE_FOR_ONBOARDING_CAMPAIGN", "ELIGIBLE_FOR_PREMIUM_CAMPAIGN", "PROFILE_UPDATED_DATE", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER";
INSERT INTO "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER" ("CUSTOMER_KEY", "CUSTOMER_ID", "FIRST_NAME", "LAST_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE", "IS_CURRENT", "AS_OF_DATE") SELECT "CUSTOMER_KEY", "CUSTOMER_ID", "FIRST_NAME", "LAST_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE", "IS_CURRENT", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS_HISTORY" WHERE "AS_OF_DATE" = %s;  -- params: '2025-10-31'
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS_HISTORY" ("CUSTOMER_ID", "CUSTOMER_KEY", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TOTAL_TRANSACTIONS", "LIFETIME_VALUE", "AVG_TRANSACTION_VALUE", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "TENURE_MONTHS", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "AS_OF_DATE") SELECT "CUSTOMER_ID", "CUSTOMER_KEY", "CUSTOMER_SEGMENT", "SEGMENT_REASON", "SEGMENT_ASSIGNED_DATE", "TOTAL_TRANSACTIONS", "LIFETIME_VALUE", "AVG_TRANSACTION_VALUE", "FIRST_TRANSACTION_DATE", "LAST_TRANSACTION_DATE", "TENURE_MONTHS", "SPEND_LAST_90_DAYS", "SPEND_PRIOR_90_DAYS", "SPEND_CHANGE_PCT", "AVG_MONTHLY_SPEND", "TRAVEL_SPEND_PCT", "NECESSITIES_SPEND_PCT", "AS_OF_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS";
INSERT INTO "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS" ("REJECT_REASON", "TRANSACTION_ID", "CUSTOMER_ID", "TRANSACTION_DATE", "TRANSACTION_AMOUNT", "MERCHANT_NAME", "MERCHANT_CATEGORY", "CHANNEL", "STATUS") SELECT "REJECT_REASON", "TRANSACTION_ID", "CUSTOMER_ID", "TRANSACTION_DATE", "TRANSACTION_AMOUNT", "MERCHANT_NAME", "MERCHANT_CATEGORY", "CHANNEL", "STATUS" FROM "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS__RUN_0123456789AB";
DELETE FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS";
INSERT INTO "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS" ("REJECT_REASON", "CUSTOMER_ID", "FIRST_NAME", "LAST_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE") SELECT "REJECT_REASON", "CUSTOMER_ID", "FIRST_NAME", "LAST_NAME", "EMAIL", "AGE", "STATE", "CITY", "EMPLOYMENT_STATUS", "CARD_TYPE", "CREDIT_LIMIT", "ACCOUNT_OPEN_DATE" FROM "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS__RUN_0123456789AB";
COMMIT;
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."TRANSACTIONS_CHECKED__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."TRANSACTIONS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."TRANSACTIONS_REJECTS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMERS_CHECKED__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMERS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMERS_REJECTS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_ACTIVITY__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."METRIC_CUSTOMER_LTV__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."METRIC_AVG_TRANSACTION_VALUE__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CALENDAR_MONTHS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."METRIC_MOM_SPEND_CHANGE__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."RFM_VALUES__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_RFM__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."RFM_SEGMENT_SUMMARY__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_CLUSTERS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CLUSTER_PROFILES__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CHURN_LABELS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CHURN_SCORES__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CHURN_MODEL_REPORT__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CHURN_MODEL_CURVES__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_LIFECYCLE__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."ML_SEGMENTS__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."CUSTOMER_360_PROFILE__RUN_0123456789AB";
DROP TABLE IF EXISTS "ANALYTICS"."SEGENGINE"."DIM_CUSTOMER__RUN_0123456789AB";
