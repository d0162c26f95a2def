"""Rolling a committed publish forward, cleaning old versions, and the published run that push
uploads (design §9, §10).

The switch of warehouse.duckdb is the commit. Whatever a kill or a full disk interrupted after
it (the out/<as_of> link, runs/<run_id>.json, the clean-up) is finished by the next `run`, `push`
or `check`, from the version's description, which holds the run's manifest. Called under the
data-directory lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from segengine.errors import DataError, SegengineError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.run import warehouse_build as wb

LEGACY_SUFFIX = "~legacy"

KEEP_OLD_VERSIONS = 2
"""Previous versions always kept, for a reader that resolved the link just before a switch;
older ones are removed once no process holds them."""


def convert_legacy(layout: Layout, log: Callable[[str], None]) -> None:
    """Bring a data directory from before versioned warehouses (or a copy that turned the links
    into plain files and folders) into the layout a publish needs; called by the publish only,
    so a refused command changes nothing.

    Each real out/<date>/ folder becomes out/.runs/<date>~legacy/ with out/<date> a link to it
    (same files). A plain warehouse.duckdb is kept as warehouse/legacy-<mtime>.duckdb (a hard
    link, or a copy) and never cleaned; the publish's switch then replaces the plain file.
    """
    repair_legacy_links(layout)
    out = layout.root / "out"
    for entry in sorted(out.iterdir()) if out.exists() else []:
        with contextlib.suppress(ValueError):
            date.fromisoformat(entry.name)
            if entry.is_dir() and not entry.is_symlink():
                layout.run_dirs.mkdir(parents=True, exist_ok=True)
                os.replace(entry, layout.run_dirs / f"{entry.name}{LEGACY_SUFFIX}")
                wb.replace_symlink(entry, f"{layout.run_dirs.name}/{entry.name}{LEGACY_SUFFIX}")
    wh = layout.warehouse
    if wh.exists() and not wh.is_symlink():
        layout.versions_dir.mkdir(parents=True, exist_ok=True)
        keep = layout.versions_dir / f"legacy-{int(wh.stat().st_mtime)}.duckdb"
        if not keep.exists():
            try:
                os.link(wh, keep)
            except OSError:
                shutil.copy2(wh, keep)
        log(f"the warehouse written before this one is kept as {keep}")


def repair_legacy_links(layout: Layout) -> None:
    """A kill between a legacy folder's move and its link: put the link back."""
    if layout.run_dirs.exists():
        for folder in layout.run_dirs.glob(f"*{LEGACY_SUFFIX}"):
            link = layout.root / "out" / folder.name.removesuffix(LEGACY_SUFFIX)
            if not link.exists() and not link.is_symlink():
                wb.replace_symlink(link, f"{layout.run_dirs.name}/{folder.name}")


def _rebuild_moved(layout: Layout, version: wb.Version, log: Callable[[str], None]) -> None:
    """The data directory moved: a new version of the same run with views on the new paths."""
    root = layout.root.resolve()
    n = 1
    while (layout.versions_dir / f"{version.run_id}~{n}.json").exists():
        n += 1
    moved, _ = wb.build_version(layout, name=f"{version.run_id}~{n}", run_id=version.run_id,
                                as_of=version.as_of, views=version.paths(root),
                                manifest=version.manifest)
    wb.switch_to(layout, moved)
    log(f"the data directory moved from {version.root}: warehouse views now read {root}")


