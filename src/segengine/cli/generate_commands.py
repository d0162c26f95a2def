"""CLI commands: generate."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime

import click

from segengine.cli import AppContext, cli, error_boundary, parse_date, pass_app
from segengine.config import GenerateConfig
from segengine.errors import ConfigError, DataError
from segengine.lake import summaries
from segengine.lake.generate import generate_customers, generate_transactions
from segengine.lake.layout import Layout, data_dir_lock
from segengine.lake.loads import LakeLoad, foreign_data
from segengine.present.console import track


def _check(config: GenerateConfig) -> None:
    """Refuse settings the generator cannot honour, naming the setting."""
    for key in ("customers", "months"):
        if getattr(config, key) < 1:
            raise ConfigError(f"generate.{key} must be at least 1. Pass --{key} N")
    if config.customers >= 10**8:
        raise ConfigError("generate.customers must be below 100,000,000. Pass fewer --customers")
    if config.seed < 0:
        raise ConfigError("generate.seed must be 0 or more. Pass --seed N")


def _remove_stale(load: LakeLoad, layout: Layout, keep: set[str]) -> int:
    """Delete (at commit) month partitions that were not regenerated; return how many."""
    stale = [f for f in layout.partition_files()
             if f.parent.name.removeprefix("month=") not in keep]
    for path in stale:
        load.delete(path)
    return len(stale)


def _invoked() -> str:
    """The command the user typed (`generate`, or `demo`, which invokes generate)."""
    return click.get_current_context().find_root().invoked_subcommand or "generate"


def refuse_foreign_lake(layout: Layout, *, force: bool, command: str) -> None:
    """Never replace ingested or pulled data without --force (design §3)."""
    foreign = foreign_data(layout)
    if foreign and not force:
        raise DataError(
            f"the lake in {layout.root / 'lake'} holds {foreign}; `segengine {command}` would "
            "replace it with synthetic data. Pass --force to overwrite it, or use a fresh "
            "--data-dir")


@cli.command()
@click.option("--customers", type=int, help="Number of customers (default 50,000).")
@click.option("--months", type=int, help="Calendar months up to --end (default 18).")
@click.option("--end", callback=parse_date, help="Last transaction date (default 2025-10-31).")
@click.option("--seed", type=int, help="Random seed; same seed, identical files (default 42).")
@click.option("--force", is_flag=True,
              help="Replace a lake that holds ingested or pulled data.")
@pass_app
@error_boundary
def generate(app: AppContext, customers: int | None, months: int | None, end: date | None,
             seed: int | None, force: bool = False) -> None:
    """Write a synthetic card portfolio into the lake (customers + monthly partitions).

    The lake then holds exactly the generated data: month partitions outside the generated
    range are removed and the customers table is replaced, all at once. A lake holding
    ingested or pulled data (per the lake log) is refused unless --force.

    Example: segengine generate --customers 2000 --seed 7
    """
    settings = app.settings(**{"generate.customers": customers, "generate.months": months,
                               "generate.end": end, "generate.seed": seed})
    config = settings.generate
    _check(config)
    import duckdb
    import polars as pl

    layout = Layout(settings.data_dir)
    started = time.perf_counter()
    rows = 0
    with data_dir_lock(layout, "generate"):
        refuse_foreign_lake(layout, force=force, command=_invoked())
        frame = generate_customers(customers=config.customers, months=config.months,
                                   end=config.end, seed=config.seed)
        parts = generate_transactions(frame, months=config.months, end=config.end,
                                      seed=config.seed)
        written: set[str] = set()
        load = LakeLoad(layout, "generate", f"{datetime.now(UTC):%Y%m%dT%H%M%S}Z-generate")
        # A summary built from the staged file carries the fingerprint the partition has
        # after commit (rename keeps size, mtime and bytes); if the load fails it is stale.
        summary_con = duckdb.connect(config={"threads": 1})
        built: list[Future[object]] = []

        def stage(part: pl.DataFrame, month: str) -> None:
            staged = load.put_parquet(part, layout.partition_file(month))
            built.append(summarizer.submit(summaries.build, summary_con, layout, month,
                                           source=staged))

        try:
            # A pipeline of three threads (all release the GIL): month i+1 is generated while
            # month i is staged (in month order, so the lake log lists them in order) and
            # month i-1's summary is built.
            with ThreadPoolExecutor(max_workers=1) as pool, \
                    ThreadPoolExecutor(max_workers=1) as summarizer:
                pending: Future[None] | None = None
                for month, part in track(parts, total=config.months,
                                         description="generating months",
                                         quiet=app.verbosity < 0):
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(stage, part, month)
                    written.add(month)
                    rows += part.height
                if pending is not None:
                    pending.result()
                for summary in built:
                    summary.result()
            removed = _remove_stale(load, layout, written)
            load.put_parquet(frame, layout.customers_file)
            # the lake no longer mirrors a Snowflake source, so a pull watermark would be wrong
            load.delete(layout.root / "lake" / "_watermark.json")
            load.commit({"customers": config.customers, "transactions": rows,
                         "months": config.months, "end": config.end.isoformat(),
                         "seed": config.seed})
        finally:
            load.abort()
            summary_con.close()
        summaries.refresh(layout)  # verifies the summaries built above, drops removed months
    if removed:
        app.detail(f"removed {removed} partition(s) outside the generated months")
    click.echo(
        f"generated {config.customers:,} customers, {rows:,} transactions, "
        f"{config.months} months ending {config.end} in {time.perf_counter() - started:.1f}s "
        f"-> {layout.root}"
    )
