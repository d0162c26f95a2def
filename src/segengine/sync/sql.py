"""Pure Snowflake SQL generation for push and pull: identifiers validated and quoted once.

No I/O here: every function returns `Statement`s (SQL text + bound parameters), so `--dry-run`
prints exactly what would run and tests assert it offline against golden files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from segengine.errors import ConfigError, DataError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
"""Unquoted-identifier subset: letters, digits, underscore. Quotes, dots, `;` are refused."""

LOAD_SUFFIX = "__load"
HISTORY_SUFFIX = "_history"
AS_OF_COLUMN = "as_of_date"
MONEY_PRECISION = 18
"""Decimals are widened to at least NUMBER(18, s): money lands as NUMBER(18,2)."""


@dataclass(frozen=True)
class Statement:
    """One SQL statement, its bound parameters and what it is for."""

    sql: str
    params: tuple[Any, ...] = ()
    purpose: str = ""

    def render(self) -> str:
        """SQL text with parameters as a trailing comment (for --dry-run and golden files)."""
        if not self.params:
            return f"{self.sql};"
        shown = ", ".join(repr(p.isoformat()) if isinstance(p, date) else repr(p)
                          for p in self.params)
        return f"{self.sql};  -- params: {shown}"


@dataclass(frozen=True)
class Column:
    """A target column: Snowflake-quoted name and Snowflake type."""

    name: str
    sf_type: str


@dataclass(frozen=True)
class TableLoad:
    """What one table's push needs to know: names, local file, columns, row count."""

    table: str
    file: Path
    columns: tuple[Column, ...]
    rows: int
    history: bool = field(default=False)


def check_identifier(name: str, *, what: str) -> str:
    """Return `name` if it is a safe identifier, else raise ConfigError naming `what`."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"{what} {name!r} is not a valid Snowflake identifier (letters, digits and _ only, "
            "starting with a letter or _; no quotes, dots, spaces or semicolons). "
            "Rename it; nothing was sent to Snowflake"
        )
    return name


def quote(name: str, *, what: str = "identifier") -> str:
    """Validate, upper-case and double-quote: `customer_id` -> `"CUSTOMER_ID"`.

    Upper-casing keeps quoted names equal to their unquoted spelling, so users can query
    `select customer_id from customer_segments` without quotes.
    """
    return f'"{check_identifier(name, what=what).upper()}"'


def quote_exact(name: str) -> str:
    """Double-quote a name read from Snowflake's catalog as it is (case kept, `"` doubled)."""
    return '"' + name.replace('"', '""') + '"'


def check_database_schema(database: str, schema: str, *, section: str) -> None:
    """Both or neither: `"DB"."T"` would be read as schema DB of the current database."""
    if database and not schema:
        raise ConfigError(
            f"{section} database = {database!r} is set but schema is empty, so Snowflake would "
            f"read {database!r} as a schema of the connection's current database. Set both "
            f"database and schema under {section}, or neither (the connection's defaults)")


def qualified(database: str, schema: str, *names: str, what: str = "table") -> str:
    """`"DB"."SCHEMA"."NAME"`; empty database and schema mean the connection's defaults."""
    check_database_schema(database, schema, section="[snowflake]")
    return ".".join(quote(p, what=what) for p in (database, schema, *names) if p)


def snowflake_type(dtype: pa.DataType, *, column: str, table: str) -> str:
    """Map an Arrow type to the Snowflake column type used for CREATE TABLE."""
    if pa.types.is_dictionary(dtype):
        return snowflake_type(dtype.value_type, column=column, table=table)
    if pa.types.is_decimal(dtype):
        precision = min(38, max(dtype.precision, MONEY_PRECISION))
        return f"NUMBER({precision},{dtype.scale})"
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_integer(dtype):
        return "NUMBER(38,0)"
    if pa.types.is_floating(dtype):
        return "FLOAT"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP_TZ" if dtype.tz else "TIMESTAMP_NTZ"
    if pa.types.is_time(dtype):
        return "TIME"
    if (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
            or pa.types.is_string_view(dtype) or pa.types.is_null(dtype)):
        return "VARCHAR"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "BINARY"
    raise DataError(
        f"column {column} of table {table} has Arrow type {dtype}, which push cannot map to a "
        "Snowflake type. Write it as a string, number, date, timestamp or boolean"
    )


