"""CLI commands: model (`rfm`, `clusters`): print results of the last run from the warehouse."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
import duckdb
import polars as pl

from segengine.cli import AppContext, cli, error_boundary, pass_app
from segengine.errors import SegengineError
from segengine.lake.layout import Layout
from segengine.present.report import cluster_report, rfm_report


@contextlib.contextmanager
def _warehouse(app: AppContext) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """The warehouse DuckDB file, opened read-only."""
    from segengine.run.readonly import open_warehouse

    layout = Layout(app.settings().data_dir)
    path = layout.warehouse
    con = open_warehouse(layout)
    try:
        yield con, path
    finally:
        con.close()


def _require(con: duckdb.DuckDBPyConnection, path: Path, *tables: str) -> None:
    """Raise a helpful error when the last run did not produce these tables."""
    found = {row[0] for row in con.sql(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    missing = [t for t in tables if t not in found]
    if missing:
        raise SegengineError(f"table(s) {', '.join(missing)} not found in {path}. "
                             "Run `segengine run` first")


def _read(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    try:
        return con.sql(sql).pl()
    except duckdb.Error as exc:
        message = f"reading the warehouse failed ({exc}). Re-run `segengine run`"
        raise SegengineError(message) from exc


@cli.command()
@pass_app
@error_boundary
def rfm(app: AppContext) -> None:
    """Print the RFM segment summary and the R×F grid of customer counts from the last run.

    Example: segengine rfm
    """
    with _warehouse(app) as (con, path):
        _require(con, path, "rfm_segment_summary", "customer_rfm")
        summary = _read(con, "SELECT * FROM rfm_segment_summary")
        counts = _read(con, "SELECT r_score, f_score, COUNT(*) AS customers FROM customer_rfm "
                            "GROUP BY r_score, f_score ORDER BY r_score, f_score")
    click.echo(rfm_report(summary, counts))


@cli.command()
@pass_app
@error_boundary
def clusters(app: AppContext) -> None:
    """Print the KMeans cluster profiles (size, averages, revenue share) from the last run.

    Example: segengine clusters
    """
    with _warehouse(app) as (con, path):
        _require(con, path, "cluster_profiles")
        profiles = _read(con, "SELECT * FROM cluster_profiles ORDER BY cluster_id")
    click.echo(cluster_report(profiles))
