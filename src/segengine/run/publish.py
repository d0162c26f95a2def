"""Publishing a run: out/<as_of>/<table>.parquet, warehouse.duckdb and runs/<run_id>.json.

Order, so that a crash at any point leaves the previous outputs intact:
1. every Parquet file is written to out/.tmp-<run_id>/;
2. the warehouse is replaced in ONE DuckDB transaction (current tables replaced, history rows for
   as_of replaced, a `runs` row added) — a crash before COMMIT rolls back on the next open;
3. the temp folder is renamed to out/<as_of>/ (the previous one is moved aside, then removed);
4. the manifest is written last (temp file + rename).
`SEGENGINE_FAULT_INJECT=<point>` kills the process at a named point, for the crash tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from segengine import __version__
from segengine.config import Settings, leaf_values, mask
from segengine.errors import LockError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.run.catalogue import apply_comments
from segengine.run.quality import CheckResult

HISTORY_TABLES = {"customer_segments_history": "as_of_date"}
"""Tables that accumulate rows by as_of (a rerun replaces that date's rows)."""

VOLATILE_COLUMNS = {"segmented_at"}
"""Run-timestamp columns left out of content hashes, so equal inputs give equal hashes."""

SORT_KEYS: dict[str, list[str]] = {
    "metric_mom_spend_change": ["customer_id", "month"],
    "rfm_segment_summary": ["segment"],
    "cluster_profiles": ["cluster_id"],
    "dim_customer": ["customer_key"],
    "churn_model_report": ["metric"],
}


def _fault(point: str) -> None:
    if os.environ.get("SEGENGINE_FAULT_INJECT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def sort_key(table: str, frame: pl.DataFrame) -> list[str]:
    """Deterministic row order of a table."""
    keys = SORT_KEYS.get(table, ["customer_id"])
    return [k for k in keys if k in frame.columns] or frame.columns[:1]


def put_in_key_order(tables: dict[str, pl.DataFrame]) -> None:
    """Sort every frame of the dict by its table's key, in place; a frame shared by two
    tables with the same key (customer_segments and its history) is sorted once."""
    done: dict[tuple[int, tuple[str, ...]], pl.DataFrame] = {}
    for name, frame in tables.items():
        key = (id(frame), tuple(sort_key(name, frame)))
        if key not in done:
            done[key] = frame.sort(list(key[1]))
        tables[name] = done[key]


def content_hash(table: str, frame: pl.DataFrame) -> str:
    """SHA-256 over the table's schema and Polars row hashes in key order, volatile columns
    excluded. Row hashes are stable for one Polars version (recorded in the manifest), which
    is the scope of the "equal inputs, equal hashes" promise."""
    stable = frame.drop([c for c in VOLATILE_COLUMNS if c in frame.columns])
    stable = stable.sort(sort_key(table, stable), maintain_order=True)
    digest = hashlib.sha256(repr(list(stable.schema.items())).encode())
    digest.update(stable.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


def input_fingerprint(layout: Layout) -> dict[str, Any]:
    """Partition files with sizes and row counts (from Parquet footers), and the customers file."""
    files = []
    for path in layout.partition_files() + (
            [layout.customers_file] if layout.customers_file.exists() else []):
        files.append({"path": str(path.relative_to(layout.root)), "bytes": path.stat().st_size,
                      "rows": pq.ParquetFile(path).metadata.num_rows})
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"files": files, "sha256": digest}


def reject_counts(layout: Layout) -> dict[str, int]:
    """Quarantined rows per source behind the current lake, each row once (lake.loads)."""
    from segengine.lake.loads import reject_counts as lake_reject_counts

    return lake_reject_counts(layout)


def versions() -> dict[str, str]:
    """Engine and package versions recorded in every manifest."""
    import sklearn

    return {"segengine": __version__, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "polars": pl.__version__,
            "pyarrow": pq.__name__ and __import__("pyarrow").__version__,
            "scikit-learn": sklearn.__version__}


def write_out_dir(layout: Layout, tables: dict[str, pl.DataFrame], *, as_of: date,
                  run_id: str) -> Path:
    """Write every table (already in key order) to out/.tmp-<run_id>/; return that folder."""
    tmp = layout.root / "out" / f".tmp-{run_id}"
    tmp.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        # snappy: several times faster to write than zstd, and read by every Parquet consumer
        # (Snowflake COPY included)
        frame.write_parquet(tmp / f"{name}.parquet",
                                                         compression="snappy")
    return tmp


def swap_out_dir(layout: Layout, tmp: Path, as_of: date) -> None:
    """Rename the temp folder to out/<as_of>/, replacing the previous one."""
    final = layout.out_dir(as_of)
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def connect_warehouse(layout: Layout) -> duckdb.DuckDBPyConnection:
    """A write connection to warehouse.duckdb, or a clear error when another process has it
    open (DuckDB allows one writing process and no readers beside it)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(layout.warehouse))
    except duckdb.IOException as exc:
        raise LockError(
            f"{layout.warehouse} is open in another process (a `segengine sql`/`check`, a "
            f"notebook or a BI tool): {exc}. Close it and rerun"
        ) from None


def ensure_warehouse_writable(layout: Layout) -> None:
    """Fail before any computation when another process holds warehouse.duckdb open (the
    publish would fail at the end otherwise). The file is opened and closed again at once, so
    readers are kept out only for that moment; a process that opens it later is still reported
    at publish time."""
    if layout.warehouse.exists():
        connect_warehouse(layout).close()


OPTIONAL_OUTPUTS = {"churn_model_report"}
"""Output tables a run may not produce (churn disabled); a stale copy must not look current."""


def _stale_tables(con: duckdb.DuckDBPyConnection, produced: set[str]) -> list[str]:
    """Optional output tables of an earlier run that this run did not produce. Only segengine's
    own optional tables are dropped: tables users create in the warehouse are never touched."""
    present = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() "
                                     "WHERE schema_name = 'main'").fetchall()}
    return sorted((present & OPTIONAL_OUTPUTS) - produced)


def write_warehouse(layout: Layout, tables: dict[str, pl.DataFrame], *, as_of: date,
                    run_id: str, manifest: Callable[[], dict[str, Any]]) -> None:
    """Replace current tables and this date's history rows in one transaction (tables are
    already in key order).

    `manifest()` is called just before COMMIT: it waits for the out/ files written in parallel
    (a failure there rolls the warehouse back) and returns the manifest stored in `runs`.
    """
    con = connect_warehouse(layout)
    try:
        # One thread: DuckDB's parallel compression at COMMIT cost 0.6 CPU-s more for 0.2 s less
        # wall, and the out/ files are written on the other core meanwhile (benchmarks/NOTES.md).
        con.execute("SET threads = 1")
        con.execute("BEGIN TRANSACTION")
        for name, frame in tables.items():
            con.register("_incoming", frame.to_arrow())
            if name in HISTORY_TABLES:
                col = HISTORY_TABLES[name]
                con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS "
                            "SELECT * FROM _incoming WHERE FALSE")
                con.execute(f"DELETE FROM {name} WHERE {col} = ?", [as_of])
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _incoming")
            else:
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _incoming")
            con.unregister("_incoming")
            _fault("mid-warehouse")
        for stale in _stale_tables(con, set(tables)):  # e.g. churn_model_report, churn off
            con.execute(f"DROP TABLE {stale}")
        con.execute("CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, "
                    "as_of DATE, finished_at TIMESTAMP, manifest JSON)")
        con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO runs VALUES (?, ?, ?, ?)",
                    [run_id, as_of, datetime.now(UTC).replace(tzinfo=None),
                     json.dumps(manifest(), default=str)])
        apply_comments(con)  # column comments from the catalogue (design §13)
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # keep the original error if BEGIN/COMMIT failed
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def recover(layout: Layout) -> list[str]:
    """Finish or discard what a publish killed mid-way left in out/; returns recovered run ids.

    The warehouse COMMIT is the point of no return: a `.tmp-<run_id>` folder whose run is in
    the warehouse's `runs` table is swapped into place and its manifest written from the copy
    stored there; any other temp folder is discarded. A previous folder moved aside
    (`.old-<as_of>-<pid>`) is put back if the swap never completed, else removed.
    """
    out = layout.root / "out"
    if not out.exists():
        return []
    temps = sorted(out.glob(".tmp-*"))
    committed: dict[str, dict[str, Any]] = {}
    if temps and layout.warehouse.exists():
        con = connect_warehouse(layout)
        try:
            if con.sql("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'runs'"
                       ).fetchall()[0][0]:
                ids = [t.name.removeprefix(".tmp-") for t in temps]
                rows = con.execute("SELECT run_id, manifest FROM runs WHERE run_id IN "
                                   f"({', '.join('?' * len(ids))})", ids).fetchall()
                committed = {r[0]: json.loads(r[1]) for r in rows}
        finally:
            con.close()
    recovered = []
    for tmp in temps:
        run_id = tmp.name.removeprefix(".tmp-")
        if run_id not in committed:
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        manifest = committed[run_id]
        swap_out_dir(layout, tmp, date.fromisoformat(manifest["as_of"]))
        path = layout.runs_dir / f"{run_id}.json"
        if not path.exists():
            write_json_atomic(path, manifest | {"recovered_after_crash": True})
        recovered.append(run_id)
    for old in sorted(out.glob(".old-*")):
        final = out / old.name[len(".old-"):len(".old-") + 10]
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)
    return recovered


def publish_run(layout: Layout, tables: dict[str, pl.DataFrame], *, as_of: date, run_id: str,
                started: datetime, stages: list[dict[str, Any]], checks: list[CheckResult],
                settings: Settings) -> Path:
    """Publish all outputs of a successful run; returns the manifest path.

    The frames in `tables` are replaced by their key-ordered versions, one at a time, so a big
    run holds one copy of each table while publishing, not two (the caller's dict is the same
    object).
    """
    entered = time.perf_counter()
    put_in_key_order(tables)
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "started_at": started.isoformat(),
        "versions": versions(),
        "input": input_fingerprint(layout),
        "rejects": reject_counts(layout),
        "stages": stages,
        "quality": [asdict(c) | {"passed": c.passed} for c in checks],
        "settings": {k: mask(k, v) for k, v in leaf_values(settings)},
    }
    if "churn_model_report" in tables:
        report = tables["churn_model_report"]
        manifest["churn_model"] = dict(zip(report.get_column("metric").to_list(),
                                           report.get_column("value").to_list(), strict=True))
    timings: dict[str, float] = {}

    def files_and_hashes() -> Path:
        mark = time.perf_counter()
        folder = write_out_dir(layout, tables, as_of=as_of, run_id=run_id)
        timings["write_out_files"] = time.perf_counter() - mark
        mark = time.perf_counter()
        manifest["outputs"] = {name: {"rows": frame.height,
                                      "content_hash": content_hash(name, frame)}
                               for name, frame in tables.items()}
        timings["content_hashes"] = time.perf_counter() - mark
        return folder

    # out/ files and hashes (Polars, releases the GIL) overlap the warehouse load (DuckDB)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(files_and_hashes)

        def ready_manifest() -> dict[str, Any]:
            future.result()
            _fault("after-out-files")
            return manifest

        mark = time.perf_counter()
        write_warehouse(layout, tables, as_of=as_of, run_id=run_id, manifest=ready_manifest)
        timings["write_warehouse"] = time.perf_counter() - mark
    tmp = future.result()
    _fault("after-warehouse")
    swap_out_dir(layout, tmp, as_of)
    timings["total"] = time.perf_counter() - entered
    manifest["publish_seconds"] = {k: round(v, 4) for k, v in timings.items()}
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    path = layout.runs_dir / f"{run_id}.json"
    write_json_atomic(path, manifest)
    return path
