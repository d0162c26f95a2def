"""Warehouse versions (design §10 "readers never block a run").

A publish never writes into a file a reader may hold. It builds a NEW DuckDB file
`warehouse/<version>.duckdb` whose tables are views over the run's own Parquet folder
`out/.runs/<run_id>/` (files never changed once written), with `customer_segments_history` a view
over the history file of every date's published run; describes it in `warehouse/<version>.json`
(run, as_of, data dir, view → files, the run's manifest); then points the symlink
`warehouse.duckdb` at it with one atomic rename — the commit. DuckDB resolves the link when it
opens, so a reader (read-only or read-write) keeps the version it opened, with its own WAL, until
it reconnects, and every new open sees the new run. Views were measured against materialised
tables (benchmarks/NOTES.md, "Warehouse publish"): same query times, 30-100x faster publish.

POSIX only: on Windows a symlink needs Developer Mode or admin rights and a file open in another
program cannot be replaced, so the switch fails there with a message saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from segengine.errors import DataError, SegengineError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.run.catalogue import apply_comments
from segengine.run.faults import fault

HISTORY_TABLE = "customer_segments_history"
"""Accumulates one file per as_of (a rerun of a date replaces that date's file)."""

@dataclass(frozen=True)
class Version:
    """One warehouse version, as its JSON description records it."""

    name: str
    run_id: str
    as_of: date
    root: str
    views: dict[str, list[str]]
    manifest: dict[str, Any]
    carried: list[str]

    def paths(self, root: Path) -> dict[str, list[Path]]:
        """Every view's files under a data directory (the recorded one or where it moved)."""
        return {name: [root / f for f in files] for name, files in self.views.items()}


def _literal(path: Path) -> str:
    """A SQL string literal of a path (DDL cannot bind parameters): quotes doubled."""
    text = str(path)
    if "\x00" in text or "\n" in text:
        raise DataError(f"the data directory path {text!r} contains a control character. "
                        "Move it to a plain path")
    return "'" + text.replace("'", "''") + "'"


def parquet_select(files: list[Path]) -> str:
    """SELECT over Parquet files; several files are unioned by column name."""
    listing = ", ".join(_literal(f) for f in files)
    return f"SELECT * FROM read_parquet([{listing}], union_by_name = true)"


def view_sql(name: str, files: list[Path]) -> str:
    """CREATE VIEW over Parquet files."""
    return f"CREATE VIEW {name} AS {parquet_select(files)}"


def read_version(layout: Layout, name: str) -> Version | None:
    """The description of warehouse/<name>.duckdb, or None when it has none."""
    path = layout.versions_dir / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Version(name=name, run_id=data["run_id"], as_of=date.fromisoformat(data["as_of"]),
                   root=data["root"], views=data["views"], manifest=data["manifest"],
                   carried=data.get("carried", []))


def current_version(layout: Layout) -> Version | None:
    """The version warehouse.duckdb points at (None for no warehouse or a pre-versions file)."""
    if not layout.warehouse.is_symlink():
        return None
    return read_version(layout, Path(os.readlink(layout.warehouse)).stem)


def shadow_moved_views(con: duckdb.DuckDBPyConnection, layout: Layout) -> None:
    """When the data directory moved (or was copied) since the version was built, shadow its
    views (absolute paths) with relations on the new paths, for this connection only: no
    write, so it works read-only; the next run/push/check rebuilds the version. Reads what the
    version records in its own `runs` row, so a copy that turned the links into files works."""
    try:
        rows = con.sql("SELECT data_dir, views FROM runs WHERE version IS NOT NULL").fetchall()
    except duckdb.Error:  # an older warehouse: tables, nothing to shadow
        return
    root = layout.root.resolve()
    if rows and rows[0][0] and rows[0][0] != str(root):
        for name, files in json.loads(rows[0][1]).items():
            # registered (not CREATE TEMP VIEW) so a caller can register over it again
            con.register(name, con.sql(parquet_select([root / f for f in files])))


def replace_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` with one rename (atomic for readers), then sync the folder."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SegengineError(
            f"could not point {link} at {target} ({exc}). segengine publishes by switching a "
            "symbolic link; on Windows symbolic links need Developer Mode or administrator "
            "rights and a file open in another program cannot be replaced, so use Linux, macOS "
            "or WSL. Nothing was published") from exc
    with contextlib.suppress(OSError):  # durability only: the switch itself has happened
        fd = os.open(link.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def history_files(layout: Layout, *, besides: date) -> list[Path]:
    """The history file of every published date except `besides`, oldest date first."""
    out = layout.root / "out"
    files = []
    for entry in sorted(out.iterdir()) if out.exists() else []:
        with contextlib.suppress(ValueError):
            if date.fromisoformat(entry.name) != besides and entry.is_symlink():
                target = (out / os.readlink(entry)).resolve() / f"{HISTORY_TABLE}.parquet"
                if target.exists():
                    files.append(target)
    return files


def _compatible(old: pa.DataType, new: pa.DataType) -> bool:
    """Types DuckDB unions without surprises: equal, both integers or both decimals."""
    return (old == new or (pa.types.is_integer(old) and pa.types.is_integer(new))
            or (pa.types.is_decimal(old) and pa.types.is_decimal(new)))


def check_history(current: Path, others: list[Path], layout: Layout, *, as_of: date) -> list[str]:
    """Refuse history files whose column types conflict with this version's (§5.8 after an
    upgrade); columns missing from older files read as NULL. Returns notes on such columns."""
    schema = pq.read_schema(current)
    conflicts, dates, notes = [], [], []
    for path in others:
        old = pq.read_schema(path)
        day = path.parent.name
        with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
            day = str(pq.read_table(path, columns=["as_of_date"]).column(0)[0])
        for field in old:
            if field.name in schema.names and not _compatible(
                    field.type, schema.field(field.name).type):
                conflicts.append(f"{field.name} is {field.type} in the history of {day} "
                                 f"({path.relative_to(layout.root.resolve())}) but "
                                 f"{schema.field(field.name).type} now")
                dates.append(day)
        missing = [n for n in schema.names if n not in old.names]
        if missing:
            notes.append(f"history of {day} has no {', '.join(missing)} (read as NULL)")
    if conflicts:
        redo = "; ".join(f"`segengine run --as-of {d}`" for d in dict.fromkeys(dates))
        folders = ", ".join(f"out/{d}" for d in dict.fromkeys(dates))
        raise DataError(
            f"{HISTORY_TABLE} cannot combine dates written by different segengine versions: "
            + "; ".join(conflicts) + f". Rewrite those dates with this version ({redo}), then "
            f"rerun `segengine run --as-of {as_of}`; or move {folders} out of out/ to leave "
            "them out of the history. Nothing was published")
    return notes


def user_objects(con: duckdb.DuckDBPyConnection, catalog: str,
                  ours: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Tables and views (with their SQL) that users created, i.e. not segengine's."""
    tables = [r[0] for r in con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = $c AND schema_name = "
        "'main'", params={"c": catalog}).fetchall() if r[0] not in ours]
    views = [(r[0], r[1]) for r in con.sql(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = $c AND schema_name = "
        "'main' AND NOT internal", params={"c": catalog}).fetchall() if r[0] not in ours]
    return tables, views


def _carry(con: duckdb.DuckDBPyConnection, layout: Layout, previous: Version | None,
           ours: set[str]) -> tuple[list[str], list[str]]:
    """Copy tables and views users created in the previous version; returns (names, warnings).
    A previous version held read-write elsewhere cannot be read: it is then kept, not cleaned."""
    if previous is None:
        return [], []
    path = layout.versions_dir / f"{previous.name}.duckdb"
    try:
        con.execute(f"ATTACH {_literal(path)} AS previous (READ_ONLY)")
    except duckdb.Error:
        return [], [f"could not read {path} (open read-write in another process), so tables "
                    "you created in it are not in the new warehouse; that file is kept"]
    try:
        tables, views = user_objects(con, "previous", set(previous.views) | {"runs"})
        for table in tables:
            con.execute(f'CREATE TABLE main."{table}" AS SELECT * FROM previous.main."{table}"')
        for name, sql in views:
            if name not in ours:
                con.execute(sql)
    finally:
        con.execute("DETACH previous")
    return tables + [v for v, _ in views if v not in ours], []


def _other_published_runs(layout: Layout, *, besides: date) -> list[list[Any]]:
    """(run_id, as_of, finished_at, manifest) of the run published for every other date."""
    rows = []
    out = layout.root / "out"
    for entry in sorted(out.iterdir()) if out.exists() else []:
        with contextlib.suppress(ValueError, OSError, KeyError):
            day = date.fromisoformat(entry.name)
            if day == besides or not entry.is_symlink():
                continue
            run_id = Path(os.readlink(entry)).name
            manifest = json.loads((layout.runs_dir / f"{run_id}.json").read_text())
            finished = manifest.get("finished_at")
            rows.append([run_id, day, datetime.fromisoformat(finished).replace(tzinfo=None)
                         if finished else None, json.dumps(manifest, default=str)])
    return rows


def build_version(layout: Layout, *, name: str, run_id: str, as_of: date,
                  views: dict[str, list[Path]],
                  manifest: dict[str, Any]) -> tuple[Version, list[str]]:
    """Write warehouse/<name>.duckdb (views, a `runs` row, carried user objects) and its
    description; returns the version and warnings. Not yet visible to readers."""
    layout.versions_dir.mkdir(parents=True, exist_ok=True)
    root = layout.root.resolve()
    tmp = layout.versions_dir / f".tmp-{name}.duckdb"
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for i, (view, files) in enumerate(views.items()):
            con.execute(view_sql(view, files))
            if i == 0:
                fault("mid-warehouse")
        relative = {v: [str(f.relative_to(root)) for f in fs] for v, fs in views.items()}
        con.execute("CREATE TABLE runs (run_id VARCHAR, as_of DATE, finished_at TIMESTAMP, "
                    "manifest JSON, version VARCHAR, data_dir VARCHAR, views JSON)")
        con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [run_id, as_of, datetime.now(UTC).replace(tzinfo=None),
                     json.dumps(manifest, default=str), name, str(root), json.dumps(relative)])
        carried, warnings = _carry(con, layout, current_version(layout), set(views))
        for other in _other_published_runs(layout, besides=as_of):  # one row per date
            con.execute("INSERT INTO runs (run_id, as_of, finished_at, manifest) VALUES "
                        "(?, ?, ?, ?)", other)
        apply_comments(con)  # column comments from the catalogue (design §13)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    version = Version(name=name, run_id=run_id, as_of=as_of, root=str(root), views=relative,
                      manifest=manifest, carried=carried)
    write_json_atomic(layout.versions_dir / f"{name}.json",
                      {"run_id": run_id, "as_of": as_of.isoformat(), "root": str(root),
                       "views": version.views, "carried": carried, "manifest": manifest})
    os.replace(tmp, layout.versions_dir / f"{name}.duckdb")
    return version, warnings


def switch_to(layout: Layout, version: Version) -> None:
    """THE COMMIT: warehouse.duckdb now opens `version`."""
    replace_symlink(layout.warehouse, f"{layout.versions_dir.name}/{version.name}.duckdb")