def columns_from_schema(schema: pa.Schema, *, table: str) -> tuple[Column, ...]:
    """Typed, quoted target columns for every field of a Parquet/Arrow schema."""
    seen: set[str] = set()
    columns = []
    for f in schema:
        name = quote(f.name, what=f"column of table {table}")
        if name in seen:
            raise DataError(f"table {table} has two columns named {f.name} (ignoring case); "
                            "rename one before pushing")
        seen.add(name)
        columns.append(Column(name, snowflake_type(f.type, column=f.name, table=table)))
    return tuple(columns)


def is_history(table: str) -> bool:
    """History tables are keyed by as_of_date: a push replaces only that date's rows."""
    return table.endswith(HISTORY_SUFFIX)


def stage_name(token: str) -> str:
    """Name of the temporary stage of one push (token: e.g. a timestamp, validated)."""
    return check_identifier(f"segengine_push_{token}", what="stage name")


def _column_list(columns: tuple[Column, ...]) -> str:
    return ", ".join(c.name for c in columns)


def _column_defs(columns: tuple[Column, ...]) -> str:
    return ", ".join(f"{c.name} {c.sf_type}" for c in columns)


def setup_statements(database: str, schema: str) -> list[Statement]:
    """Schema creation, once per push."""
    return [Statement(f"CREATE SCHEMA IF NOT EXISTS {qualified(database, schema, what='schema')}",
                      purpose="create schema")]


def create_stage_statement(database: str, schema: str, stage: str) -> Statement:
    """A session-scoped stage: it disappears with the session, nothing to clean up."""
    name = qualified(database, schema, stage, what="stage")
    return Statement(f"CREATE TEMPORARY STAGE IF NOT EXISTS {name}", purpose="create stage")


def load_table(table: str, stage: str) -> str:
    """The load table of one table in one push: unique per push (the stage's token), so two
    pushes to the same target from different machines never publish each other's rows."""
    return check_identifier(f"{table}{LOAD_SUFFIX}_{stage.removeprefix('segengine_push_')}",
                            what="load table name")


def _table_options(retention_days: int) -> str:
    return "" if retention_days < 0 else f" DATA_RETENTION_TIME_IN_DAYS = {int(retention_days)}"


def load_statements(load: TableLoad, *, database: str, schema: str, stage: str,
                    transient: bool = False, retention_days: int = -1) -> list[Statement]:
    """Create the target if missing, upload the file, COPY it into a fresh load table, count.

    The load table is TRANSIENT with DATA_RETENTION_TIME_IN_DAYS = 0: it lives minutes, so it
    must not cost Time Travel or Fail-safe storage after it is dropped.
    """
    target = qualified(database, schema, load.table)
    staging = qualified(database, schema, load_table(load.table, stage))
    location = f"@{qualified(database, schema, stage, what='stage')}/{load.table.upper()}/"
    path = load.file.resolve().as_posix()
    if "'" in path or "\\" in path:
        raise ConfigError(f"file path {path} contains a quote or backslash, which PUT cannot take. "
                          "Move the data directory to a plain path")
    defs = _column_defs(load.columns)
    kind = "TRANSIENT TABLE" if transient else "TABLE"
    return [
        Statement(f"CREATE {kind} IF NOT EXISTS {target} ({defs}){_table_options(retention_days)}",
                  purpose="create table"),
        Statement(f"CREATE OR REPLACE TRANSIENT TABLE {staging} ({defs}){_table_options(0)}",
                  purpose="create load table"),
        Statement(f"PUT 'file://{path}' {location} AUTO_COMPRESS = FALSE PARALLEL = 4 "
                  "OVERWRITE = TRUE", purpose="upload"),
        Statement(f"COPY INTO {staging} FROM {location} "
                  "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) "
                  "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE", purpose="copy"),
        Statement(f"SELECT COUNT(*) FROM {staging}", purpose="count"),
    ]


BEGIN = Statement("BEGIN", purpose="begin")
CURRENT_TRANSACTION = Statement("SELECT CURRENT_TRANSACTION()", purpose="transaction id")
"""Read right after BEGIN: the id SYSTEM$ABORT_TRANSACTION needs if the connection drops."""
COMMIT = Statement("COMMIT", purpose="commit")
ROLLBACK = Statement("ROLLBACK", purpose="rollback")


