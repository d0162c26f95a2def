"""CLI commands: generate."""

from __future__ import annotations

import shutil
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

import click

from segengine.cli import AppContext, cli, error_boundary, parse_date, pass_app
from segengine.config import GenerateConfig
from segengine.errors import ConfigError
from segengine.lake.generate import generate_customers, generate_transactions
from segengine.lake.layout import Layout, data_dir_lock, write_parquet_atomic


def _check(config: GenerateConfig) -> None:
    """Refuse settings the generator cannot honour, naming the setting."""
    for key in ("customers", "months"):
        if getattr(config, key) < 1:
            raise ConfigError(f"generate.{key} must be at least 1. Pass --{key} N")
    if config.customers >= 10**8:
        raise ConfigError("generate.customers must be below 100,000,000. Pass fewer --customers")
    if config.seed < 0:
        raise ConfigError("generate.seed must be 0 or more. Pass --seed N")


def _remove_stale(layout: Layout, keep: set[str]) -> int:
    """Delete month partitions that were not regenerated; return how many."""
    stale = [f.parent for f in layout.partition_files()
             if f.parent.name.removeprefix("month=") not in keep]
    for folder in stale:
        shutil.rmtree(folder)
    return len(stale)


@cli.command()
@click.option("--customers", type=int, help="Number of customers (default 50,000).")
@click.option("--months", type=int, help="Calendar months up to --end (default 18).")
@click.option("--end", callback=parse_date, help="Last transaction date (default 2025-10-31).")
@click.option("--seed", type=int, help="Random seed; same seed, identical files (default 42).")
@pass_app
@error_boundary
def generate(app: AppContext, customers: int | None, months: int | None, end: date | None,
             seed: int | None) -> None:
    """Write a synthetic card portfolio into the lake (customers + monthly partitions).

    The lake then holds exactly the generated data: month partitions outside the generated
    range are removed and the customers table is replaced.

    Example: segengine generate --customers 2000 --seed 7
    """
    settings = app.settings(**{"generate.customers": customers, "generate.months": months,
                               "generate.end": end, "generate.seed": seed})
    config = settings.generate
    _check(config)
    layout = Layout(settings.data_dir)
    started = time.perf_counter()
    rows = 0
    with data_dir_lock(layout, "generate"):
        frame = generate_customers(customers=config.customers, months=config.months,
                                   end=config.end, seed=config.seed)
        parts = generate_transactions(frame, months=config.months, end=config.end,
                                      seed=config.seed)
        written: set[str] = set()
        # Writing month i overlaps generating month i+1 (both release the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool, click.progressbar(
            parts, length=config.months, label="Generating months", file=sys.stderr,
            show_pos=True, hidden=app.verbosity < 0,
        ) as bar:
            pending: Future[None] | None = None
            for month, part in bar:
                if pending is not None:
                    pending.result()
                pending = pool.submit(write_parquet_atomic, part, layout.partition_file(month))
                written.add(month)
                rows += part.height
            if pending is not None:
                pending.result()
        removed = _remove_stale(layout, written)
        # customers last, so an interrupted generate never pairs new customers with old months;
        # the lake no longer mirrors a Snowflake source, so a pull watermark would be wrong
        write_parquet_atomic(frame, layout.customers_file)
        (layout.root / "lake" / "_watermark.json").unlink(missing_ok=True)
    if removed:
        app.detail(f"removed {removed} partition(s) outside the generated months")
    click.echo(
        f"generated {config.customers:,} customers, {rows:,} transactions, "
        f"{config.months} months ending {config.end} in {time.perf_counter() - started:.1f}s "
        f"-> {layout.root}"
    )
