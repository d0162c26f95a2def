"""Rolling a committed publish forward, and the published run that push uploads (design §9, §10).

The switch of warehouse.duckdb is the commit. Whatever a kill or a full disk interrupted after
it (the out/<as_of> link, runs/<run_id>.json, the clean-up) is finished by the next `run`, `push`
or `check`, from the version's description, which holds the run's manifest. Called under the
data-directory lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from segengine.errors import DataError, SegengineError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.run import warehouse_build as wb

LEGACY_SUFFIX = "~legacy"


def convert_legacy(layout: Layout, log: Callable[[str], None]) -> None:
    """Bring a data directory written before versioned warehouses into the new layout.

    A plain warehouse.duckdb is moved (not deleted) to warehouse/legacy-<mtime>.duckdb, which is
    never cleaned; each real out/<date>/ folder becomes out/.runs/<date>~legacy/ with out/<date>
    a link to it. A kill between the two renames is repaired on the next call.
    """
    out = layout.root / "out"
    if layout.run_dirs.exists():
        for folder in layout.run_dirs.glob(f"*{LEGACY_SUFFIX}"):
            link = out / folder.name.removesuffix(LEGACY_SUFFIX)
            if not link.exists() and not link.is_symlink():
                wb.replace_symlink(link, f"{layout.run_dirs.name}/{folder.name}")
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
        os.replace(wh, keep)
        log(f"the warehouse written by an earlier segengine version is kept as {keep}")


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
    convert_legacy(layout, log)
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
    for warning in wb.clean(layout):
        log(f"warning: {warning}")
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
    if as_of is None:
        version = wb.current_version(layout)
        if version is None:
            raise DataError(f"no published run in {layout.root} (no versioned warehouse.duckdb)."
                            " Run `segengine run` first, or name the date with --as-of")
        as_of = version.as_of
    link = layout.out_dir(as_of)
    if not link.is_symlink():
        raise DataError(f"no published run for {as_of} in {layout.root / 'out'}. Run "
                        f"`segengine run --as-of {as_of}` first")
    run_id = Path(os.readlink(link)).name
    manifest = _manifest_of(layout, run_id)
    if manifest is None:
        raise DataError(f"run {run_id} (out/{as_of}) has no manifest runs/{run_id}.json. Rerun "
                        f"`segengine run --as-of {as_of}`")
    return PublishedRun(run_id=run_id, as_of=as_of, folder=link, manifest=manifest)


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
            problems.append(f"{name}: run {run.run_id}'s manifest records no sha256 for it "
                            "(written by an older segengine, or not a file of that run)")
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
