"""Pull: read Snowflake source tables month by month into the lake, with a watermark (§9).

Each month streams through `fetch_arrow_batches` into a temporary Parquet file (the download
holds one batch), then is mapped, validated and swapped into its partition atomically
(validation holds that one month in memory, never the whole table).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from segengine.config import Settings
from segengine.errors import ConfigError
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
from segengine.sync import sql
from segengine.sync.session import Session

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


def parse_month(value: str, *, what: str = "--since") -> date:
    """`YYYY-MM` -> first day of that month."""
    try:
        year, mon = (int(p) for p in value.split("-"))
        return date(year, mon, 1)
    except ValueError:
        raise ConfigError(f"{what} {value!r} is not a month; use YYYY-MM, e.g. 2025-01") from None


def shift_month(month: str, delta: int) -> str:
    """Month `YYYY-MM` moved by `delta` months."""
    first = parse_month(month, what="month")
    index = first.year * 12 + first.month - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    return parse_month(month, what="month"), parse_month(shift_month(month, 1), what="month")


def months_between(first: str, last: str) -> list[str]:
    """Every month from first to last, inclusive."""
    out = []
    month = first
    while month <= last:
        out.append(month)
        month = shift_month(month, 1)
    return out


def start_month(*, watermark: str | None, since: str | None, full: bool,
                repull_months: int) -> str | None:
    """First month to read: --since, else watermark minus re-read window; None = from the start."""
    if since:
        return month_key(parse_month(since))
    if full or watermark is None:
        return None
    return shift_month(watermark, -max(repull_months - 1, -1))


def date_column(settings: Settings) -> str:
    """The source column behind transaction_date, used for the month predicate."""
    name = settings.snowflake.source.columns.get("transaction_date", "transaction_date").strip()
    if not sql.IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"[snowflake.source.columns] transaction_date = {name!r} is an expression; pull needs "
            "a plain DATE or TIMESTAMP column of the source table for its month predicate. Map "
            "transaction_date to that column")
    return name


def _widen(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Stable types across batches: the connector varies integer widths per chunk."""
    fields = []
    for f in batch.schema:
        t = f.type
        if pa.types.is_integer(t):
            t = pa.int64()
        elif pa.types.is_decimal(t):
            t = pa.decimal128(38, t.scale)
        elif pa.types.is_floating(t):
            t = pa.float64()
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            t = pa.large_string()
        fields.append(pa.field(f.name.lower(), t))
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return table.rename_columns([f.name for f in fields]).cast(pa.schema(fields))


def stream_to_parquet(session: Session, stmt: sql.Statement, path: Path) -> int:
    """Run a SELECT and append its Arrow batches to `path`; returns rows (0 = no file)."""
    cur = session.execute(stmt)
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        with session.fetching(stmt.purpose or "downloading results"):
            for batch in cur.fetch_arrow_batches():
                table = _widen(batch)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def _fq(settings: Settings, table: str) -> tuple[str, str, str]:
    src = settings.snowflake.source
    return src.database, src.schema, table


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
                   result: PullResult, *, load_id: str) -> None:
    """Replace lake/customers with the whole source customers table."""
    src = settings.snowflake.source
    stmt = sql.table_select(*_fq(settings, src.customers_table))
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
                          tmp: Path, result: PullResult, *, date_col: str,
                          load_id: str) -> None:
    """Read the source rows whose date is NULL and send them to rejects/ (they belong to no
    month partition). They count as read and rejected, outside the per-month reject limit."""
    src = settings.snowflake.source
    stmt = sql.null_date_select(*_fq(settings, src.transactions_table), date_column=date_col)
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


def plan_months(session: Session, settings: Settings, *, watermark: str | None,
                since: str | None, full: bool) -> list[str]:
    """Months to read: from the start month to the source's last month (or the watermark)."""
    src = settings.snowflake.source
    first = start_month(watermark=watermark, since=since, full=full,
                        repull_months=src.repull_months)
    stmt = sql.date_range_select(*_fq(settings, src.transactions_table),
                                 date_column=date_column(settings),
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
    column = date_column(settings)
    watermark = read_watermark(layout)
    result = PullResult(watermark=watermark)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    layout.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=layout.root) as tmp_name:
        tmp = Path(tmp_name)
        if src.customers_table:
            pull_customers(session, settings, layout, tmp, result, load_id=f"{stamp}-customers")
        months = plan_months(session, settings, watermark=watermark, since=since, full=full)
        con = duckdb.connect()
        try:
            quarantine_null_dates(session, settings, con, tmp, result, date_col=column,
                                  load_id=f"{stamp}-null-dates")
            for month in months:
                start, end = month_bounds(month)
                stmt = sql.month_select(*_fq(settings, src.transactions_table),
                                        date_column=column, start=start, end=end)
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
