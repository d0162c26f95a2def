"""Month summaries: one (customer, month) summary per immutable month partition (design §12.1).

`lake/summaries/month=YYYY-MM.parquet` holds, per customer with a transaction in that month,
everything the SQL models aggregate over a window, exactly: counts, integer cents sums (BIGINT,
a checked cast, so an overflow fails loudly: all approved, Travel/Airlines/Hotels,
Grocery/Gas/Utilities), the sum of squared cents (DECIMAL(38, 0), for the exact stddev),
min/max cents, first/last approved date and the list of approved amounts in cents (the window
median is the median of the concatenated lists, exact).

Each file carries, in its Parquet key-value metadata, the fingerprint of the partition it was
built from: size, mtime_ns and a hash of the footer of `part-0.parquet`, plus the summary
format. A partition is only ever replaced by renaming a new file over it (lake/loads.py), with
a new mtime and footer, so any rewrite changes the fingerprint. `refresh` (called by ingest,
pull and generate after they write partitions, and by `run` before reading) rebuilds every
summary whose fingerprint differs or that is missing, and removes summaries of months that no
longer exist. A summary is a cache: never trusted without its fingerprint, never part of a lake
load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from segengine.lake.layout import Layout

FORMAT = 2
"""Bump when the summary's columns or meaning change: every summary is then rebuilt."""

STAMP_KEY = "segengine_summary"
TAIL = 64 * 1024
TRAVEL = ("Travel", "Airlines", "Hotels")
NECESSITIES = ("Grocery", "Gas", "Utilities")
"""The category groups of customer_activity.sql (travel/necessities spend); keep in step."""


def summaries_dir(layout: Layout) -> Path:
    return layout.root / "lake" / "summaries"


def summary_file(layout: Layout, month: str) -> Path:
    return summaries_dir(layout) / f"month={month}.parquet"


def partition_months(layout: Layout) -> list[str]:
    """Months (YYYY-MM) that have a partition, sorted."""
    return [f.parent.name.removeprefix("month=") for f in layout.partition_files()]


def fingerprint(partition: Path) -> dict[str, int | str]:
    """What identifies one written version of a partition file: size, mtime_ns and a hash of
    its last 64 KiB (the Parquet footer: row counts, chunk sizes and statistics), so a rewrite
    in the same clock tick is still seen, while `cp -a`/`mv` of the data dir keeps it."""
    st = partition.stat()
    with partition.open("rb") as fh:
        fh.seek(max(0, st.st_size - TAIL))
        tail = hashlib.blake2b(fh.read(TAIL), digest_size=16).hexdigest()
    return {"format": FORMAT, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "tail": tail}


def stamp_of(path: Path) -> dict[str, int | str] | None:
    """The fingerprint a summary file was built from, or None (missing, unreadable, foreign)."""
    try:
        meta = pq.read_metadata(path).metadata or {}
        return json.loads(meta[STAMP_KEY.encode()])  # type: ignore[no-any-return]
    except (OSError, KeyError, ValueError):
        return None


def is_fresh(layout: Layout, month: str) -> bool:
    """True when month's summary exists and was built from the partition as it is now."""
    return stamp_of(summary_file(layout, month)) == fingerprint(layout.partition_file(month))


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def parts_select(source: str, *, part_lo: str, part_hi: str, amounts: str | None = "INTEGER",
                 where: str = "TRUE") -> str:
    """SQL of the summary rows of `source` (a FROM item over lake rows), one per customer and
    part [part_lo, part_hi] (SQL expressions over transaction_date: the month for a month
    summary). Money is in integer cents, exact; `amounts` is the type of the list of approved
    amounts (None: no list)."""
    ok = "FILTER (WHERE ok)"
    listed = (f",\n            LIST(CAST(c AS {amounts})) {ok} AS amounts" if amounts else "")
    return f"""
        SELECT customer_id, {part_lo} AS part_lo, {part_hi} AS part_hi,
            COUNT(*) AS n_all,
            COUNT(*) {ok} AS n_approved,
            CAST(COALESCE(SUM(c) {ok}, 0) AS BIGINT) AS sum_c,
            CAST(SUM(CAST(c AS HUGEINT) * c) {ok} AS DECIMAL(38, 0)) AS sum_sq_c,
            CAST(COALESCE(SUM(c) FILTER (WHERE ok AND merchant_category IN {_in(TRAVEL)}), 0)
                 AS BIGINT) AS travel_c,
            CAST(COALESCE(SUM(c) FILTER (WHERE ok AND merchant_category IN {_in(NECESSITIES)}),
                          0) AS BIGINT) AS necessities_c,
            MIN(c) {ok} AS min_c,
            MAX(c) {ok} AS max_c,
            MIN(transaction_date) {ok} AS first_date,
            MAX(transaction_date) {ok} AS last_date{listed}
        FROM (SELECT customer_id, transaction_date, merchant_category,
                     CAST(transaction_amount * 100 AS BIGINT) AS c,
                     COALESCE(status = 'approved', FALSE) AS ok
              FROM {source} WHERE {where})
        GROUP BY ALL"""


MONTH_LO = "CAST(DATE_TRUNC('month', transaction_date) AS DATE)"
MONTH_HI = "CAST(LAST_DAY(transaction_date) AS DATE)"


def build(con: duckdb.DuckDBPyConnection, layout: Layout, month: str,
          source: Path | None = None) -> Path:
    """(Re)write month's summary from its partition (or from `source`, the staged file a load
    will rename onto it: same size, mtime and bytes), stamped with that file's fingerprint.

    Amounts are stored as INTEGER cents (|amount| < $21,474,836.48) and as BIGINT for a month
    holding a larger one, so the lists stay exact."""
    partition = source or layout.partition_file(month)
    stamp = fingerprint(partition)  # taken before reading: a rewrite mid-build stays stale
    target = summary_file(layout, month)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    meta = json.dumps(stamp, sort_keys=True).replace("'", "''")
    try:
        for amount_type in ("INTEGER", "BIGINT"):
            sql = parts_select(f"read_parquet({_sql_path(partition)})", part_lo=MONTH_LO,
                               part_hi=MONTH_HI, amounts=amount_type)
            try:
                con.execute(f"COPY ({sql} ORDER BY customer_id) TO {_sql_path(Path(tmp))} "
                            f"(FORMAT parquet, COMPRESSION zstd, USE_TMP_FILE false, "
                            f"KV_METADATA {{{STAMP_KEY}: '{meta}'}})")
                break
            except duckdb.ConversionException:
                if amount_type == "BIGINT":
                    raise
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def refresh(layout: Layout, con: duckdb.DuckDBPyConnection | None = None,
            months: list[str] | None = None) -> list[str]:
    """Rebuild the summaries that are stale or missing (of `months`, default every partition)
    and drop summaries without a partition; return the months rebuilt. The caller holds the
    data-directory lock (only lake writers and `run` call this)."""
    existing = partition_months(layout)
    wanted = existing if months is None else [m for m in months if m in set(existing)]
    stale = [m for m in wanted if not is_fresh(layout, m)]
    if months is None:
        keep = {summary_file(layout, m).name for m in existing}
        for orphan in summaries_dir(layout).glob("month=*.parquet"):
            if orphan.name not in keep:
                orphan.unlink(missing_ok=True)
    if not stale:
        return []
    own = con is None
    conn = duckdb.connect() if con is None else con
    try:
        for month in stale:
            build(conn, layout, month)
    finally:
        if own:
            conn.close()
    return stale
