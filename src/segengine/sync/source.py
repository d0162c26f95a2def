"""Pull's source tables (pure): their real names, found case-insensitively in the catalog, and
the SQL that reads them month by month on `TO_DATE(<date column>)`.

Tables written with quoted lower-case names (as `write_pandas` does by default) are not found
by their upper-cased spelling, so names from the settings are looked up in
INFORMATION_SCHEMA and the exact names found are quoted as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from segengine.errors import ConfigError, TerminalSyncError
from segengine.sync.sql import Statement, quote, quote_exact


@dataclass(frozen=True)
class SourceTable:
    """A source table by its exact catalog names (schema empty: the connection's default)."""

    database: str
    schema: str
    name: str

    def ref(self) -> str:
        parts = [quote(self.database, what="database")] if self.database else []
        if self.schema:
            parts.append(quote_exact(self.schema))
        return ".".join([*parts, quote_exact(self.name)])


def _catalog(database: str) -> str:
    return f"{quote(database, what='database')}.INFORMATION_SCHEMA" if database \
        else "INFORMATION_SCHEMA"


def tables_lookup(database: str, schema: str, table: str) -> Statement:
    """(schema, table) names matching the configured ones ignoring case; with no schema
    configured, table names in the connection's current schema."""
    if not schema:
        return Statement(f"SELECT table_name FROM {_catalog(database)}.TABLES WHERE "
                         "table_schema = CURRENT_SCHEMA() AND UPPER(table_name) = %s",
                         (table.upper(),), purpose=f"find source table {table}")
    return Statement(f"SELECT table_schema, table_name FROM {_catalog(database)}.TABLES "
                     "WHERE UPPER(table_schema) = %s AND UPPER(table_name) = %s",
                     (schema.upper(), table.upper()), purpose=f"find source table {table}")


def columns_lookup(table: SourceTable) -> Statement:
    """Column names of a source table as the catalog spells them."""
    where = "table_schema = %s" if table.schema else "table_schema = CURRENT_SCHEMA()"
    params = ((table.schema,) if table.schema else ()) + (table.name,)
    return Statement(f"SELECT column_name FROM {_catalog(table.database)}.COLUMNS "
                     f"WHERE {where} AND table_name = %s ORDER BY ordinal_position", params,
                     purpose=f"find columns of {table.name}")


def pick(found: Sequence[tuple[str, ...]], wanted: tuple[str, ...], *, what: str,
         where: str) -> tuple[str, ...]:
    """The catalog names meaning `wanted` among `found` (rows equal to it ignoring case): the
    unquoted (upper-case) spelling if present, then the exact spelling, then a single match;
    none or several is a clear error."""
    rows = [tuple(str(v) for v in row) for row in found]
    for exact in (tuple(w.upper() for w in wanted), wanted):
        if exact in rows:
            return exact
    distinct = sorted(set(rows))
    if len(distinct) == 1:
        return distinct[0]
    name = ".".join(wanted)
    if not distinct:
        raise TerminalSyncError(
            f"{what} {name!r} was not found in {where} (ignoring case). Check the name under "
            "[snowflake.source] and that the connection's role can see it")
    raise ConfigError(
        f"{what} {name!r} matches several names in {where} that differ only by case "
        f"({', '.join('.'.join(r) for r in distinct)}). Name the one to use exactly, or rename "
        "the others in Snowflake")


def _date(column: str) -> str:
    return f"TO_DATE({quote_exact(column)})"


def month_select(table: SourceTable, *, date_column: str, start: date,
                 end: date) -> Statement:
    """Rows of one month: start <= TO_DATE(date) < end, with the date column itself replaced by
    that TO_DATE, so a TIMESTAMP_TZ/LTZ row carries exactly the date it was selected by."""
    col = _date(date_column)
    return Statement(
        f"SELECT * REPLACE ({col} AS {quote_exact(date_column)}) FROM {table.ref()} "
        f"WHERE {col} >= %s AND {col} < %s", (start, end), purpose="pull month")


def null_date_select(table: SourceTable, *, date_column: str) -> Statement:
    """Rows whose date is NULL: no month predicate reads them, so they are read once per pull
    to be quarantined (never silently skipped)."""
    return Statement(f"SELECT * FROM {table.ref()} WHERE {quote_exact(date_column)} IS NULL",
                     purpose="pull rows without a date")


def date_range_select(table: SourceTable, *, date_column: str,
                      since: date | None) -> Statement:
    """First and last date of a source table (from `since` on, if given)."""
    col = _date(date_column)
    text = f"SELECT MIN({col}), MAX({col}) FROM {table.ref()}"
    if since is None:
        return Statement(text, purpose="date range")
    return Statement(f"{text} WHERE {col} >= %s", (since,), purpose="date range")


def table_select(table: SourceTable) -> Statement:
    """A whole source table (customers)."""
    return Statement(f"SELECT * FROM {table.ref()}", purpose="pull table")
