"""CLI commands: run, check, migration, sql, demo."""

from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING

import click

from segengine.cli import AppContext, as_of_option, cli, error_boundary, parse_date, pass_app
from segengine.errors import SegengineError
from segengine.lake.layout import Layout
from segengine.present.console import Steps, check_lines, print_check_lines, print_frame
from segengine.present.display import FORMATS, render
from segengine.run.backfill import EVERY, parse_as_of

if TYPE_CHECKING:
    from segengine.run.pipeline import RunResult

SUMMARY_HEADERS = {"customer_segment": "segment", "pct_customers": "% customers",
                   "avg_monthly_spend": "monthly spend ($, avg per customer)",
                   "total_lifetime_value": "lifetime value ($, total)"}


def data_dir_flag(app: AppContext) -> str:
    """` --data-dir D` when the user passed one, for the commands we suggest."""
    chosen = app.flags.get("paths.data_dir")
    return f" --data-dir {chosen}" if chosen else ""


def where_results_are(app: AppContext, as_of: date, manifest: str) -> list[str]:
    """The run's last lines: where the results are and what to do next."""
    layout = Layout(app.settings().data_dir)
    out = layout.out_dir(as_of)
    files = len(list(out.glob("*.parquet"))) if out.exists() else 0
    seg = f"segengine{data_dir_flag(app)}"
    return [
        "results:",
        f"  warehouse  {layout.warehouse.resolve()}",
        f"  tables     {out.resolve()}/ ({files} Parquet files)",
        f"  manifest   {manifest}",
        f"  report     {(out / 'report.html').resolve()} (written by `segengine report`)",
        "next:",
        f"  {seg} report                   # one offline HTML file with every chart",
        f"  {seg} app                      # explorer + campaign builder (segengine[app])",
        f'  {seg} export --audience "segment=Declining" -o declining.csv',
    ]


@cli.command()
@click.option("--as-of", "as_of_values", multiple=True, metavar="DATE|A..B",
              help="As-of date YYYY-MM-DD (default: latest transaction). Repeat it, or give a "
                   "range A..B with --every, to backfill several dates in one command.")
@click.option("--every", type=click.Choice(EVERY),
              help="With --as-of A..B: compute every month-end in the range, oldest first.")
@click.option("--segments-file", type=click.Path(dir_okay=False, exists=True),
              help="External ML segmentation CSV (customer_id, segment_id, segment_name).")
@click.option("--allow-stale-lake", is_flag=True,
              help="Allow an --as-of after the lake's last transaction date.")
@click.option("--engine", type=click.Choice(["local", "snowflake"]), default="local",
              show_default=True, help="Where the models run: DuckDB over the lake, or inside "
              "Snowflake over [snowflake.source], published to [snowflake.target].")
@click.option("--no-summaries", "no_summaries", is_flag=True,
              help="Read every raw lake row instead of the month summaries (the reference "
              "path; same results, slower).")
@click.option("--dry-run", is_flag=True,
              help="With --engine snowflake: print every statement of the run; create nothing.")
@click.option("--connection", metavar="NAME",
              help="With --engine snowflake: connection in Snowflake's connections.toml.")
@pass_app
@error_boundary
def run(app: AppContext, as_of_values: tuple[str, ...] = (), every: str | None = None,
        segments_file: str | None = None, allow_stale_lake: bool = False,
        engine: str = "local", dry_run: bool = False, connection: str | None = None,
        no_summaries: bool = False) -> None:
    """Compute every output table as of a date and publish warehouse, out/ and the manifest.

    Several dates (--as-of repeated, or --as-of A..B --every month-end) are computed oldest
    first in one command, each published as its own run, so the segment history and
    `segengine migration` cover them all; the newest date is the current run afterwards.

    With --engine snowflake the same models run inside Snowflake instead (only customer-grain
    rows leave it) and the tables are published to [snowflake.target].

    Example: segengine run --as-of 2025-01-31..2025-12-31 --every month-end
    """
    dates = parse_as_of(as_of_values, every)
    as_of = dates[0] if dates else None
    if engine == "snowflake":
        from segengine.cli.sync_commands import do_engine_run

        if len(dates) > 1:
            raise click.UsageError("--engine snowflake runs one --as-of date at a time")
        do_engine_run(app, app.settings(**{"snowflake.connection": connection}), as_of=as_of,
                      segments_file=segments_file, allow_stale_lake=allow_stale_lake,
                      dry_run=dry_run)
        return
    if dry_run or connection:
        raise click.UsageError("--dry-run and --connection need --engine snowflake")
    if len(dates) > 1:
        _backfill(app, dates, segments_file=segments_file, allow_stale_lake=allow_stale_lake,
                  summaries=not no_summaries)
        return
    from segengine.run.pipeline import run_pipeline

    with Steps("run", quiet=app.verbosity < 0) as steps:
        result = run_pipeline(app.settings(), as_of=as_of, segments_file=segments_file,
                              log=steps, on_stage=steps.step, allow_stale_lake=allow_stale_lake,
                              summaries=not no_summaries)
    _published(app, result)


