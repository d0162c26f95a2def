"""All-or-nothing lake loads (design §3): staged files, a commit journal, the lake log.

A load (ingest, pull month, generate) writes every file it touches into
`lake/.staging/<load_id>/` first. It then commits: the list of renames (and deletions) is
written atomically to `lake/_journal.json` — the point of no return — and applied; the journal
and the staging folder are removed last. A load killed before the journal exists leaves the lake
as before (the staging folder is rolled back); one killed after is rolled forward. The next
command that takes the data-directory lock does either (`recover`).

Each commit also adds one entry to the lake log `lake/_log/<seq>-<origin>-<load_id>.json`
(origin = ingest, pull or generate, the files touched, counts), renamed into place in the same
commit, so the log always agrees with the data. `generate` reads it to know whether the lake
holds data it did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from segengine.lake.layout import Layout, write_json_atomic

JOURNAL = "_journal.json"
LOG = "_log"
STAGING = ".staging"
ORIGINS = ("ingest", "pull", "generate")


def fault(point: str) -> None:
    """`SEGENGINE_FAULT_INJECT=<point>` kills the process here (crash tests)."""
    if os.environ.get("SEGENGINE_FAULT_INJECT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _lake(layout: Layout) -> Path:
    return layout.root / "lake"


@dataclass
class LakeLoad:
    """One load's staged changes; nothing is visible in the lake until `commit`."""

    layout: Layout
    origin: str
    load_id: str
    ops: list[dict[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown lake load origin {self.origin!r}")
        self.stage.mkdir(parents=True, exist_ok=True)

    @property
    def stage(self) -> Path:
        return _lake(self.layout) / STAGING / self.load_id

    def _staged(self, target: Path) -> Path:
        return self.stage / target.relative_to(self.layout.root)

    def put_parquet(self, frame: pl.DataFrame, target: Path) -> Path:
        """Stage `frame` as the new content of `target` (a path inside the data directory);
        return the staged file (renamed onto `target` at commit, keeping its mtime)."""
        staged = self._staged(target)
        staged.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(staged, compression="zstd", statistics=True)
        _fsync(staged)
        self._add(target, staged)
        return staged

    def put_json(self, data: Any, target: Path) -> None:
        staged = self._staged(target)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        _fsync(staged)
        self._add(target, staged)

    def delete(self, target: Path) -> None:
        """Remove `target` at commit (no error if it is already gone)."""
        self.ops.append({"target": self._rel(target), "staged": None})

    def _add(self, target: Path, staged: Path) -> None:
        self.ops.append({"target": self._rel(target), "staged": self._rel(staged)})
        fault(f"lake-staged-{len(self.ops)}")

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.layout.root))

    def commit(self, summary: dict[str, Any]) -> Path:
        """Make every staged change visible at once; returns the log entry's path."""
        log_dir = _lake(self.layout) / LOG
        seq = 1 + max((int(p.name.split("-", 1)[0]) for p in _log_files(self.layout)), default=0)
        entry = log_dir / f"{seq:06d}-{self.origin}-{self.load_id}.json"
        self.put_json({"origin": self.origin, "load_id": self.load_id,
                       "committed_at": _stamp(datetime.now(UTC)),
                       "files": [op["target"] for op in self.ops], **summary}, entry)
        fault("lake-before-journal")
        write_json_atomic(_lake(self.layout) / JOURNAL,
                          {"load_id": self.load_id, "ops": self.ops})
        fault("lake-after-journal")
        _apply(self.layout)
        return entry

    def abort(self) -> None:
        """Drop whatever is still staged (everything, unless `commit` ran)."""
        shutil.rmtree(self.stage, ignore_errors=True)
        with contextlib.suppress(OSError):  # only when no other load is staged
            self.stage.parent.rmdir()


