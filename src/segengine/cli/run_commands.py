"""CLI commands: run, check, migration, sql, demo."""

from __future__ import annotations

import sys
from datetime import date

import click

from segengine.cli import AppContext, as_of_option, cli, error_boundary, parse_date, pass_app
from segengine.errors import SegengineError
from segengine.lake.layout import Layout
from segengine.present.display import format_table, render


@cli.command()
@as_of_option
@click.option("--segments-file", type=click.Path(dir_okay=False, exists=True),
              help="External ML segmentation CSV (customer_id, segment_id, segment_name).")
@click.option("--allow-stale-lake", is_flag=True,
              help="Allow an --as-of after the lake's last transaction date.")
@pass_app
@error_boundary
def run(app: AppContext, as_of: date | None, segments_file: str | None,
        allow_stale_lake: bool = False) -> None:
    """Compute every output table as of a date and publish warehouse, out/ and the manifest.

    Example: segengine run --as-of 2025-10-31
    """
    from segengine.run.pipeline import run_pipeline

    result = run_pipeline(app.settings(), as_of=as_of, segments_file=segments_file, log=app.info,
                          allow_stale_lake=allow_stale_lake)
    app.info(f"published run {result.run_id}; manifest {result.manifest_path}")
    click.echo(format_table(result.segment_summary))


@cli.command()
@pass_app
@error_boundary
def check(app: AppContext) -> None:
    """Re-run the data quality gate on the tables in the warehouse; exit 1 on any error.

    Example: segengine check
    """
    from segengine.run.warehouse import check_warehouse

    results = check_warehouse(app.settings())
    for r in results:
        click.echo(r.describe())
    failed = [r for r in results if r.level == "error" and not r.passed]
    if failed:
        raise SegengineError(f"{len(failed)} error-level check(s) failed (listed above)")


@cli.command()
@click.option("--from", "from_date", required=True, callback=parse_date, help="Earlier as-of date.")
@click.option("--to", "to_date", required=True, callback=parse_date, help="Later as-of date.")
@pass_app
@error_boundary
def migration(app: AppContext, from_date: date, to_date: date) -> None:
    """Print the matrix of segment transitions between two as-of dates in the history.

    Example: segengine migration --from 2025-07-31 --to 2025-10-31
    """
    from segengine.run.warehouse import migration_matrix

    click.echo(format_table(migration_matrix(app.settings(), from_date, to_date)))


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--max-rows", default=50, show_default=True, help="Rows shown in table format.")
@pass_app
@error_boundary
def sql(app: AppContext, query: str, fmt: str, max_rows: int) -> None:
    """Run read-only SQL against warehouse.duckdb and print the result.

    Only queries run (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE), each statement checked
    with DuckDB's parser, on a read-only connection that cannot reach files outside the data
    directory's out/ and lake/. The lake is readable as the views transactions and customers.

    Example: segengine sql "SELECT customer_segment, COUNT(*) FROM customer_segments GROUP BY 1"
    """
    from segengine.run.readonly import run_query

    layout = Layout(app.settings().data_dir)
    click.echo(run_query(layout, query, lambda frame: render(frame, fmt, max_rows=max_rows)))


@cli.command()
@click.option("--customers", default=2000, show_default=True, help="Synthetic customers.")
@click.option("--months", default=18, show_default=True, help="Months of history.")
@click.option("--seed", default=42, show_default=True, help="Random seed.")
@click.option("--force", is_flag=True, help="Replace a lake that holds ingested or pulled data.")
@click.pass_context
@error_boundary
def demo(ctx: click.Context, customers: int, months: int, seed: int, force: bool) -> None:
    """Generate a small synthetic portfolio and run everything on it (no Snowflake needed).

    Example: segengine demo --customers 2000
    """
    from segengine.cli.generate_commands import generate

    ctx.invoke(generate, customers=customers, months=months, seed=seed, force=force)
    ctx.invoke(run)
    app = ctx.find_object(AppContext)
    assert app is not None
    where = f" --data-dir {app.settings().data_dir}" if app.flags.get("paths.data_dir") else ""
    app.info(f'explore: segengine{where} sql "SELECT * FROM customer_360_profile LIMIT 5"')
    sys.stdout.flush()
