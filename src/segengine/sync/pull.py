"""Pull: read Snowflake source tables month by month into the lake, with a watermark (§9).

Each month streams through `fetch_arrow_batches` into a temporary Parquet file (the download
holds one batch), then is mapped, validated and swapped into its partition atomically
(validation holds that one month in memory, never the whole table).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from segengine.config import Settings
from segengine.errors import ConfigError
from segengine.lake import summaries
from segengine.lake.ingest import map_columns, replace_months_in_lake, write_rejects
from segengine.lake.layout import Layout, month_key, write_json_atomic, write_parquet_atomic
from segengine.lake.schemas import CUSTOMERS, CUSTOMERS_REQUIRED, TRANSACTIONS
from segengine.lake.validate import (
    Validated,
    check_reject_threshold,
    max_amount_setting,
    validate_customers,
    validate_transactions,
)
from segengine.sync import source, sql
from segengine.sync.months import (
    month_bounds,
    months_between,
    parse_month,
    start_month,
)
from segengine.sync.session import Session
from segengine.sync.stream import stream_to_parquet

Progress = Callable[[str, int, int], None]
"""Called after each month with (month, rows, total months)."""


@dataclass
class PullResult:
    """What a pull read and wrote."""

    months: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    rejected: int = 0
    customers: int | None = None
    watermark: str | None = None
    duration_s: float = 0.0
    rejects_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Which real (case-exact) source names were used."""
    removed_folders: list[str] = field(default_factory=list)
    """`.pull-*` folders of a killed earlier pull that were deleted first."""


def watermark_file(layout: Layout) -> Path:
    return layout.root / "lake" / "_watermark.json"


def read_watermark(layout: Layout) -> str | None:
    """Last month (YYYY-MM) pulled into the lake, or None."""
    path = watermark_file(layout)
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text()).get("transactions", {}).get("last_month")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def date_column(settings: Settings) -> str:
    """The source column behind transaction_date, used for the month predicate."""
    name = settings.snowflake.source.columns.get("transaction_date", "transaction_date").strip()
    if not sql.IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"[snowflake.source.columns] transaction_date = {name!r} is an expression; pull needs "
            "a plain DATE or TIMESTAMP column of the source table for its month predicate. Map "
            "transaction_date to that column")
    return name


PULL_FOLDER_PREFIX = ".pull-"


def remove_stale_pull_folders(layout: Layout) -> list[Path]:
    """Delete `.pull-*` folders (raw source rows) a killed pull left in the data directory.

    Call only under the data-directory lock: then no other pull is using one."""
    removed = []
    if layout.root.is_dir():
        for folder in sorted(layout.root.glob(f"{PULL_FOLDER_PREFIX}*")):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
                removed.append(folder)
    return removed


@dataclass(frozen=True)
class Sources:
    """The source tables and date column by their real (catalog) names."""

    transactions: source.SourceTable
    date_column: str
    customers: source.SourceTable | None
    notes: tuple[str, ...] = ()


def _resolve_table(session: Session, database: str, schema: str, table: str,
                   notes: list[str], *, setting: str) -> source.SourceTable:
    stmt = source.tables_lookup(database, schema, table)
    rows = session.retrying(lambda: session.execute(stmt).fetchall())
    where = (f"{database + '.' if database else ''}{schema or '(current schema)'} of connection "
             f"{session.params.name!r}")
    if schema:
        found_schema, name = source.pick(rows, (schema, table), what=setting, where=where)
    else:
        found_schema, (name,) = "", source.pick(rows, (table,), what=setting, where=where)
    if name != table.upper() or (schema and found_schema != schema.upper()):
        notes.append(f"{setting} = {table!r}: using the table named "
                     f"{'.'.join(filter(None, (found_schema, name)))!r} (its exact case)")
    return source.SourceTable(database, found_schema, name)