def _stamp(moment: datetime) -> str:
    """The timestamp form load ids start with: 20250101T120000Z."""
    return f"{moment:%Y%m%dT%H%M%S}Z"


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _apply(layout: Layout) -> str | None:
    """Apply the journal's renames and deletions (idempotent), then remove it and the staging
    folder; returns the load id, or None when there is no journal."""
    journal = _lake(layout) / JOURNAL
    if not journal.exists():
        return None
    data = json.loads(journal.read_text())
    for number, op in enumerate(data["ops"], start=1):
        target = layout.root / str(op["target"])
        if op["staged"] is None:
            target.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # an emptied month folder goes too
                target.parent.rmdir()
        else:
            staged = layout.root / str(op["staged"])
            if staged.exists():  # else renamed before a crash
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        if number == 1:
            fault("lake-mid-commit")
    journal.unlink()
    shutil.rmtree(_lake(layout) / STAGING / str(data["load_id"]), ignore_errors=True)
    with contextlib.suppress(OSError):
        (_lake(layout) / STAGING).rmdir()
    return str(data["load_id"])


def recover(layout: Layout) -> list[str]:
    """Finish or undo what a killed load left; returns what was done, for the console.

    A journal is rolled forward (its load had committed); staging folders without one are
    removed (their loads had not); stray `.tmp` files under the lake are deleted.
    """
    lake = _lake(layout)
    if not lake.exists():
        return []
    done = []
    finished = _apply(layout)
    if finished:
        done.append(f"completed lake load {finished}, which was interrupted after its commit")
    staging = lake / STAGING
    for folder in sorted(staging.iterdir()) if staging.exists() else []:
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"discarded lake load {folder.name}, which was interrupted before its "
                    "commit (the lake is as it was before it)")
    with contextlib.suppress(OSError):
        staging.rmdir()
    for pattern in (".*.tmp", "tmp_.*.tmp"):  # ours, and DuckDB COPY's own temporary name
        for tmp in lake.rglob(pattern):
            tmp.unlink(missing_ok=True)
    return done


def _log_files(layout: Layout) -> list[Path]:
    log = _lake(layout) / LOG
    return sorted(log.glob("[0-9]*-*.json")) if log.exists() else []


def log_entries(layout: Layout) -> list[dict[str, Any]]:
    """Every committed load, oldest first."""
    return [json.loads(p.read_text()) for p in _log_files(layout)]


def foreign_data(layout: Layout) -> str | None:
    """What in the lake `generate` did not write, in words; None when the lake holds nothing
    or only generated data (loads after the latest generate count, earlier ones were replaced)."""
    has_data = layout.has_transactions() or layout.customers_file.exists()
    if not has_data:
        return None
    entries = log_entries(layout)
    if not entries:
        return "data of unknown origin (no lake log: written by another tool or an older segengine)"
    last_generate = max((i for i, e in enumerate(entries) if e["origin"] == "generate"),
                        default=-1)
    later = entries[last_generate + 1:]
    if not later:
        return None
    kinds = " and ".join(sorted({f"{e['origin']}ed" for e in later}))
    return f"{len(later)} {kinds} load(s), the latest {later[-1]['load_id']}"


def reject_counts(layout: Layout) -> dict[str, int]:
    """Quarantined rows per source for the data in the lake now: each rejected row once.

    A rejects file counts unless its load did not land (its record says `failed`) or it was
    written before the latest `generate` replaced the lake. Rejects are written without rows
    already recorded (`write_rejects`), so loading the same file twice counts its rows once.
    """
    out: dict[str, int] = {}
    for path in counted_rejects(layout, since=last_generated(layout)):
        rows = pq.ParquetFile(path).metadata.num_rows
        out[path.parent.name] = out.get(path.parent.name, 0) + rows
    return out


def last_generated(layout: Layout) -> str:
    """When the latest `generate` replaced the lake (20250101T120000Z), or "" if never."""
    stamps = [str(e["committed_at"]) for e in log_entries(layout) if e["origin"] == "generate"]
    return stamps[-1] if stamps else ""


def counted_rejects(layout: Layout, *, since: str = "", source: str | None = None) -> list[Path]:
    """Rejects files of landed loads (optionally of one source) written at or after `since`."""
    root = layout.root / "rejects"
    pattern = f"{source}/*.parquet" if source else "*/*.parquet"
    files = []
    for path in sorted(root.glob(pattern)) if root.exists() else []:
        if path.name[:16] < since:
            continue
        record = path.with_suffix(".json")
        if record.exists():
            with contextlib.suppress(ValueError, OSError):
                if json.loads(record.read_text()).get("status") == "failed":
                    continue
        files.append(path)
    return files
