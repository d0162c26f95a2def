"""The source tables of `run --engine snowflake` mapped and validated in Snowflake SQL (pure).

The same column mapping as pull (`[snowflake.source.columns]`, `[ingest.columns]`-style values:
a source column name, matched ignoring case, or a DuckDB expression, checked with DuckDB's parser
and translated by sqlglot) and the §3 rules of lake.validate, written as SQL so no transaction
row leaves Snowflake. One SELECT per source computes every mapped column, a boolean per reject
reason and `reject_reason` (all reasons, joined by "; " in validate's order); the engine keeps
it as a `<source>_checked` run table, from which the valid rows (typed as the lake) and the
rejects are taken. Where a rule cannot be expressed the same way, the difference is named in
README "Scaling out" and here:
- rows without a transaction_id are never duplicates (pull derives a unique id from the row's
  content for them; the run table keeps NULL, which no model reads);
- of rows sharing an id in one month, the kept one is the first valid one in content order
  (pull keeps the first valid one in the order Snowflake returned the rows: arbitrary);
- amounts are read through their text (`CAST(x AS VARCHAR)`): exact for NUMBER and text
  columns; a FLOAT column is printed by Snowflake with ~15 significant digits, so a float that
  pull sees as 0.30000000000000004 (`sub_cent_amount`) is 0.30 here. Store money as NUMBER.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from segengine.errors import ConfigError, DataError
from segengine.lake.mapping import check_expression
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.sync.source import SourceTable
from segengine.sync.sql import Statement, quote_exact

WHITESPACE = "' ' || CHR(9) || CHR(10) || CHR(11) || CHR(12) || CHR(13)"
"""What TRIM strips (Polars' strip_chars strips whitespace; Snowflake's TRIM only spaces)."""
SUB_CENT_PATTERN = "'.*[.][0-9][0-9]0*[1-9].*'"
"""A third or later decimal that is not zero (validate's _SUB_CENT_TEXT; REGEXP_LIKE matches
the whole string, hence the `.*` on both sides; `[.]` needs no backslash in either dialect)."""
DATE_TYPES = ("DATE", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP")

TRANSACTION_REASONS = ("null_customer_id", "null_transaction_date", "future_date", "null_amount",
                       "unparseable_amount", "amount_out_of_range", "sub_cent_amount",
                       "non_positive_amount", "unknown_status", "duplicate_transaction_id",
                       "duplicate_id_conflict")
"""validate_transactions' reasons in its order (unparseable_transaction_date cannot occur:
the date is TO_DATE(<a plain date column>), as pull reads it, which fails on bad text)."""
CUSTOMER_REASONS = ("null_customer_id", "unparseable_age", "unparseable_credit_limit",
                    "unparseable_account_open_date", "duplicate_customer_id")
"""validate_customers' reasons in its order."""


@dataclass(frozen=True)
class SourceColumn:
    """A column of a source table as the catalog spells and types it."""

    name: str
    data_type: str


def columns_select(table: SourceTable) -> Statement:
    """Names and types of a source table's columns, in order."""
    catalog = (f'"{table.database.upper()}".INFORMATION_SCHEMA' if table.database
               else "INFORMATION_SCHEMA")
    where = "table_schema = %s" if table.schema else "table_schema = CURRENT_SCHEMA()"
    params = ((table.schema,) if table.schema else ()) + (table.name,)
    return Statement(f"SELECT column_name, data_type FROM {catalog}.COLUMNS WHERE {where} "
                     "AND table_name = %s ORDER BY ordinal_position", params,
                     purpose=f"find columns of {table.name}")


