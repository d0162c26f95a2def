"""CLI commands: snowflake test, push, pull, sync (design §9)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from segengine.cli import AppContext, as_of_option, cli, error_boundary, pass_app
from segengine.config import Settings
from segengine.lake.layout import Layout, data_dir_lock
from segengine.present.console import Steps

connection_option = click.option(
    "--connection", "connection", metavar="NAME",
    help="Connection in Snowflake's connections.toml (overrides [snowflake] connection).")


def _settings(app: AppContext, connection: str | None) -> Settings:
    return app.settings(**{"snowflake.connection": connection})


def _session(app: AppContext, settings: Settings) -> Any:
    from segengine.sync import manifest
    from segengine.sync.connection import resolve_connection
    from segengine.sync.session import Session

    params = resolve_connection(settings.snowflake, os.environ, Path.home())
    app.detail(f"connection {params.name!r} from {params.origin}")
    layout, account = Layout(settings.data_dir), params.get("account")

    def journal(transaction: str | None) -> None:
        manifest.record_open_transaction(layout, account=account, transaction=transaction)

    session = Session(params, log=app.info, journal=journal)
    left_open = manifest.open_transaction(layout, account=account)
    if left_open is not None:
        session.detached.append(left_open)  # a killed push's transaction: aborted first
    return session


def do_engine_run(app: AppContext, settings: Settings, *, as_of: date | None,
                  segments_file: str | None, allow_stale_lake: bool, dry_run: bool) -> None:
    """`run --engine snowflake`: every model inside Snowflake (or, with dry_run, the plan)."""
    from segengine.sync import engine

    session = _session(app, settings)
    now = datetime.now(UTC)
    segments = segments_file or settings.ml.segments_file or None
    try:
        if dry_run:
            click.echo(engine.dry_run(session, settings, as_of=as_of, now=now,
                                      segments_file=segments is not None), nl=False)
            return
        with data_dir_lock(Layout(settings.data_dir), "run"):
            result, path = engine.run(session, settings, as_of=as_of, now=now,
                                      segments_file=segments, log=app.info,
                                      allow_stale_lake=allow_stale_lake)
    finally:
        session.close()
    for warning in result.warnings:
        app.info(f"  warning: {warning}")
    for table, rows in result.row_counts.items():
        click.echo(f"{table:<32} {rows:>10,} rows")
    total = sum(result.segments.values()) or 1
    for segment, customers in sorted(result.segments.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {segment:<30} {customers:>10,} customers  {100 * customers / total:5.1f}%")
    fetched = sum(int(f["rows"]) for f in result.fetched)
    click.echo(f"published {len(result.row_counts)} table(s) as of {result.as_of.isoformat()} "
               f"inside Snowflake; {fetched:,} customer-grain rows fetched; manifest {path}")


def _tables(values: tuple[str, ...]) -> list[str] | None:
    names = [t.strip() for v in values for t in v.split(",") if t.strip()]
    return names or None


@cli.group()
def snowflake() -> None:
    """Check the Snowflake connection used by push, pull and sync.

    Example: segengine snowflake test --connection my_connection
    """


@snowflake.command("test")
@connection_option
@pass_app
@error_boundary
def snowflake_test(app: AppContext, connection: str | None) -> None:
    """Connect and print account, user, role, warehouse and the target database/schema.

    Example: segengine snowflake test --connection my_connection
    """
    from segengine.sync.connection import describe_session

    settings = _settings(app, connection)
    session = _session(app, settings)
    try:
        info = describe_session(session.connection(), session.params)
    finally:
        session.close()
    target = settings.snowflake.target
    info["connection"] = session.params.name
    info["target"] = f"{target.database or session.params.get('database', '(default)')}." \
                     f"{target.schema}"
    for key in ("connection", "account", "user", "role", "warehouse", "target"):
        click.echo(f"{key:<11} {info[key]}")


def do_push(app: AppContext, settings: Settings, *, as_of: date | None,
            tables: list[str] | None, dry_run: bool) -> None:
    """Plan (and unless dry_run, execute and record) a push of a published run's files: by
    default the current one (what warehouse.duckdb shows), after finishing any publish a crash
    cut short; every file is checked against its sha256 in the run's manifest first."""
    from segengine.run.recover import published_run, roll_forward, verify_files
    from segengine.sync import manifest, push

    layout = Layout(settings.data_dir)
    with data_dir_lock(layout, "push"):
        roll_forward(layout, app.info)
        run = published_run(layout, as_of)
        title = f"run {run.run_id}, as of {run.as_of}"
        plan = push.plan_push(layout, as_of=run.as_of, target=settings.snowflake.target,
                              tables=tables)
        verify_files(run, [load.table for load in plan.loads])
        if dry_run:
            click.echo(f"-- {title}")
            for stmt in plan.statements():
                click.echo(stmt.render())
            return
        app.info(f"push {title}")
        session = _session(app, settings)
        with Steps("push", quiet=app.verbosity < 0, total=len(plan.loads) + 1) as steps:
            def log(message: str) -> None:  # run_push logs once per table, then the publish
                if steps.done < len(plan.loads) + 1 and message.startswith(
                        ("uploading ", "publishing ")):
                    steps.step(message.split(" (")[0])
                steps(message)

            try:
                result = push.run_push(session, plan, log=log)
            finally:
                session.close()
        path = manifest.record_push(layout, push.push_record(result), as_of=run.as_of,
                                    now=datetime.now(UTC), run_id=run.run_id)
    for warning in result.warnings:
        app.info(f"warning: {warning}")
    for t in result.tables:
        click.echo(f"{t.table:<32} {t.rows:>10,} rows")
    click.echo(f"pushed {len(result.tables)} table(s), {result.rows:,} rows as of {run.as_of} "
               f"(run {run.run_id}) to {result.database}.{result.schema} in "
               f"{result.duration_s:.1f} s (recorded in {path})")