def abort_transaction_statement(transaction: str) -> Statement:
    """Abort a transaction a dropped connection left open (bound: ids are numbers)."""
    return Statement("SELECT SYSTEM$ABORT_TRANSACTION(%s)", (int(transaction),),
                     purpose="abort detached transaction")


def publish_body(loads: list[TableLoad], *, database: str, schema: str, stage: str,
                 as_of: date) -> list[Statement]:
    """The DELETE/INSERT pairs run inside the publish transaction (history: only as_of)."""
    out = []
    for load in loads:
        target = qualified(database, schema, load.table)
        staging = qualified(database, schema, load_table(load.table, stage))
        if load.history:
            out.append(Statement(f"DELETE FROM {target} WHERE {quote(AS_OF_COLUMN)} = %s",
                                 (as_of,), purpose=f"delete {load.table}"))
        else:
            out.append(Statement(f"DELETE FROM {target}", purpose=f"delete {load.table}"))
        cols = _column_list(load.columns)
        out.append(Statement(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}",
                             purpose=f"insert {load.table}"))
    return out


def publish_statements(loads: list[TableLoad], *, database: str, schema: str, stage: str,
                       as_of: date) -> list[Statement]:
    """One transaction replacing every table's contents (history: only as_of's rows)."""
    body = publish_body(loads, database=database, schema=schema, stage=stage, as_of=as_of)
    return [BEGIN, CURRENT_TRANSACTION, *body, COMMIT]


def cleanup_statements(loads: list[TableLoad], *, database: str, schema: str,
                       stage: str) -> list[Statement]:
    """Drop this push's load tables once published."""
    return [Statement(
        f"DROP TABLE IF EXISTS {qualified(database, schema, load_table(t.table, stage))}",
        purpose="drop load table") for t in loads]


def push_plan(loads: list[TableLoad], *, database: str, schema: str, stage: str,
              as_of: date, transient: bool = False, retention_days: int = -1,
              checks: list[Statement] | None = None) -> list[Statement]:
    """Every statement of a push, in order (what --dry-run prints); `checks` are the catalog
    reads that run first (leftover load tables, target columns)."""
    plan = setup_statements(database, schema) + list(checks or [])
    plan.append(create_stage_statement(database, schema, stage))
    for load in loads:
        plan += load_statements(load, database=database, schema=schema, stage=stage,
                                transient=transient, retention_days=retention_days)
    plan += publish_statements(loads, database=database, schema=schema, stage=stage,
                               as_of=as_of)
    return plan + cleanup_statements(loads, database=database, schema=schema, stage=stage)


def month_select(database: str, schema: str, table: str, *, date_column: str,
                 start: date, end: date) -> Statement:
    """Rows of one month of a source table: start <= date < end, both bound."""
    col = quote(date_column, what="date column")
    return Statement(
        f"SELECT * FROM {qualified(database, schema, table)} WHERE {col} >= %s AND {col} < %s",
        (start, end), purpose="pull month")


def null_date_select(database: str, schema: str, table: str, *, date_column: str) -> Statement:
    """Rows of a source table whose date is NULL: no month predicate ever reads them, so they
    are read once per pull to be quarantined (never silently skipped)."""
    col = quote(date_column, what="date column")
    return Statement(f"SELECT * FROM {qualified(database, schema, table)} WHERE {col} IS NULL",
                     purpose="pull rows without a date")


def date_range_select(database: str, schema: str, table: str, *, date_column: str,
                      since: date | None) -> Statement:
    """First and last date of a source table (from `since` on, if given)."""
    col = quote(date_column, what="date column")
    sql = f"SELECT MIN({col}), MAX({col}) FROM {qualified(database, schema, table)}"
    if since is None:
        return Statement(sql, purpose="date range")
    return Statement(f"{sql} WHERE {col} >= %s", (since,), purpose="date range")


def table_select(database: str, schema: str, table: str) -> Statement:
    """A whole source table (customers)."""
    return Statement(f"SELECT * FROM {qualified(database, schema, table)}", purpose="pull table")
