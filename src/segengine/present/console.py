"""The terminal side of the CLI on rich (design §13): tables, check lines and progress.

On a terminal, tables are rich tables and long steps show a progress bar on stderr. When stdout
or stderr is not a terminal (a pipe, a file, CI), output stays plain text, line by line, so
scripts can read it; csv/json/record formats are never decorated.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import click
import polars as pl
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from segengine.present.display import cell, check_status, render

T = TypeVar("T")


def _is_terminal(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def rich_table(frame: pl.DataFrame, *, title: str | None = None,
               headers: dict[str, str] | None = None, max_rows: int = 50) -> Table:
    """A rich table of the frame: numbers right-aligned and exact (display.cell)."""
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", title_style="bold")
    rows = [[cell(v) for v in row] for row in frame.head(max_rows).iter_rows()]
    for i, (name, dtype) in enumerate(frame.schema.items()):
        numeric = dtype.is_numeric()
        # a narrow terminal may wrap text, never cut a number: numbers keep their full width
        table.add_column((headers or {}).get(name, name), justify="right" if numeric else "left",
                         overflow="fold", no_wrap=numeric,
                         min_width=max((len(r[i]) for r in rows), default=1) if numeric else None)
    for row in rows:
        table.add_row(*row)
    if frame.height > max_rows:
        table.caption = f"({frame.height - max_rows:,} more rows)"
    return table


def print_frame(frame: pl.DataFrame, fmt: str = "table", *, title: str | None = None,
                headers: dict[str, str] | None = None, max_rows: int = 50) -> None:
    """Print a result frame to stdout: a rich table on a terminal, else `render` text (titles
    only in table format, so csv/json stay parseable)."""
    if fmt == "table" and _is_terminal(sys.stdout):
        Console().print(rich_table(frame, title=title, headers=headers, max_rows=max_rows))
        return
    if fmt == "table" and title:
        click.echo(title)
    click.echo(render(frame, fmt, max_rows=max_rows, headers=headers))


def check_lines(results: list[Any]) -> tuple[list[str], str]:
    """`PASS|WARN|ERROR  name[: detail]` per quality check, and the summary line."""
    lines, counts = [], {"PASS": 0, "WARN": 0, "ERROR": 0}
    for r in results:
        status = check_status(r.level, r.passed)
        counts[status] += 1
        detail = "" if r.passed else f": {r.failing:,} failing" + (
            f"; e.g. {', '.join(map(str, r.examples))}" if r.examples else "")
        lines.append(f"{status:<5}  {r.name}{detail}")
    summary = (f"{len(results)} checks: {counts['PASS']} PASS, {counts['WARN']} WARN, "
               f"{counts['ERROR']} ERROR")
    return lines, summary


def print_check_lines(lines: list[str], summary: str) -> None:
    """Check lines to stdout, coloured by status on a terminal."""
    if not _is_terminal(sys.stdout):
        click.echo("\n".join([*lines, summary]))
        return
    style = {"PASS": "green", "WARN": "yellow", "ERROR": "bold red"}
    console = Console(highlight=False)
    for line in lines:
        status = line.split(" ", 1)[0]
        console.print(f"[{style[status]}]{status:<5}[/]  {line[7:]}", markup=True)
    console.print(f"[bold]{summary}[/]")


class Steps:
    """Progress of a multi-step command on stderr: a live bar on a terminal (count of steps
    done, the last one, elapsed time), plain lines otherwise. Call it with a log line; call
    `step(name)` when a step finishes."""

    def __init__(self, what: str, *, quiet: bool = False, total: int | None = None) -> None:
        self.quiet = quiet
        self.live = not quiet and _is_terminal(sys.stderr)
        self.progress: Progress | None = None
        self.what, self.total, self.done = what, total, 0
        self.started = time.perf_counter()

    def __enter__(self) -> Steps:
        if self.live:
            self.progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                MofNCompleteColumn() if self.total else TaskProgressColumn(show_speed=False),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.what, total=self.total)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.console.print(message, highlight=False, markup=False)
        else:
            click.echo(message, err=True)

    def step(self, name: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.update(self.task, advance=1,
                                 description=f"{self.what}: {name}")


@contextlib.contextmanager
def spinner(message: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with elapsed time on stderr while an opaque step runs (terminal only)."""
    if quiet or not _is_terminal(sys.stderr):
        yield
        return
    with Steps(message) as steps:
        del steps
        yield


def track(items: Iterable[T], *, total: int, description: str, quiet: bool = False
          ) -> Iterator[T]:
    """Iterate with a progress bar on stderr (terminal only; plain iteration otherwise)."""
    if quiet or not _is_terminal(sys.stderr):
        yield from items
        return
    with Steps(description, total=total) as steps:
        for item in items:
            yield item
            steps.step(str(steps.done + 1))