def resolve_sources(session: Session, settings: Settings) -> Sources:
    """Find the configured source tables and date column in the catalog, ignoring case."""
    src = settings.snowflake.source
    notes: list[str] = []
    txns = _resolve_table(session, src.database, src.schema, src.transactions_table, notes,
                          setting="[snowflake.source] transactions_table")
    wanted = date_column(settings)
    stmt = source.columns_lookup(txns)
    columns = [str(r[0]) for r in session.retrying(lambda: session.execute(stmt).fetchall())]
    (column,) = source.pick([(c,) for c in columns if c.upper() == wanted.upper()], (wanted,),
                            what="date column", where=f"table {txns.ref()}")
    if column != wanted.upper():
        notes.append(f"transaction_date column {wanted!r}: using {column!r} (its exact case)")
    customers = None
    if src.customers_table:
        customers = _resolve_table(session, src.database, src.schema, src.customers_table,
                                   notes, setting="[snowflake.source] customers_table")
    return Sources(txns, column, customers, tuple(notes))


def _validated(con: duckdb.DuckDBPyConnection, raw_path: Path | None, *, customers: bool,
               settings: Settings, name: str, load_day: date | None = None) -> Validated:
    """Map and validate one streamed source file."""
    if raw_path is None:
        schema = CUSTOMERS if customers else TRANSACTIONS
        empty = pl.DataFrame(schema=schema)
        return Validated(clean=empty, rejects=pl.DataFrame(), counts={}, source=name)
    table = pq.read_table(raw_path)
    if customers:
        raw = map_columns(con, table, settings.ingest.customer_columns, schema=CUSTOMERS,
                          required=CUSTOMERS_REQUIRED, source_name=name,
                          setting="ingest.customer_columns")
        return validate_customers(raw, source=name)
    raw = map_columns(con, table, settings.snowflake.source.columns, source_name=name,
                      setting="snowflake.source.columns")
    return validate_transactions(raw, source=name, load_day=load_day,
                                 max_amount=max_amount_setting(settings.ingest.max_amount))


def _quarantine(layout: Layout, validated: Validated, result: PullResult, *, settings: Settings,
                source: str, load_id: str) -> None:
    path = write_rejects(layout, validated, source=source, load_id=load_id)
    result.rejected += validated.rejected
    if path is not None:
        result.rejects_files.append(str(path))
    check_reject_threshold(validated, max_reject_pct=settings.ingest.max_reject_pct,
                           source=validated.source, rejects_path=str(path) if path else None)


def pull_customers(session: Session, settings: Settings, layout: Layout, tmp: Path,
                   result: PullResult, *, table: source.SourceTable, load_id: str) -> None:
    """Replace lake/customers with the whole source customers table."""
    src = settings.snowflake.source
    stmt = source.table_select(table)
    raw = tmp / "customers.parquet"
    rows = session.retrying(lambda: stream_to_parquet(session, stmt, raw))
    con = duckdb.connect()
    try:
        validated = _validated(con, raw if rows else None, customers=True, settings=settings,
                               name=f"Snowflake table {src.customers_table}")
    finally:
        con.close()
    _quarantine(layout, validated, result, settings=settings, source="snowflake-customers",
                load_id=load_id)
    write_parquet_atomic(validated.clean, layout.customers_file)
    result.customers = validated.clean.height


def quarantine_null_dates(session: Session, settings: Settings, con: duckdb.DuckDBPyConnection,
                          tmp: Path, result: PullResult, *, sources: Sources,
                          load_id: str) -> None:
    """Read the source rows whose date is NULL and send them to rejects/ (they belong to no
    month partition). They count as read and rejected, outside the per-month reject limit."""
    src = settings.snowflake.source
    date_col = sources.date_column
    stmt = source.null_date_select(sources.transactions, date_column=date_col)
    raw = tmp / "null-dates.parquet"
    rows = session.retrying(lambda: stream_to_parquet(session, stmt, raw))
    if not rows:
        return
    validated = _validated(con, raw, customers=False, settings=settings,
                           name=f"Snowflake table {src.transactions_table} (NULL {date_col})")
    path = write_rejects(Layout(settings.data_dir), validated,
                         source="snowflake-transactions", load_id=load_id)
    result.rows_read += rows
    result.rejected += validated.rejected
    if path is not None:
        result.rejects_files.append(str(path))