def _expression(value: str, columns: Sequence[SourceColumn], *, target: str,
                setting: str) -> str:
    """A mapping expression (DuckDB) in Snowflake SQL, its columns quoted as the catalog names
    them. Checked first like ingest/pull: one scalar expression over source columns only."""
    con = duckdb.connect()
    try:
        check_expression(con, value, target=target, setting=setting)
    finally:
        con.close()
    by_upper = {c.name.upper(): c.name for c in columns}

    def exact(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table:
            name = by_upper.get(node.name.upper())
            if name is None:
                raise DataError(
                    f"[{setting}] {target} = {value!r} reads column {node.name}, which the "
                    f"source table does not have (columns: {', '.join(by_upper.values())}). "
                    "Fix the expression in segengine.toml")
            return exp.column(exp.to_identifier(name, quoted=True))
        return node

    try:
        tree = sqlglot.parse_one(value, read="duckdb").transform(exact)
        return tree.sql(dialect="snowflake", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise ConfigError(f"[{setting}] {target} = {value!r} cannot be translated to "
                          f"Snowflake SQL: {exc}. Use a simpler expression") from exc


@dataclass(frozen=True)
class Mapped:
    """One target column's source: Snowflake SQL and, for a plain column, its catalog type."""

    sql: str
    column_type: str | None = None


def map_source(columns: Sequence[SourceColumn], mapping: Mapping[str, str], *,
               schema: Mapping[str, object], required: Sequence[str], setting: str,
               source_name: str) -> dict[str, Mapped]:
    """Target column -> its source, exactly as lake.mapping.map_columns decides (a source
    column ignoring case, else a mapping expression, else absent); every missing required
    column is reported at once, naming the setting."""
    unknown = sorted(set(mapping) - set(schema))
    if unknown:
        raise ConfigError(f"[{setting}] maps unknown target column(s) {', '.join(unknown)}. "
                          f"Valid targets: {', '.join(schema)}")
    by_lower = {c.name.lower(): c for c in columns}
    out: dict[str, Mapped] = {}
    for target in schema:
        value = mapping.get(target, target).strip()
        if value.lower() in by_lower:
            column = by_lower[value.lower()]
            out[target] = Mapped(quote_exact(column.name), column.data_type.upper())
        elif target in mapping:
            if ";" in "".join(value.split("'")[::2]):
                raise ConfigError(f"[{setting}] {target} = {value!r} must be one SQL expression")
            out[target] = Mapped(f"({_expression(value, columns, target=target, setting=setting)})")
    missing = [c for c in required if c not in out]
    if missing:
        raise DataError(
            f"{source_name} is missing required column(s) {', '.join(missing)} (source "
            f"columns: {', '.join(c.name for c in columns)}). Map them in segengine.toml, e.g. "
            f'add `{missing[0]} = "<source column or SQL expression>"` under [{setting}]')
    return out


def _text(sql: str) -> str:
    return f"NULLIF(TRIM(CAST({sql} AS VARCHAR), {WHITESPACE}), '')"


def _text_of(mapped: Mapping[str, Mapped], column: str) -> str:
    return _text(mapped[column].sql) if column in mapped else "CAST(NULL AS VARCHAR)"


def _reasons(flags: Sequence[str]) -> str:
    """reject_reason: the names of the true flags joined by '; ' in order, NULL when none."""
    pieces = " || ".join(f"CASE WHEN r_{f} THEN '; {f}' ELSE '' END" for f in flags)
    return f"NULLIF(SUBSTR({pieces}, 3), '')"


def _keep_first(key: str, partition: str, content: Sequence[str], reason: str,
                conflict: str | None, *, own: str) -> tuple[str, str]:
    """(window columns, duplicate flags): of the rows sharing `key` in `partition`, the first
    valid one in content order is kept; the others are `reason` (or `conflict` when their
    content differs from the kept row's)."""
    window = (f"PARTITION BY {partition} ORDER BY CASE WHEN {own} THEN 1 ELSE 0 END, "
              + ", ".join(f"{c} NULLS LAST" for c in content))
    kept = ",\n        ".join(f"FIRST_VALUE({c}) OVER ({window}) AS kept_{c}" for c in content)
    columns = (f"ROW_NUMBER() OVER ({window}) AS key_rank,\n        {kept}")
    later = f"{key} IS NOT NULL AND key_rank > 1"
    if conflict is None:
        return columns, f"{later} AS r_{reason}"
    same = " AND ".join(f"{c} IS NOT DISTINCT FROM kept_{c}" for c in content)
    return columns, (f"{later} AND ({same}) AS r_{reason},\n    "
                     f"{later} AND NOT ({same}) AS r_{conflict}")


def _own_reasons(checks: Sequence[tuple[str, str]]) -> str:
    return "(" + " OR ".join(f"r_{name}" for name, _ in checks) + ")"


def _checked(mapped_sql: str, typed_sql: Sequence[str], checks: Sequence[tuple[str, str]],
             duplicates: tuple[str, str], reasons: Sequence[str], source: str) -> str:
    """mapped -> typed (one CTE per entry of `typed_sql`, each reading the one before) ->
    flagged (a boolean per reason) -> ranked/checked (duplicates) -> reject_reason."""
    flags = ",\n    ".join(f"COALESCE({cond}, FALSE) AS r_{name}" for name, cond in checks)
    own = _own_reasons(checks)
    windows, duplicate_flags = duplicates
    typed, before = [], "mapped"
    for i, text in enumerate(typed_sql, start=1):
        name = f"typed{i}" if i < len(typed_sql) else "typed"
        typed.append(f"{name} AS (\n  SELECT {before}.*,\n    {text}\n  FROM {before}\n)")
        before = name
    return (f"WITH mapped AS (\n  SELECT\n    {mapped_sql}\n  FROM {source}\n), "
            f"{', '.join(typed)}, flagged AS (\n"
            f"  SELECT typed.*,\n    {flags}\n  FROM typed\n), ranked AS (\n"
            f"  SELECT flagged.*, {own} AS has_reason,\n        {windows}\n  FROM flagged\n"
            f"), checked AS (\n  SELECT ranked.*,\n    {duplicate_flags}\n  FROM ranked\n)\n"
            f"SELECT checked.*, {_reasons(reasons)} AS reject_reason\nFROM checked")


def literal(value: date | Decimal) -> str:
    """A date or an exact amount as a Snowflake literal rendered by sqlglot (values the engine
    computed or validated, never text typed by a user)."""
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE").sql(dialect="snowflake")
    return exp.Literal.number(format(Decimal(value), "f")).sql(dialect="snowflake")


def transactions_select(table: SourceTable, mapped: Mapping[str, Mapped], *, date_column: str,
                        latest: date, max_amount: Decimal) -> Statement:
    """Every source transaction mapped, typed and checked. `latest`: the last date allowed
    (the run's day + 1, future_date); `max_amount`: ingest.max_amount (amount_out_of_range)."""
    status = (f"LOWER({_text(mapped['status'].sql)})" if "status" in mapped
              else "'approved'")
    columns = [
        f"{_text_of(mapped, 'transaction_id')} AS transaction_id",
        f"{_text_of(mapped, 'customer_id')} AS customer_id",
        f"TO_DATE({quote_exact(date_column)}) AS transaction_date",
        f"{_text_of(mapped, 'transaction_amount')} AS raw_amount",
        f"{_text_of(mapped, 'merchant_name')} AS merchant_name",
        f"COALESCE({_text_of(mapped, 'merchant_category')}, 'Uncategorized') "
        "AS merchant_category",
        f"{_text_of(mapped, 'channel')} AS channel",
        f"{status} AS status",
    ]
    typed = ["TRY_CAST(raw_amount AS NUMBER(38, 10)) AS wide,\n"
             "    TRY_CAST(raw_amount AS DOUBLE) IS NOT NULL AS is_number",
             "CASE WHEN wide = ROUND(wide, 2) AND ABS(wide) < 10000000000\n"
             "         THEN CAST(wide AS NUMBER(12, 2)) END AS transaction_amount"]
    checks = [
        ("null_customer_id", "customer_id IS NULL"),
        ("null_transaction_date", "transaction_date IS NULL"),
        ("future_date", f"transaction_date > {literal(latest)}"),
        ("null_amount", "raw_amount IS NULL"),
        ("unparseable_amount", "raw_amount IS NOT NULL AND wide IS NULL AND NOT is_number"),
        ("amount_out_of_range", f"wide > {literal(max_amount)} OR (wide IS NULL AND is_number)"),
        ("sub_cent_amount", "wide <> ROUND(wide, 2) OR (wide IS NOT NULL "
                            f"AND REGEXP_LIKE(raw_amount, {SUB_CENT_PATTERN}))"),
        ("non_positive_amount", "wide <= 0"),
        ("unknown_status", "NOT COALESCE(status IN ('approved', 'declined'), FALSE)"),
    ]
    content = [c for c in TRANSACTIONS if c != "transaction_id"]
    duplicates = _keep_first("transaction_id", "transaction_id, DATE_TRUNC('MONTH', "
                             "transaction_date)", content, "duplicate_transaction_id",
                             "duplicate_id_conflict", own=_own_reasons(checks))
    text = _checked(",\n    ".join(columns), typed, checks, duplicates, TRANSACTION_REASONS,
                    table.ref())
    return Statement(text, purpose="check transactions")


def customers_select(table: SourceTable, mapped: Mapping[str, Mapped]) -> Statement:
    """Every source customer mapped, typed and checked (validate_customers' rules)."""
    texts = [c for c, t in CUSTOMERS.items() if t == pl.String]
    columns = [f"{_text_of(mapped, c)} AS {c}" for c in texts]
    columns += [f"{_text_of(mapped, 'age')} AS raw_age",
                f"{_text_of(mapped, 'credit_limit')} AS raw_credit_limit",
                f"{_text_of(mapped, 'account_open_date')} AS raw_account_open_date"]
    opened = mapped.get("account_open_date")
    if opened is None:
        opened_sql = "CAST(NULL AS DATE)"
    elif opened.column_type in DATE_TYPES or opened.column_type is None:
        opened_sql = f"TO_DATE({opened.sql})"  # a date, timestamp or expression (as pull reads)
    else:
        opened_sql = None  # text: parsed below, a bad value quarantined
    if opened_sql is not None:
        columns.append(f"{opened_sql} AS account_open_date")
    first = ["TRY_CAST(raw_age AS DOUBLE) AS age_value",
             "TRY_CAST(raw_credit_limit AS NUMBER(38, 10)) * 100 AS limit_cents",
             "FLOOR(TRY_CAST(raw_credit_limit AS NUMBER(38, 10)) * 100) AS limit_floor"]
    if opened_sql is None:
        first.append("TRY_TO_DATE(raw_account_open_date) AS account_open_date")
    # credit_limit: half-to-even to cents (validate.to_cents), exact on NUMBER(38, 10)
    rounded = ("CASE WHEN limit_cents - limit_floor > 0.5 OR (limit_cents - limit_floor = 0.5 "
               "AND MOD(limit_floor, 2) <> 0) THEN limit_floor + 1 ELSE limit_floor END")
    second = ("CASE WHEN age_value BETWEEN -2147483648 AND 2147483647\n"
              "         THEN CAST(TRUNC(age_value) AS INTEGER) END AS age,\n"
              f"    CASE WHEN ABS({rounded}) < 1000000000000\n"
              f"         THEN CAST(({rounded}) / 100 AS NUMBER(12, 2)) END AS credit_limit")
    typed = [",\n    ".join(first), second]
    checks = [
        ("null_customer_id", "customer_id IS NULL"),
        ("unparseable_age", "(raw_age IS NOT NULL AND age IS NULL) "
                            "OR age_value <> ROUND(age_value, 0)"),
        ("unparseable_credit_limit", "raw_credit_limit IS NOT NULL AND credit_limit IS NULL"),
        ("unparseable_account_open_date",
         "raw_account_open_date IS NOT NULL AND account_open_date IS NULL"),
    ]
    content = [c for c in CUSTOMERS if c != "customer_id"]
    duplicates = _keep_first("customer_id", "customer_id", content, "duplicate_customer_id",
                             None, own=_own_reasons(checks))
    text = _checked(",\n    ".join(columns), typed, checks, duplicates, CUSTOMER_REASONS,
                    table.ref())
    return Statement(text, purpose="check customers")

