"""CLI commands: calibrate (segment thresholds from the portfolio's own spending, §5.9)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path

import click

from segengine.cli import AppContext, as_of_option, cli, error_boundary, pass_app
from segengine.config import find_config_file
from segengine.errors import ConfigError


@cli.command()
@as_of_option
@click.option("--write", is_flag=True,
              help="Add the proposal, commented out, to segengine.toml for you to review.")
@pass_app
@error_boundary
def calibrate(app: AppContext, as_of: date | None, write: bool) -> None:
    """Propose [segments] thresholds from this portfolio's own spending; show the shares.

    Money thresholds keep the position they hold in the reference card portfolio; nothing
    changes until you uncomment the block that --write adds to segengine.toml.

    Example: segengine calibrate --as-of 1998-06-30 --write
    """
    from segengine.models.calibrate import toml_block, with_block
    from segengine.present.display import format_table
    from segengine.run.calibration import calibrate as compute

    settings = app.settings()
    result = compute(settings, as_of=as_of)
    current = asdict(settings.segments)
    click.echo(f"segment thresholds as of {result.as_of.isoformat()} (current -> proposed):")
    for key, value in asdict(result.proposal.thresholds).items():
        mark = "" if value == current[key] else "   <- proposed"
        click.echo(f"  {key:<30} {current[key]:>10g} -> {value:g}{mark}")
    for segment, why in result.proposal.notes.items():
        click.echo(f"  {segment} stays empty: {why}")
    click.echo(format_table(result.shares))
    if not write:
        app.info("nothing written; add --write to put the proposal (commented) in segengine.toml")
        return
    path = find_config_file(app.config_file) or Path("segengine.toml")
    block = toml_block(result.proposal, as_of=result.as_of, source=str(settings.data_dir))
    _write_text(path, with_block(path.read_text() if path.exists() else "", block))
    app.info(f"wrote the proposal, commented out, to {path.resolve()}; uncomment it to accept")


def _write_text(path: Path, text: str) -> None:
    """Replace the file's content atomically (a temp file renamed over it, removed on error)."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path} ({exc.strerror}). Check the folder's "
                          "permissions and free space; nothing was changed") from exc