def _published(app: AppContext, result: RunResult) -> None:
    app.info(f"published run {result.run_id}")
    print_frame(result.segment_summary, headers=SUMMARY_HEADERS,
                title=f"Behavioural segments as of {result.as_of}")
    for line in where_results_are(app, result.as_of, str(result.manifest_path)):
        app.info(line)


def _backfill(app: AppContext, dates: list[date], *, segments_file: str | None,
              allow_stale_lake: bool, summaries: bool) -> None:
    """Every date in one process, a progress bar over the dates; the newest is shown last."""
    from segengine.run.pipeline import run_dates

    with Steps(f"backfill {dates[0]}..{dates[-1]}", quiet=app.verbosity < 0,
               total=len(dates)) as steps:
        def done(result: RunResult, i: int) -> None:
            steps(f"[{i + 1}/{len(dates)}] published {result.as_of} (run {result.run_id})")
            steps.step(str(result.as_of))

        current = [""]  # the date being computed: its warnings are printed with it

        def log(message: str) -> None:  # stage lines with -v; warnings and notes always
            if message.startswith("run ") and ": as of " in message:
                current[0] = message.rsplit(": as of ", 1)[1]
            if app.verbosity > 0:
                steps(message)
            elif "warning:" in message or "note:" in message:
                steps(f"  {current[0]} {message.strip()}" if current[0] else message)

        results = run_dates(app.settings(), dates, segments_file=segments_file, log=log,
                            on_date=done, allow_stale_lake=allow_stale_lake,
                            summaries=summaries)
    app.info(f"backfilled {len(results)} as-of dates {dates[0]}..{dates[-1]}; "
             f"try: segengine{data_dir_flag(app)} migration --from {dates[-2]} --to {dates[-1]}")
    _published(app, results[-1])


@cli.command()
@pass_app
@error_boundary
def check(app: AppContext) -> None:
    """Re-run the data quality gate on the tables in the warehouse; exit 1 on any error.

    Prints PASS, WARN or ERROR per check and a summary line.

    Example: segengine check
    """
    from segengine.run.warehouse import check_warehouse

    results = check_warehouse(app.settings(), log=app.info)
    print_check_lines(*check_lines(results))
    failed = [r for r in results if r.level == "error" and not r.passed]
    if failed:
        raise SegengineError(f"{len(failed)} error-level check(s) failed (listed above)")


@cli.command()
@click.option("--from", "from_date", callback=parse_date,
              help="Earlier as-of date (default: the history date before --to).")
@click.option("--to", "to_date", callback=parse_date,
              help="Later as-of date (default: --as-of, else the latest in the history).")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="table: matrix of counts and row %; csv/json/record: "
                                      "one row per (from, to) pair.")
@pass_app
@error_boundary
def migration(app: AppContext, from_date: date | None, to_date: date | None,
              as_of: date | None, fmt: str) -> None:
    """Print how customers moved between segments from one as-of date to another.

    Rows are the segment on the earlier date, columns the segment on the later one; each cell
    is the number of customers and its share of the row.

    Example: segengine migration --from 2025-07-31 --to 2025-10-31
    """
    from segengine.present.report import migration_long, migration_table
    from segengine.run import insights
    from segengine.run.results import open_results

    with open_results(Layout(app.settings().data_dir)) as r:
        dates = r.history_dates()
        to_date = to_date or as_of or (dates[-1] if dates else None)
        earlier = [d for d in dates if to_date and d < to_date]
        from_date = from_date or (earlier[-1] if earlier else None)
        missing = [d.isoformat() for d in (from_date, to_date) if d is not None and d not in dates]
        if from_date is None or to_date is None or missing:
            have = ", ".join(d.isoformat() for d in dates) or "none"
            what = f"no segment history for {', '.join(missing)}" if missing else \
                "the history needs two as-of dates"
            raise SegengineError(f"{what} (have: {have}). Run `segengine run --as-of D` for "
                                 "that date first")
        moves = insights.transitions(r, from_date, to_date)
    if fmt != "table":
        print_frame(migration_long(moves), fmt)
        return
    print_frame(migration_table(moves),
                title=f"Segment migration: rows = segment on {from_date} (from), columns = "
                      f"segment on {to_date} (to); cells = customers (% of the row)")


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Output format; record prints one column per line.")
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
    """Generate a small synthetic portfolio, run everything on it and write the HTML report
    (no Snowflake needed).

    Example: segengine demo --customers 2000
    """
    from segengine.cli.generate_commands import generate
    from segengine.cli.results_commands import report

    ctx.invoke(generate, customers=customers, months=months, seed=seed, force=force)
    ctx.invoke(run)
    ctx.invoke(report)
    app = ctx.find_object(AppContext)
    assert app is not None
    app.info(f'explore: segengine{data_dir_flag(app)} sql "SELECT * FROM customer_360_profile '
             'LIMIT 1" --format record')
    sys.stdout.flush()
