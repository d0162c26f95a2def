"""Reading the published warehouse: `segengine check`, `migration`, `rfm`, `clusters`.

Every command reads through `run.readonly.open_warehouse`: read-only, confined, never blocked by
other readers, and right after the data directory was moved (before any `run`/`push`/`check` has
rebuilt the warehouse's views for the new place) it shadows the views with temporary ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.errors import LockError, SegengineError
from segengine.lake.layout import Layout, data_dir_lock, scan_transactions
from segengine.models.segments import SEGMENT_NAMES
from segengine.run.quality import KEYS, CheckResult, independent_recomputation, run_checks
from segengine.run.readonly import open_warehouse
from segengine.run.recover import roll_forward

Log = Callable[[str], None]


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Tables and views a reader can query (the warehouse's tables are views over Parquet)."""
    return {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}


def read_tables(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, pl.DataFrame]:
    """The named tables that exist in the warehouse."""
    present = table_names(con)
    return {n: con.sql(f"SELECT * FROM {n}").pl() for n in names if n in present}


def check_warehouse(settings: Settings, log: Log = lambda _m: None) -> list[CheckResult]:
    """Finish an interrupted publish (unless a run is in progress), then run the quality gate
    on the current warehouse tables against the lake."""
    layout = Layout(settings.data_dir)
    with contextlib.suppress(LockError), data_dir_lock(layout, "check"):
        roll_forward(layout, log)
    con = open_warehouse(layout)
    try:
        tables = read_tables(con, list(KEYS) + ["customer_segments_history"])
    finally:
        con.close()
    if "customer_segments" not in tables:
        raise SegengineError("the warehouse has no customer_segments table. Run `segengine run`")
    as_of = tables["customer_segments"].get_column("as_of_date").max()
    population, recomputed = independent_recomputation(
        scan_transactions(layout, end=as_of), settings.quality.reconcile_sample,  # type: ignore[arg-type]
        as_of=as_of)
    return run_checks(tables, population=population, recomputed=recomputed,
                      segments=settings.segments, config=settings.quality)


def migration_matrix(settings: Settings, from_date: date, to_date: date) -> pl.DataFrame:
    """Customers per (segment at from_date, segment at to_date); rows from, columns to."""
    con = open_warehouse(Layout(settings.data_dir))
    try:
        hist = read_tables(con, ["customer_segments_history"]).get("customer_segments_history")
    finally:
        con.close()
    if hist is None:
        raise SegengineError("no customer_segments_history yet. Run `segengine run --as-of D`")
    dates = set(hist.get_column("as_of_date").unique().to_list())
    missing = [d.isoformat() for d in (from_date, to_date) if d not in dates]
    if missing:
        have = ", ".join(sorted(d.isoformat() for d in dates))
        raise SegengineError(f"no segment history for {', '.join(missing)} (have: {have}). "
                             "Run `segengine run --as-of` for that date first")
    pick = hist.select("customer_id", "customer_segment", "as_of_date")
    a = pick.filter(pl.col("as_of_date") == from_date).drop("as_of_date")
    b = pick.filter(pl.col("as_of_date") == to_date).drop("as_of_date")
    joined = a.join(b, on="customer_id", how="full", suffix="_to", coalesce=True).select(
        pl.col("customer_segment").fill_null("(not segmented)").alias("from_segment"),
        pl.col("customer_segment_to").fill_null("(not segmented)").alias("to_segment"),
    )
    order = [*SEGMENT_NAMES, "(not segmented)"]
    counts = joined.group_by("from_segment", "to_segment").len()
    matrix = counts.pivot(on="to_segment", index="from_segment", values="len").fill_null(0)
    cols = [c for c in order if c in matrix.columns]
    rank = {name: i for i, name in enumerate(order)}
    return (matrix.with_columns(pl.col("from_segment").replace_strict(rank).alias("_r"))
            .sort("_r").select("from_segment", *cols))
