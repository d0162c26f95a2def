"""The summary path of `run` (design §12.1): local-only inputs for the two lake-reading models.

queries/customer_activity.sql and queries/metric_mom_spend_change.sql stay the portable models
(they read raw `transactions`, here and inside Snowflake). Locally, `attach_parts` builds the
relation `activity_parts`: the month summaries (lake/summaries.py) of every whole month on or
before as_of that no window boundary cuts, plus the raw rows of the cut months summarised per
(customer, date). No part straddles a window boundary, so "the window contains the part"
(part_lo >= start AND part_hi <= end) is exact, and every window aggregate is a sum over parts.
`variant_sql` swaps the models' first CTEs (the only ones reading `transactions`) for ones over
`activity_parts`; the rest of each model's text is used as it is, so both paths share it.
`segengine run --no-summaries` skips all this (the reference for the identity test).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb

from segengine.errors import QueryError
from segengine.lake import summaries
from segengine.lake.layout import Layout, month_key

PARTS = "activity_parts"

WINDOW_STARTS = ("last90_start", "prior90_start", "period_start", "s_last90_start",
                 "s_prior90_start", "recent_start", "baseline_start")
"""Inclusive lower bounds of the models' windows (date >= start)."""
WINDOW_ENDS = ("as_of", "prior90_end", "feature_date", "s_prior90_end")
"""Inclusive upper bounds (date <= end); feature_date also starts the outcome window (> S)."""
NOT_WINDOWS = ("as_of_month",)
"""Date parameters that bound no transaction filter."""


def part_starts(params: dict[str, Any]) -> list[date]:
    """Every date a window starts on, or starts right after (end + 1): parts never straddle
    one. An unknown date parameter counts both ways, to be safe."""
    starts: set[date] = set()
    for name, value in params.items():
        if not isinstance(value, date) or name in NOT_WINDOWS:
            continue
        known = name in WINDOW_STARTS or name in WINDOW_ENDS
        if name in WINDOW_STARTS or not known:
            starts.add(value)
        if name in WINDOW_ENDS or not known:
            starts.add(value + timedelta(days=1))
    return sorted(starts)


def cut_months(params: dict[str, Any]) -> set[str]:
    """Months some window boundary falls inside of (they are read raw)."""
    return {month_key(d) for d in part_starts(params) if d.day != 1}


