"""Command line: a thin shell over the pipeline.

Results go to stdout; progress and errors to stderr.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from segengine import __version__
from segengine.config import Settings, load_settings, show_rows
from segengine.errors import SegengineError, os_error

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """Global options, resolved into Settings on demand."""

    config_file: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    verbosity: int = 0
    debug: bool = False

    def settings(self, **flags: Any) -> Settings:
        return load_settings({**self.flags, **flags}, self.config_file)

    def info(self, message: str) -> None:
        """Progress line to stderr unless --quiet."""
        if self.verbosity >= 0:
            click.echo(message, err=True)

    def detail(self, message: str) -> None:
        """Extra line to stderr with --verbose."""
        if self.verbosity > 0:
            click.echo(message, err=True)


pass_app = click.make_pass_decorator(AppContext)


def error_boundary(func: F) -> F:
    """One place that turns exceptions into user-facing messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        app = ctx.find_object(AppContext)
        debug = bool(app and app.debug)
        try:
            return func(*args, **kwargs)
        except SegengineError as exc:
            if debug:
                traceback.print_exc(file=sys.stderr)
            message = str(exc).rstrip(".")
            click.echo(f"Error: {message}.", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # e.g. `segengine config show | head`
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("Interrupted; outputs already published are intact.", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the single boundary for bugs
            if debug:
                traceback.print_exc(file=sys.stderr)
            user_error = os_error(exc)  # disk full, read-only, permissions: not a bug (§14)
            if user_error is not None:
                click.echo(f"Error: {str(user_error).rstrip('.')}.", err=True)
                sys.exit(1)
            click.echo(
                f"Internal error ({type(exc).__name__}): {exc}\nThis is a bug in segengine. "
                "Re-run with --debug for the traceback and report it.",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


as_of_option = click.option(
    "--as-of", callback=parse_date, help="As-of date YYYY-MM-DD (default: latest transaction)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="segengine")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar=None,
              help="Data directory (default ./segengine-data, or SEGENGINE_DATA_DIR).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Config file (default ./segengine.toml if present).")
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors.")
@click.option("-v", "--verbose", count=True, help="More progress detail.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, config_file: str | None, quiet: bool,
        verbose: int, debug: bool) -> None:
    """segengine: customer segmentation on a local Parquet lake, in sync with Snowflake.

    Example: segengine demo
    """
    ctx.obj = AppContext(
        config_file=config_file,
        flags={"paths.data_dir": data_dir},
        verbosity=-1 if quiet else verbose,
        debug=debug,
    )


INIT_TEMPLATE = """\
# segengine configuration. Precedence: CLI flag > SEGENGINE_<SECTION>__<KEY> env > this file.
# `segengine config show` prints every effective value and where it came from.

[paths]
# data_dir = "segengine-data"

[ingest]
# max_reject_pct = 1.0          # fail a load when more rows than this % are rejected
# delimiter = ","               # or "whitespace"
# header = true
# [ingest.columns]              # target = source column or DuckDB SQL expression
# customer_id = "CustomerID"
# transaction_amount = "Quantity::DECIMAL(12, 2) * UnitPrice::DECIMAL(12, 2)"  # CSV is text
# transaction_date = "strptime(InvoiceDate, '%m/%d/%Y %H:%M')"

[segments]                      # behavioural rule thresholds; the order is fixed
# hvt_min_avg_monthly_spend = 5000
# hvt_min_travel_pct = 25
# declining_max_change_pct = -30
# declining_min_prior_spend = 2000
# new_max_tenure_months = 6
# new_min_change_pct = 50
# budget_max_avg_monthly_spend = 1500
# budget_min_necessities_pct = 60

[rfm]
# analysis_period_days = 365
# scoring_method = "quintiles"  # quintiles | quartiles | custom
# tie_policy = "shared"         # shared (equal values, equal scores) | ntile (reference)
# recency_basis = "cadence"     # cadence (gaps between purchases) | days

[clusters]
# k = "auto"                    # or 3..8
# seed = 42

[snowflake]
# connection = "my_connection"  # a name in ~/.snowflake/connections.toml
# [snowflake.target]
# schema = "SEGENGINE"
# [snowflake.source]
# transactions_table = "TRANSACTIONS"
"""


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing segengine.toml.")
@pass_app
@error_boundary
def init(app: AppContext, force: bool) -> None:
    """Write a commented segengine.toml in the current directory.

    Example: segengine init
    """
    path = Path("segengine.toml")
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.write_text(INIT_TEMPLATE)
    click.echo(f"wrote {path.resolve()}")


@cli.group()
def config() -> None:
    """Inspect configuration.

    Example: segengine config show
    """


@config.command("show")
@pass_app
@error_boundary
def config_show(app: AppContext) -> None:
    """Print each effective setting, its value and its source (secrets masked).

    Example: segengine config show
    """
    rows = show_rows(app.settings())
    width = max(len(k) for k, _, _ in rows)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {value!s:<30}  {source}")


def main() -> None:
    """Console-script entry point.

    Ends the process with `os._exit` once the command has returned and stdout/stderr are
    flushed. By then every output is complete (files renamed into place, DuckDB connections
    closed, the run lock released with its file descriptor); what is skipped is the
    interpreter's teardown of the imported libraries' globals and thread pools, which took
    ~0.4 s after every `run` (benchmarks/NOTES.md).
    """
    try:
        cli(prog_name="segengine")  # standalone mode: always ends in SystemExit
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`| head`) or a stream closed on purpose is not an error here
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") convention
    return 1


# Each area registers its commands on `cli` (one module per area keeps files small).
from segengine.cli import (  # noqa: E402,F401
    calibrate_commands,
    generate_commands,
    ingest_commands,
    model_commands,
    results_commands,
    run_commands,
    sync_commands,
)
