"""CLI commands: ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from segengine.cli import AppContext, cli, error_boundary, pass_app

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=_FILE)
@click.option("--customers", type=_FILE, help="Customers CSV/Parquet file to load as well.")
@click.option("--max-reject-pct", type=click.FloatRange(min=0), default=None,
              help="Fail the load when more than this % of rows is rejected (default 1.0).")
@pass_app
@error_boundary
def ingest(app: AppContext, paths: tuple[Path, ...], customers: Path | None,
           max_reject_pct: float | None) -> None:
    """Load transaction files (CSV or Parquet) into the lake, quarantining bad rows.

    Columns are mapped with [ingest.columns] in segengine.toml. Bad rows go to
    rejects/<kind>/<load_id>.parquet with a reject_reason; if more than max_reject_pct % of a
    file's rows are rejected nothing is loaded. Re-ingesting a file adds no duplicate rows.

    Example: segengine ingest transactions.csv --customers customers.csv
    """
    from segengine.lake import summaries
    from segengine.lake.ingest import ingest_files
    from segengine.lake.layout import Layout, data_dir_lock
    from segengine.present.console import spinner

    settings = app.settings(**{"ingest.max_reject_pct": max_reject_pct})
    layout = Layout(settings.data_dir)
    with data_dir_lock(layout, "ingest"), spinner(f"ingesting {len(paths)} file(s)",
                                                  quiet=app.verbosity < 0):
        loads = ingest_files(layout, list(paths), config=settings.ingest,
                             now=datetime.now(UTC), customers=customers)
        summaries.refresh(layout)  # the months this load wrote; the others stay as they are
    for load in loads:
        v = load.validated
        app.info(f"{load.path}: {v.rows_read} rows read, {load.loaded} loaded, "
                 f"{v.clean.height - load.loaded} already in the lake, {v.rejected} rejected")
        for reason, count in v.counts.items():
            app.info(f"  {reason}: {count}")
        if load.rejects_file:
            app.info(f"  rejects: {load.rejects_file}")
    tx = [ld for ld in loads if ld.kind == "transactions"]
    cust = [ld for ld in loads if ld.kind == "customers"]
    summary = (f"ingested {len(tx)} file(s): {sum(ld.validated.rows_read for ld in tx)} rows read, "
               f"{sum(ld.loaded for ld in tx)} loaded, "
               f"{sum(ld.validated.rejected for ld in tx)} rejected")
    if cust:
        c = cust[0]
        summary += (f"; customers: {c.added.get('added', 0)} added, "
                    f"{c.added.get('updated', 0)} updated, {c.validated.rejected} rejected")
    click.echo(f"{summary} into {layout.root}")