def _paths(files: list[Any]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def attach_parts(con: duckdb.DuckDBPyConnection, layout: Layout,
                 params: dict[str, Any]) -> dict[str, Any]:
    """Create the view `activity_parts` for as_of = params["as_of"] (the cut months' parts are
    computed into table `cut_parts` once), rebuilding stale summaries of the whole months first.
    Returns what was read (log and tests)."""
    as_of: date = params["as_of"]
    months = [m for m in summaries.partition_months(layout) if m <= month_key(as_of)]
    cut = sorted(cut_months(params) & set(months))
    whole = [m for m in months if m not in cut]
    rebuilt = summaries.refresh(layout, con, months=whole)
    inner = [d for d in part_starts(params) if d.day != 1 and month_key(d) in cut]
    bind = {f"b{i}": d for i, d in enumerate(inner)} | {"as_of": as_of}
    lo = ("GREATEST(" + summaries.MONTH_LO + ", CASE " + " ".join(
        f"WHEN transaction_date >= $b{i} THEN CAST($b{i} AS DATE)"
        for i in reversed(range(len(inner)))) + " END)") if inner else summaries.MONTH_LO
    hi = ("LEAST(" + summaries.MONTH_HI + ", CASE " + " ".join(
        f"WHEN transaction_date < $b{i} THEN CAST($b{i} AS DATE) - 1"
        for i in range(len(inner))) + " END)") if inner else summaries.MONTH_HI
    raw = (f"read_parquet({_paths([layout.partition_file(m) for m in cut])})" if cut else
           "(SELECT * FROM transactions WHERE FALSE)")
    for amount_type in ("INTEGER", "BIGINT"):
        try:
            con.execute("CREATE OR REPLACE TABLE cut_parts AS " + summaries.parts_select(
                raw, part_lo=lo, part_hi=hi, amounts=amount_type,
                where="transaction_date <= CAST($as_of AS DATE)"), bind)
            break
        except duckdb.ConversionException:
            if amount_type == "BIGINT":
                raise
    parts = ["SELECT * FROM cut_parts"]
    if whole:
        files = _paths([summaries.summary_file(layout, m) for m in whole])
        parts.append(f"SELECT * FROM read_parquet({files}, union_by_name = true)")
    con.execute(f"CREATE OR REPLACE VIEW {PARTS} AS " + " UNION ALL BY NAME ".join(parts))
    return {"whole": whole, "cut": cut, "rebuilt": rebuilt}


def release_parts(con: duckdb.DuckDBPyConnection) -> None:
    """Drop `activity_parts` and the cut months' parts once both models reading them are done
    (customer_activity, then metric_mom_spend_change): ~0.5 GB of DuckDB memory at 10x that the
    later stages would otherwise hold. A no-op on the raw path."""
    con.execute(f"DROP VIEW IF EXISTS {PARTS}")
    con.execute("DROP TABLE IF EXISTS cut_parts")


def has_parts(con: duckdb.DuckDBPyConnection) -> bool:
    """True when this database reads the lake through `activity_parts` (summary path)."""
    rows = con.sql("SELECT COUNT(*) FROM duckdb_views() WHERE view_name = ?",
                   params=[PARTS]).fetchall()
    return bool(rows[0][0])


def _window(lo: str | None = None, hi: str | None = None) -> str:
    conds = ([f"part_lo >= CAST(${lo} AS DATE)"] if lo else []) + (
        [f"part_hi <= CAST(${hi} AS DATE)"] if hi else [])
    return " AND ".join(conds) or "TRUE"


def _money(column: str, cond: str | None = None, *, zero: bool = True) -> str:
    """Cents summed over the parts in a window, as DECIMAL(38, 2) dollars (as SUM over
    DECIMAL(12, 2) amounts gives); 0 for none when `zero` (the models' ELSE 0), else NULL."""
    if cond is None:
        return f"SUM({column}) * 0.01"
    if not zero:
        return f"SUM(CASE WHEN {cond} THEN {column} END) * 0.01"
    return f"SUM(CASE WHEN {cond} THEN {column} ELSE 0 END) * 0.01"


def _count(column: str, cond: str) -> str:
    return f"SUM(CASE WHEN {cond} THEN {column} ELSE 0 END)"


_S = _window(hi="feature_date")
_L90 = _window("last90_start")
_SL90 = _window("s_last90_start", "feature_date")

ACTIVITY_HEAD = f"""WITH p AS (
    SELECT * FROM {PARTS} WHERE part_hi <= CAST($as_of AS DATE)
),
per_customer AS (
    SELECT
        customer_id,
        SUM(n_approved) AS total_transactions,
        SUM(CASE WHEN n_approved > 0 THEN sum_c END) * 0.01 AS lifetime_value,
        MIN(first_date) AS first_transaction_date,
        MAX(last_date) AS last_transaction_date,
        {_money("sum_c", _L90)} AS spend_last_90_days,
        {_money("sum_c", _window("prior90_start", "prior90_end"))} AS spend_prior_90_days,
        {_money("travel_c", _L90)} AS travel_spend_last_90_days,
        {_money("necessities_c", _L90)} AS necessities_spend_last_90_days,
        SUM(sum_sq_c) * 0.0001 AS sum_amount_sq,
        CAST(MIN(min_c) * 0.01 AS DECIMAL(12, 2)) AS min_transaction_value,
        CAST(MAX(max_c) * 0.01 AS DECIMAL(12, 2)) AS max_transaction_value,
        CAST(CAST(CAST(LIST_MEDIAN(FLATTEN(LIST(amounts) FILTER (WHERE amounts IS NOT NULL)))
                       * 10 AS BIGINT) AS DECIMAL(18, 0)) * 0.001 AS DECIMAL(18, 3))
            AS median_amount,
        {_count("n_approved", _window("period_start"))} AS period_transactions,
        {_money("sum_c", _window("period_start"))} AS period_spend,
        SUM(n_all) - SUM(n_approved) AS declined_transactions,
        SUM(n_all) AS all_transactions,
        {_count("n_approved", _S)} AS s_total_transactions,
        {_money("sum_c", _S + " AND n_approved > 0", zero=False)} AS s_lifetime_value,
        MAX(CASE WHEN {_S} THEN last_date END) AS s_last_transaction_date,
        {_money("sum_c", _SL90)} AS s_spend_last_90_days,
        {_money("sum_c", _window("s_prior90_start", "s_prior90_end"))} AS s_spend_prior_90_days,
        {_money("travel_c", _SL90)} AS s_travel_spend_last_90_days,
        {_money("necessities_c", _SL90)} AS s_necessities_spend_last_90_days,
        SUM(CASE WHEN {_S} THEN sum_sq_c END) * 0.0001 AS s_sum_amount_sq,
        {_count("n_all", _S)} - {_count("n_approved", _S)} AS s_declined_transactions,
        {_count("n_all", _S)} AS s_all_transactions,
        {_count("n_approved", _window("recent_start"))} AS recent_transactions,
        {_money("sum_c", "part_lo > CAST($feature_date AS DATE)")} AS spend_outcome_window,
        {_money("sum_c", _window("baseline_start", "feature_date"))} AS spend_baseline_window
    FROM p
    GROUP BY customer_id
),
"""

MOM_HEAD = f"""WITH monthly AS (
    SELECT
        customer_id,
        DATE_TRUNC('month', part_lo) AS month,
        SUM(sum_c) * 0.01 AS monthly_spend,
        SUM(n_approved) AS transaction_count
    FROM {PARTS}
    WHERE n_approved > 0
      AND part_hi <= CAST($as_of AS DATE)
    GROUP BY customer_id, DATE_TRUNC('month', part_lo)
),
"""

_VARIANTS = {"customer_activity": (ACTIVITY_HEAD, "moments AS ("),
             "metric_mom_spend_change": (MOM_HEAD, "dense AS (")}
VARIANT_MODELS = frozenset(_VARIANTS)


def variant_sql(name: str, sql: str) -> str:
    """The model's text with its lake-reading CTEs replaced by ones over `activity_parts`."""
    if name not in _VARIANTS:
        return sql
    head, marker = _VARIANTS[name]
    at = sql.find(marker)
    if at < 0:
        raise QueryError(f"queries/{name}.sql no longer has the CTE `{marker}` the summary path "
                         "continues from; update run/summary_path.py or use --no-summaries")
    return head + sql[at:]