def roll_forward(layout: Layout, log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Finish the last publish if a crash cut it short; returns the run ids completed."""
    try:
        return _roll_forward(layout, log)
    except OSError as exc:
        raise SegengineError(
            f"could not finish the publish a crash interrupted in {layout.root}: {exc}. Free "
            "disk space or fix permissions, then rerun; the published run is unchanged") from exc


def _roll_forward(layout: Layout, log: Callable[[str], None]) -> list[str]:
    repair_legacy_links(layout)
    version = wb.current_version(layout)
    recovered = []
    if version is not None:
        if version.root != str(layout.root.resolve()):
            _rebuild_moved(layout, version, log)
        link = layout.out_dir(version.as_of)
        if not link.is_symlink() or Path(os.readlink(link)).name != version.run_id:
            wb.replace_symlink(link, f"{layout.run_dirs.name}/{version.run_id}")
        manifest = layout.runs_dir / f"{version.run_id}.json"
        if not manifest.exists():
            write_json_atomic(manifest, version.manifest | {"recovered_after_crash": True})
            recovered.append(version.run_id)
            log(f"completed the publish of run {version.run_id}, which was interrupted after "
                "its commit (manifest written)")
    try:
        for warning in clean(layout):
            log(f"warning: {warning}")
    except OSError as exc:  # leftovers only
        log(f"warning: could not remove old warehouse versions ({exc})")
    return recovered


@dataclass(frozen=True)
class PublishedRun:
    """A run whose files push may upload: its id, date, folder and manifest."""

    run_id: str
    as_of: date
    folder: Path
    manifest: dict[str, Any]


def _manifest_of(layout: Layout, run_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads((layout.runs_dir / f"{run_id}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def published_run(layout: Layout, as_of: date | None = None) -> PublishedRun:
    """The current published run (the one warehouse.duckdb shows), or the run published for
    `as_of`; never simply the newest folder under out/. Call after roll_forward."""
    current = wb.current_version(layout)
    shown = (current.run_id, current.as_of) if current else _shown_by_plain_file(layout)
    if as_of is None:
        if shown is None:
            raise DataError(f"no published run in {layout.root} (no warehouse.duckdb). Run "
                            "`segengine run` first, or name the date with --as-of")
        as_of = shown[1]
    folder = layout.out_dir(as_of)
    if folder.is_symlink():
        run_id = Path(os.readlink(folder)).name
    elif folder.is_dir():  # a data dir from before versions, or a copy that resolved the links
        run_id = shown[0] if shown and shown[1] == as_of else _newest_run_of(layout, as_of)
    else:
        raise DataError(f"no published run for {as_of} in {layout.root / 'out'}. Run "
                        f"`segengine run --as-of {as_of}` first")
    manifest = _manifest_of(layout, run_id) or {}  # verify_files refuses a run without one
    return PublishedRun(run_id=run_id, as_of=as_of, folder=folder, manifest=manifest)


def _shown_by_plain_file(layout: Layout) -> tuple[str, date] | None:
    """(run_id, as_of) of a warehouse.duckdb that is a file, not a link (None: no warehouse)."""
    if not layout.warehouse.is_file():
        return None
    try:
        con = duckdb.connect(str(layout.warehouse), read_only=True)
    except duckdb.Error as exc:
        raise DataError(f"cannot read {layout.warehouse} to find the published run ({exc}). "
                        "Close the program holding it, or name the date with --as-of") from None
    try:
        for sql in ("SELECT run_id, as_of FROM runs WHERE version IS NOT NULL",
                    "SELECT run_id, as_of FROM runs ORDER BY finished_at DESC LIMIT 1"):
            with contextlib.suppress(duckdb.Error):
                rows = con.sql(sql).fetchall()
                return (str(rows[0][0]), rows[0][1]) if rows else None
        return None
    finally:
        con.close()


def _newest_run_of(layout: Layout, as_of: date) -> str:
    """The run id of the newest LOCAL manifest for `as_of` ("" when there is none); a `run
    --engine snowflake` manifest describes tables published inside Snowflake, not out/ files."""
    best: tuple[int, str] = (-1, "")
    for path in layout.runs_dir.glob("*.json") if layout.runs_dir.exists() else []:
        data = _manifest_of(layout, path.stem)
        if (data and data.get("as_of") == as_of.isoformat() and data.get("run_id")
                and data.get("engine", "local") != "snowflake"):
            best = max(best, (path.stat().st_mtime_ns, str(data["run_id"])))
    return best[1]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_files(run: PublishedRun, tables: list[str] | None = None) -> None:
    """Every file to upload matches the sha256 its run's manifest records, or nothing is sent."""
    outputs = run.manifest.get("outputs", {})
    names = tables or sorted(p.stem for p in run.folder.glob("*.parquet"))
    problems = []
    for name in names:
        path = run.folder / f"{name}.parquet"
        want = outputs.get(name, {}).get("sha256")
        if want is None:
            problems.append(f"{name}: run {run.run_id}'s manifest (runs/{run.run_id}.json) "
                            "records no sha256 for it (missing, written by an older "
                            "segengine, or not a file of that run)")
        elif not path.exists():
            problems.append(f"{name}: {path} is missing")
        elif file_sha256(path) != want:
            problems.append(f"{name}: {path} changed after run {run.run_id} published it")
    if problems:
        raise DataError("refusing to push files that are not the run's own: "
                        + "; ".join(problems) + f". Rerun `segengine run --as-of {run.as_of}` "
                        "to publish them again; nothing was uploaded")


def describe_failure(run_id: str, as_of: date, exc: Exception) -> SegengineError:
    """The error of a run that committed but could not finish: it IS published."""
    return SegengineError(
        f"run {run_id} (as of {as_of}) was published: warehouse.duckdb shows it. Finishing the "
        f"publish (out/{as_of}, runs/{run_id}.json) failed: {exc}. Free disk space or fix "
        "permissions, then run `segengine check` (or `run`/`push`): it completes the publish")


def is_held(path: Path) -> bool:
    """True while any process (this one included) has the DuckDB file open.

    DuckDB takes a POSIX record lock on its file (shared read-only, exclusive read-write). An
    open-file-description lock probe conflicts with those, even ones held by this process;
    where OFD locks do not exist (macOS) a plain lockf probe sees other processes only.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if hasattr(fcntl, "F_OFD_SETLK"):
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
        else:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock


def _holds_uncarried(path: Path, version: wb.Version, current: wb.Version | None) -> list[str]:
    """Tables/views users created in an old version that the current one does not carry."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return ["(unreadable)"]
    try:
        tables, views = wb.user_objects(con, path.stem, set(version.views) | {"runs"})
    finally:
        con.close()
    kept = set(current.carried) if current else set()
    return [n for n in tables + [v for v, _ in views] if n not in kept]


def clean(layout: Layout) -> list[str]:
    """Remove old versions no process holds (keeping the last few), leftovers of killed builds
    and run folders nothing refers to. Returns warnings; failures here never fail a command."""
    warnings: list[str] = []
    current = wb.current_version(layout)
    folder = layout.versions_dir
    olds = [] if not folder.exists() else sorted(
        (p for p in folder.glob("*.json") if current is None or p.stem != current.name),
        key=lambda p: p.stat().st_mtime_ns)
    kept: list[wb.Version] = [current] if current else []
    for i, desc in enumerate(olds):
        version = wb.read_version(layout, desc.stem)
        db = folder / f"{desc.stem}.duckdb"
        if version is None:
            continue
        # a version whose run has no manifest was never switched to (killed before the commit)
        committed = (layout.runs_dir / f"{version.run_id}.json").exists()
        if (committed and i >= len(olds) - KEEP_OLD_VERSIONS) or is_held(db):
            kept.append(version)
            continue
        theirs = _holds_uncarried(db, version, current)
        if theirs:
            warnings.append(f"{db} is kept: it holds {', '.join(theirs)} that you created and "
                            "the current warehouse does not have; copy them, then delete it")
            kept.append(version)
            continue
        for path in (db, db.with_name(db.name + ".wal"), desc):
            path.unlink(missing_ok=True)
    for tmp in folder.glob(".tmp-*") if folder.exists() else []:
        if not is_held(tmp):
            tmp.unlink(missing_ok=True)
    _clean_run_folders(layout, kept)
    return warnings


def _clean_run_folders(layout: Layout, kept: list[wb.Version]) -> None:
    """Remove out/.runs/<id>/ folders that no out/<date> link and no kept version refers to."""
    if not layout.run_dirs.exists():
        return
    used = {Path(f).parts[2] for v in kept for fs in v.views.values() for f in fs
            if Path(f).parts[:2] == ("out", ".runs")}
    out = layout.root / "out"
    used |= {Path(os.readlink(p)).name for p in out.iterdir() if p.is_symlink()}
    for folder in layout.run_dirs.iterdir():
        if folder.name not in used:
            shutil.rmtree(folder, ignore_errors=True)