@cli.command()
@as_of_option
@click.option("--tables", multiple=True, metavar="T1,T2",
              help="Only these tables (comma-separated or repeated); default: all in out/<D>/.")
@click.option("--dry-run", is_flag=True, help="Print the SQL plan; connect to nothing.")
@connection_option
@pass_app
@error_boundary
def push(app: AppContext, as_of: date | None, tables: tuple[str, ...], dry_run: bool,
         connection: str | None) -> None:
    """Upload a published run's out/<D>/*.parquet to Snowflake and publish all tables in one
    transaction. Default D: the current published run (what warehouse.duckdb shows).

    Example: segengine push --as-of 2025-10-31 --dry-run
    """
    do_push(app, _settings(app, connection), as_of=as_of, tables=_tables(tables),
            dry_run=dry_run)


class _MonthsBar:
    """A months progress bar on stderr (rich, terminal only), created on the first month."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.steps: Steps | None = None
        self.rows = 0

    def update(self, month: str, rows: int, total: int) -> None:
        if self.steps is None:
            self.steps = Steps("pull", quiet=self.app.verbosity < 0, total=total).__enter__()
        self.rows += rows
        self.steps.step(f"{month} ({self.rows:,} rows)")

    def close(self) -> None:
        if self.steps is not None:
            self.steps.__exit__(None, None, None)


def do_pull(app: AppContext, settings: Settings, *, since: str | None, full: bool) -> None:
    """Pull under the data-directory lock and print what changed."""
    from segengine.sync.pull import run_pull

    layout = Layout(settings.data_dir)
    session = _session(app, settings)
    bar = _MonthsBar(app)
    with data_dir_lock(layout, "pull"):
        try:
            result = run_pull(session, settings, since=since, full=full, now=datetime.now(UTC),
                              progress=bar.update)
        finally:
            bar.close()
            session.close()
    for folder in result.removed_folders:
        app.info(f"removed {folder}, left by a pull that was killed")
    for note in result.notes:
        app.info(note)
    if result.customers is not None:
        click.echo(f"customers: {result.customers:,}")
    months = ", ".join(result.months) or "none"
    click.echo(f"pulled {result.rows_read:,} rows in {len(result.months)} month(s) ({months}); "
               f"{result.rejected:,} rejected; watermark {result.watermark or 'none'}; "
               f"{result.duration_s:.1f} s")
    for path in result.rejects_files:
        app.info(f"rejected rows: {path}")


@cli.command()
@click.option("--since", metavar="YYYY-MM", help="Re-read from this month (ignores the watermark).")
@click.option("--full", is_flag=True, help="Re-read every month of the source.")
@connection_option
@pass_app
@error_boundary
def pull(app: AppContext, since: str | None, full: bool, connection: str | None) -> None:
    """Pull [snowflake.source] tables into the lake, month by month from the watermark.

    Example: segengine pull --since 2025-01
    """
    do_pull(app, _settings(app, connection), since=since, full=full)


@cli.command()
@as_of_option
@click.option("--since", metavar="YYYY-MM", help="Pull from this month (ignores the watermark).")
@click.option("--full", is_flag=True, help="Pull every month of the source.")
@click.option("--segments-file", type=click.Path(dir_okay=False),
              help="External segmentation CSV joined into customer_360_profile.")
@connection_option
@pass_app
@error_boundary
def sync(app: AppContext, as_of: date | None, since: str | None, full: bool,
         segments_file: str | None, connection: str | None) -> None:
    """Pull, run, then push; stops at the first failure with nothing half-published.

    Example: segengine sync --connection my_connection
    """
    from segengine.run.pipeline import run_pipeline

    settings = _settings(app, connection)
    do_pull(app, settings, since=since, full=full)
    result = run_pipeline(settings, as_of=as_of, segments_file=segments_file, log=app.detail)
    click.echo(f"run {result.run_id}: {sum(result.row_counts.values()):,} output rows")
    do_push(app, settings, as_of=result.as_of, tables=None, dry_run=False)
