SELECT * REPLACE (TO_DATE("TXN_TS") AS "TXN_TS") FROM "SRC"."RAW"."TRANSACTIONS" WHERE TO_DATE("TXN_TS") >= %s AND TO_DATE("TXN_TS") < %s;  -- params: '2025-01-01', '2025-02-01'
SELECT MIN(TO_DATE("txn_date")), MAX(TO_DATE("txn_date")) FROM "txns" WHERE TO_DATE("txn_date") >= %s;  -- params: '2025-09-01'
SELECT * FROM "SRC"."raw"."customers";