def plan_months(session: Session, settings: Settings, *, sources: Sources,
                watermark: str | None, since: str | None, full: bool) -> list[str]:
    """Months to read: from the start month to the source's last month (or the watermark)."""
    src = settings.snowflake.source
    first = start_month(watermark=watermark, since=since, full=full,
                        repull_months=src.repull_months)
    stmt = source.date_range_select(sources.transactions, date_column=sources.date_column,
                                    since=parse_month(first) if first else None)
    row = session.retrying(lambda: session.fetchone(stmt))
    low, high = (row or (None, None))
    last = month_key(high) if high is not None else None
    if watermark is not None and not full and (last is None or last < watermark):
        last = watermark  # rows of re-read months may have been deleted at the source
    first = first or (month_key(low) if low is not None else None)
    if first is None or last is None:
        return []
    return months_between(first, last)


def run_pull(session: Session, settings: Settings, *, since: str | None = None,
             full: bool = False, now: datetime, progress: Progress | None = None) -> PullResult:
    """Pull customers (whole) and transactions (month by month) into settings.data_dir."""
    started = time.perf_counter()
    layout = Layout(settings.data_dir)
    src = settings.snowflake.source
    sql.check_database_schema(src.database, src.schema, section="[snowflake.source]")
    for what, value in (("database", src.database), ("schema", src.schema),
                        ("transactions_table", src.transactions_table),
                        ("customers_table", src.customers_table)):
        if value:
            sql.check_identifier(value, what=f"[snowflake.source] {what}")
    date_column(settings)
    if since is not None:
        parse_month(since)
    watermark = read_watermark(layout)
    result = PullResult(watermark=watermark)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    layout.root.mkdir(parents=True, exist_ok=True)
    result.removed_folders = [str(p) for p in remove_stale_pull_folders(layout)]
    sources = resolve_sources(session, settings)
    result.notes = list(sources.notes)
    with tempfile.TemporaryDirectory(prefix=PULL_FOLDER_PREFIX, dir=layout.root) as tmp_name:
        tmp = Path(tmp_name)
        if sources.customers is not None:
            pull_customers(session, settings, layout, tmp, result, table=sources.customers,
                           load_id=f"{stamp}-customers")
        months = plan_months(session, settings, sources=sources, watermark=watermark,
                             since=since, full=full)
        con = duckdb.connect()
        try:
            quarantine_null_dates(session, settings, con, tmp, result, sources=sources,
                                  load_id=f"{stamp}-null-dates")
            for month in months:
                start, end = month_bounds(month)
                stmt = source.month_select(sources.transactions,
                                           date_column=sources.date_column, start=start,
                                           end=end)
                raw = tmp / f"{month}.parquet"
                raw.unlink(missing_ok=True)
                rows = session.retrying(
                    lambda stmt=stmt, raw=raw: stream_to_parquet(session, stmt, raw))  # type: ignore[misc]
                validated = _validated(con, raw if rows else None, customers=False,
                                       settings=settings, load_day=now.date(),
                                       name=f"Snowflake table {src.transactions_table} {month}")
                _quarantine(layout, validated, result, settings=settings,
                            source="snowflake-transactions", load_id=f"{stamp}-{month}")
                written = replace_months_in_lake(layout, validated.clean, [month])
                summaries.refresh(layout, months=[month])  # own connection: con is confined
                result.months[month] = written[month]
                result.rows_read += rows
                if result.watermark is None or month > result.watermark:
                    result.watermark = month
                    _write_watermark(layout, month, now=now, source=src.transactions_table)
                if progress is not None:
                    progress(month, rows, len(months))
        finally:
            con.close()
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _write_watermark(layout: Layout, month: str, *, now: datetime, source: str) -> None:
    data: dict[str, Any] = {"transactions": {"last_month": month, "source": source,
                                             "pulled_at": now.isoformat()}}
    write_json_atomic(watermark_file(layout), data)
