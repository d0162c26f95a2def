"""Data-directory layout, atomic file publishing, the run lock and the lazy lake reader."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from segengine.errors import DataError, LockError
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS


class Layout:
    """Paths inside one data directory (design §2)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def transactions_dir(self) -> Path:
        return self.root / "lake" / "transactions"

    @property
    def customers_file(self) -> Path:
        return self.root / "lake" / "customers" / "customers.parquet"

    def partition_file(self, month: str) -> Path:
        """month is YYYY-MM."""
        return self.transactions_dir / f"month={month}" / "part-0.parquet"

    def rejects_file(self, source: str, load_id: str) -> Path:
        return self.root / "rejects" / source / f"{load_id}.parquet"

    @property
    def warehouse(self) -> Path:
        """What readers open: a symlink to the current version in warehouse/ (run/publish.py)."""
        return self.root / "warehouse.duckdb"

    @property
    def versions_dir(self) -> Path:
        """warehouse/<version>.duckdb files and their <version>.json descriptions."""
        return self.root / "warehouse"

    def out_dir(self, as_of: date) -> Path:
        """What push uploads: a symlink to the folder of the run published for that date."""
        return self.root / "out" / as_of.isoformat()

    @property
    def run_dirs(self) -> Path:
        """out/.runs/<run_id>/<table>.parquet: each run's files, never changed once written."""
        return self.root / "out" / ".runs"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def lock_file(self) -> Path:
        return self.root / ".segengine.lock"

    def partition_files(self) -> list[Path]:
        return sorted(self.transactions_dir.glob("month=*/part-0.parquet"))

    def has_transactions(self) -> bool:
        return bool(self.partition_files())


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write to a temp file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same directory, fsync, rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def data_dir_lock(layout: Layout, what: str) -> Iterator[None]:
    """Stop two writers on one data directory from interleaving.

    An exclusive `flock` on `.segengine.lock`: the OS releases it when the holder exits or is
    killed, so a crashed run never leaves a stale lock, and two waiters cannot both take it.
    The file records the holder's pid and command for the error message. Whoever takes the lock
    first rolls a lake load killed mid-way forward or back (`lake.loads.recover`).
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    path = layout.lock_file
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
        os.close(fd)
        raise LockError(
            f"another segengine process ({holder or 'unknown'}) is using {layout.root}. "
            "Wait for it to finish"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}".encode(), 0)
        from segengine.lake.loads import recover  # loads builds on this module

        recover(layout)  # finish or undo a load killed mid-way before anything else
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def scan_transactions(layout: Layout, *, start: date | None = None,
                      end: date | None = None) -> pl.LazyFrame:
    """All partitions lazily, pruned to months overlapping [start, end] and filtered by date."""
    files = [
        f for f in layout.partition_files()
        if _month_overlaps(f.parent.name.removeprefix("month="), start, end)
    ]
    if not files:
        if not layout.has_transactions():
            raise DataError(
                f"the lake in {layout.root} has no transactions. "
                "Run `segengine generate`, `segengine ingest FILE` or `segengine pull` first"
            )
        return pl.DataFrame(schema=TRANSACTIONS).lazy()
    frame = pl.scan_parquet(files, schema=TRANSACTIONS)
    if start is not None:
        frame = frame.filter(pl.col("transaction_date") >= start)
    if end is not None:
        frame = frame.filter(pl.col("transaction_date") <= end)
    return frame


def _month_overlaps(month: str, start: date | None, end: date | None) -> bool:
    year, mon = (int(p) for p in month.split("-"))
    first = date(year, mon, 1)
    if end is not None and first > end:
        return False
    return not (start is not None and month < month_key(start))


def read_customers(layout: Layout) -> pl.DataFrame | None:
    """The customers table, or None when the lake has none (it is optional, §3)."""
    if not layout.customers_file.exists():
        return None
    return pl.read_parquet(layout.customers_file, schema=CUSTOMERS)


def latest_transaction_date(layout: Layout) -> date:
    """Default as_of: the latest transaction date in the lake."""
    files = layout.partition_files()
    if not files:
        scan_transactions(layout)  # raises the helpful error
    last = pl.scan_parquet(files[-1]).select(pl.col("transaction_date").max()).collect().item()
    if last is None:
        raise DataError(f"partition {files[-1]} is empty; re-run the load that wrote it")
    return last  # type: ignore[no-any-return]


def write_file_atomic(path: Path, write: Any) -> None:
    """Call write(temp_path) on a temp file in path's folder, then rename it over `path`: a
    reader never sees a half-written file (reports, exported audiences)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
