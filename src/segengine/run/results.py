"""Reading published results for `report`, `app`, `export`, `rfm`, `clusters` (design §13).

`open_results` gives one read-only DuckDB connection on which every output table of ONE as-of
date is visible by its name: the warehouse's current tables, or for an earlier date the files
of out/<date>/ registered over them. History and `runs` always come from the warehouse.
Every query here is fixed SQL; values enter as bound parameters only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl
import pyarrow.dataset as ds

from segengine.errors import SegengineError
from segengine.lake.layout import Layout
from segengine.run.readonly import open_warehouse

HISTORY = "customer_segments_history"


@dataclass
class Results:
    """A read-only view of one as-of date's published tables."""

    con: duckdb.DuckDBPyConnection
    layout: Layout
    as_of: date
    """The date shown (None only for a warehouse without customer_segments)."""
    current: date
    """The as-of date of the warehouse's current tables."""
    tables: frozenset[str]

    def frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Rows of a fixed query with bound parameters."""
        try:
            return self.con.sql(sql, params=params or None).pl()
        except duckdb.Error as exc:
            raise SegengineError(f"reading the published results failed ({exc}). Re-run "
                                 "`segengine run` to rebuild them") from exc

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def require(self, *tables: str) -> None:
        """Raise a helpful error when the run of this date did not produce these tables."""
        missing = [t for t in tables if t not in self.tables]
        if missing:
            when = f" for as-of {self.as_of}" if self.as_of else ""
            flag = f" --as-of {self.as_of}" if self.as_of else ""
            raise SegengineError(
                f"table(s) {', '.join(missing)} not found{when} in {self.layout.root}. "
                f"Run `segengine run{flag}` first")

    def columns(self, table: str) -> list[str]:
        """Column names of a visible table (e.g. to check for an optional column)."""
        return list(self.frame(f"SELECT * FROM {_known(self, table)} LIMIT 0").columns)

    def history_dates(self) -> list[date]:
        """As-of dates in customer_segments_history, oldest first."""
        if HISTORY not in self.tables:
            return []
        rows = self.con.execute(f"SELECT DISTINCT as_of_date FROM {HISTORY} ORDER BY 1"
                                ).fetchall()
        return [r[0] for r in rows]

    def manifest(self) -> dict[str, Any]:
        """The manifest of the latest run of this as-of date ({} when there is none)."""
        if "runs" not in self.tables:
            return {}
        rows = self.con.execute("SELECT manifest, finished_at FROM runs WHERE as_of = ? "
                                "ORDER BY finished_at DESC LIMIT 1", [self.as_of]).fetchall()
        if not rows:
            return {}
        manifest: dict[str, Any] = json.loads(rows[0][0])
        # the copy in the warehouse is stored before the commit; its time is the column's
        manifest.setdefault("finished_at", f"{rows[0][1].isoformat()}Z" if rows[0][1] else None)
        return manifest


def _known(results: Results, table: str) -> str:
    if table not in results.tables:
        results.require(table)
    return table  # a name from the visible set, never user text


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                   "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal"
                   ).fetchall()
    return {str(r[0]) for r in rows}


def published_dates(layout: Layout) -> list[date]:
    """As-of dates with a published out/<date>/ folder, oldest first."""
    out = layout.root / "out"
    found = []
    for folder in sorted(out.iterdir()) if out.exists() else []:
        with contextlib.suppress(ValueError):
            if folder.is_dir():
                found.append(date.fromisoformat(folder.name))
    return found


@contextlib.contextmanager
def open_results(layout: Layout, as_of: date | None = None) -> Iterator[Results]:
    """The published tables of `as_of` (default: the warehouse's current date), read-only."""
    con = open_warehouse(layout)
    try:
        present = _relations(con)
        current = None
        if "customer_segments" in present:
            current = con.sql("SELECT MAX(as_of_date) FROM customer_segments").fetchall()[0][0]
        if as_of is not None and as_of != current:
            present = _register_out_dir(con, layout, as_of) | ({HISTORY, "runs"} & present)
        yield Results(con=con, layout=layout, as_of=as_of or current,  # type: ignore[arg-type]
                      current=current, tables=frozenset(present))  # type: ignore[arg-type]
    finally:
        con.close()


def _register_out_dir(con: duckdb.DuckDBPyConnection, layout: Layout, as_of: date) -> set[str]:
    """Register out/<as_of>/<table>.parquet under each table's name (shadowing the current
    tables of the same name on this connection only)."""
    folder = layout.out_dir(as_of)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        have = ", ".join(d.isoformat() for d in published_dates(layout)) or "none"
        raise SegengineError(f"no published results for as-of {as_of} in {layout.root / 'out'} "
                             f"(published: {have}). Run `segengine run --as-of {as_of}` first")
    names = set()
    for path in files:
        if path.stem == HISTORY:  # the warehouse holds every date's history rows
            continue
        con.register(path.stem, ds.dataset(str(path), format="parquet"))
        names.add(path.stem)
    return names
