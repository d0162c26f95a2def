"""Publishing a run: tables in, a published run out (design §10).

`publish_run(layout, tables, ...)` takes the run's frames (name → table) and publishes them:
1. each table is written to the run's own folder out/.runs/<run_id>/<table>.parquet (sha256 and
   content hash recorded in the manifest);
2. a new warehouse version is built beside the current one (warehouse_build.py: views over those
   files, history over every published date) — readers see nothing of it yet;
3. COMMIT: warehouse.duckdb is switched to the new version by one atomic rename;
4. out/<as_of> is switched to the run's folder (what push uploads);
5. runs/<run_id>.json is written; old versions no process holds are removed.
A crash before 3 leaves the previous run published (its leftovers are cleaned by the next
command); at or after 3 the run is published and the next `run`, `push` or `check` finishes 4-5
(recover.py). Open readers never block any step. Fault points: faults.py.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
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
from segengine.errors import SegengineError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.run import recover
from segengine.run.churn_curves import SORT_KEY
from segengine.run.faults import fault
from segengine.run.quality import CheckResult
from segengine.run.recover import file_sha256
from segengine.run.warehouse_build import (
    HISTORY_TABLE,
    build_version,
    check_history,
    current_version,
    history_files,
    replace_symlink,
    switch_to,
)

Log = Callable[[str], None]

VOLATILE_COLUMNS = {"segmented_at"}
"""Run-timestamp columns left out of content hashes, so equal inputs give equal hashes."""

SORT_KEYS: dict[str, list[str]] = {
    "metric_mom_spend_change": ["customer_id", "month"],
    "rfm_segment_summary": ["segment"],
    "cluster_profiles": ["cluster_id"],
    "dim_customer": ["customer_key"],
    "churn_model_report": ["metric"],
    "churn_model_curves": SORT_KEY,
}


def sort_key(table: str, frame: pl.DataFrame) -> list[str]:
    """Deterministic row order of a table."""
    keys = SORT_KEYS.get(table, ["customer_id"])
    return [k for k in keys if k in frame.columns] or frame.columns[:1]


GATHER_ABOVE = 256 << 20
"""Frames larger than this (bytes, Polars' estimate) are put in order column by column."""


def put_in_key_order(tables: dict[str, pl.DataFrame], gather_above: int = GATHER_ABOVE) -> None:
    """Sort every frame of the dict by its table's key, in place; a frame shared by two
    tables with the same key (customer_segments and its history) is sorted once.

    A frame above `gather_above` bytes is reordered one column at a time, each old column
    freed as its sorted copy is made (the MoM frame at 10x: peak 3.8 instead of 4.6 GB); a
    smaller one by `sort`, ~0.1 s faster over a 1x run's tables. Same rows, same order."""
    done: dict[tuple[int, tuple[str, ...]], pl.DataFrame] = {}
    for name in list(tables):
        frame = tables[name]
        key = (id(frame), tuple(sort_key(name, frame)))
        if key not in done and frame.estimated_size() <= gather_above:
            done[key] = frame.sort(list(key[1]))
        elif key not in done:
            order = frame.select(pl.arg_sort_by(list(key[1]))).to_series()
            columns = frame.get_columns()
            shared = sum(f is frame for f in tables.values()) > 1
            del frame
            if not shared:
                tables[name] = pl.DataFrame()  # the last reference: each column is freed below
            for i, column in enumerate(columns):
                columns[i] = column.gather(order)
            done[key] = pl.DataFrame(columns)
        tables[name] = done[key]


def content_hash(table: str, frame: pl.DataFrame) -> str:
    """SHA-256 over the table's schema and its sorted Polars row hashes, volatile columns
    excluded: row order never matters, any changed value or added/removed row does. Row hashes
    are stable for one Polars version (recorded in the manifest), which is the scope of the
    "equal inputs, equal hashes" promise."""
    stable = frame.drop([c for c in VOLATILE_COLUMNS if c in frame.columns])
    digest = hashlib.sha256(f"{table}:{list(stable.schema.items())!r}".encode())
    rows = stable.hash_rows(seed=0).to_numpy().copy() if stable.width else None
    if rows is not None:
        rows.sort()
        digest.update(rows.tobytes())
    digest.update(str(stable.height).encode())
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


def write_run_files(folder: Path, tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Write every table (already in key order) to the run's folder; returns each file's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, frame in tables.items():
        path = folder / f"{name}.parquet"
        # snappy: several times faster to write than zstd, and read by every Parquet consumer
        # (Snowflake COPY included)
        frame.write_parquet(path, compression="snappy")
        digests[name] = file_sha256(path)
    return digests


def warehouse_views(layout: Layout, folder: Path, tables: list[str], *,
                    as_of: date) -> tuple[dict[str, list[Path]], list[str]]:
    """View → Parquet files of the new version: this run's tables, and the history over every
    published date (this run's file first, so its columns lead). Returns the views and notes."""
    root = layout.root.resolve()
    folder = root / folder.relative_to(layout.root)
    views = {name: [folder / f"{name}.parquet"] for name in tables}
    notes: list[str] = []
    if HISTORY_TABLE in views:
        others = history_files(layout, besides=as_of)
        notes = check_history(views[HISTORY_TABLE][0], others, layout, as_of=as_of)
        views[HISTORY_TABLE] += others
    return views, notes


def publish_run(layout: Layout, tables: dict[str, pl.DataFrame], *, as_of: date, run_id: str,
                started: datetime, stages: list[dict[str, Any]], checks: list[CheckResult],
                settings: Settings, log: Log = lambda _m: None) -> Path:
    """Publish all outputs of a successful run (the caller holds the data-directory lock);
    returns the manifest path.

    The frames in `tables` are replaced by their key-ordered versions, one at a time, so a big
    run holds one copy of each table while publishing, not two (the caller's dict is the same
    object). Raises SegengineError, saying whether the run was published, on OS errors.
    """
    entered = time.perf_counter()
    put_in_key_order(tables)
    manifest = run_manifest(layout, tables, as_of=as_of, run_id=run_id, started=started,
                            stages=stages, checks=checks, settings=settings)
    folder = layout.run_dirs / run_id
    timings: dict[str, float] = {}
    try:
        # the files (Polars, releases the GIL) overlap the content hashes
        with ThreadPoolExecutor(max_workers=1) as pool:
            files = pool.submit(write_run_files, folder, tables)
            hashes = {name: content_hash(name, frame) for name, frame in tables.items()}
            digests = files.result()
        timings["files_and_hashes"] = time.perf_counter() - entered
        manifest["outputs"] = {
            name: {"rows": frame.height, "content_hash": hashes[name],
                   "file": f"out/{as_of}/{name}.parquet", "sha256": digests[name]}
            for name, frame in tables.items()}
        fault("after-out-files")
        mark = time.perf_counter()
        recover.convert_legacy(layout, log)
        views, notes = warehouse_views(layout, folder, list(tables), as_of=as_of)
        for note in notes:
            log(f"  note: {note}")
        version, warnings = build_version(layout, name=run_id, run_id=run_id, as_of=as_of,
                                          views=views, manifest=manifest)
        for warning in warnings:
            log(f"  warning: {warning}")
        fault("before-commit")
        switch_to(layout, version)  # THE COMMIT
        timings["warehouse_version"] = time.perf_counter() - mark
    except BaseException as exc:
        current = current_version(layout)
        if current is not None and current.run_id == run_id:  # failed after the switch itself
            if isinstance(exc, OSError | SegengineError):
                raise recover.describe_failure(run_id, as_of, exc) from exc
            raise
        shutil.rmtree(folder, ignore_errors=True)  # not published: nothing refers to it
        for leftover in layout.versions_dir.glob(f"{run_id}.*"):
            leftover.unlink(missing_ok=True)
        if not isinstance(exc, OSError | duckdb.Error):
            raise
        raise SegengineError(f"could not publish run {run_id}: {exc}. Nothing was published: "
                             f"the warehouse and out/ still show the previous run. Fix the "
                             "cause (e.g. free disk space) and rerun") from exc
    try:
        fault("after-warehouse")
        replace_symlink(layout.out_dir(as_of), f"{layout.run_dirs.name}/{run_id}")
        fault("after-out-swap")
        timings["total"] = time.perf_counter() - entered
        manifest["publish_seconds"] = {k: round(v, 4) for k, v in timings.items()}
        manifest["finished_at"] = datetime.now(UTC).isoformat()
        path = layout.runs_dir / f"{run_id}.json"
        write_json_atomic(path, manifest)
        fault("after-manifest")
    except (OSError, SegengineError) as exc:
        raise recover.describe_failure(run_id, as_of, exc) from exc
    try:
        for warning in recover.clean(layout):
            log(f"  warning: {warning}")
    except OSError as exc:  # leftovers only: the next command cleans them
        log(f"  warning: could not remove old warehouse versions ({exc})")
    return path


def run_manifest(layout: Layout, tables: dict[str, pl.DataFrame], *, as_of: date, run_id: str,
                 started: datetime, stages: list[dict[str, Any]], checks: list[CheckResult],
                 settings: Settings) -> dict[str, Any]:
    """The manifest's fields known before the outputs are written (§10)."""
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
    return manifest
