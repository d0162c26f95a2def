"""What push uploads (design §9): the current published run, verified file by file against its
manifest, after rolling forward a publish a crash cut short; and the legacy layout upgrade."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from tests.frames import AS_OF, portfolio, write_lake

from segengine.cli import cli
from segengine.config import load_settings
from segengine.lake.layout import Layout
from segengine.run.pipeline import run_pipeline

LATER = date(2025, 10, 31)
EARLIER = date(2025, 9, 30)


def _settings(root: Path):  # noqa: ANN202
    return load_settings({"paths.data_dir": str(root)}, environ={})


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Runs for the later date, then the earlier one: the earlier is the current run."""
    root = write_lake(tmp_path_factory.mktemp("push") / "data", *portfolio())
    later = run_pipeline(_settings(root), as_of=LATER).run_id
    earlier = run_pipeline(_settings(root), as_of=EARLIER).run_id
    return root, later, earlier


def _dry_run(root: Path, *args: str):  # noqa: ANN202
    return CliRunner().invoke(cli, ["--data-dir", str(root), "push", "--dry-run", *args])


def test_push_defaults_to_the_current_published_run_not_the_newest_date(
        published: tuple[Path, str, str]) -> None:
    root, _later, earlier = published
    r = _dry_run(root)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"-- run {earlier}, as of {EARLIER}"
    assert str(EARLIER) in r.stdout and str(LATER) not in r.stdout


def test_push_as_of_picks_the_run_published_for_that_date(
        published: tuple[Path, str, str]) -> None:
    root, later, _earlier = published
    r = _dry_run(root, "--as-of", str(LATER), "--tables", "customer_rfm")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"-- run {later}, as of {LATER}"


def test_manifest_records_each_file_and_its_sha256(published: tuple[Path, str, str]) -> None:
    root, _later, earlier = published
    outputs = json.loads((root / "runs" / f"{earlier}.json").read_text())["outputs"]
    path = Layout(root).out_dir(EARLIER) / "customer_segments.parquet"
    assert outputs["customer_segments"]["file"] == f"out/{EARLIER}/customer_segments.parquet"
    assert outputs["customer_segments"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_refuses_a_file_changed_after_the_run_published_it(tmp_path: Path) -> None:
    root = write_lake(tmp_path / "data", *portfolio())
    run = run_pipeline(_settings(root)).run_id
    path = Layout(root).out_dir(AS_OF) / "customer_rfm.parquet"
    frame = pl.read_parquet(path)
    frame.head(frame.height - 1).write_parquet(path)  # one row fewer
    r = _dry_run(root)
    assert r.exit_code == 1 and "Internal error" not in r.stderr
    assert (f"customer_rfm: {path} changed after run {run} published it" in r.stderr
            and "nothing was uploaded" in r.stderr and "-- run" not in r.stdout)


def test_push_without_any_run_says_what_to_do(tmp_path: Path) -> None:
    r = _dry_run(tmp_path / "empty")
    assert r.exit_code == 1 and "no published run" in r.stderr and "segengine run" in r.stderr


def test_a_data_dir_from_before_versioned_warehouses_is_upgraded_without_losing_anything(
        tmp_path: Path) -> None:
    root = write_lake(tmp_path / "data", *portfolio())
    run_pipeline(_settings(root), as_of=EARLIER)
    # make it look like the old layout: a plain warehouse file and real out/<date> folders
    version = Path(os.readlink(root / "warehouse.duckdb"))
    (root / "warehouse.duckdb").unlink()
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("CREATE TABLE my_table AS SELECT 1 AS x")
    con.close()
    link = Layout(root).out_dir(EARLIER)
    target = root / "out" / os.readlink(link)
    link.unlink()
    target.rename(link)
    (root / "warehouse" / f"{version.stem}.json").unlink()
    (root / version).unlink()
    r = CliRunner().invoke(cli, ["--data-dir", str(root), "run", "--as-of", str(AS_OF)])
    assert r.exit_code == 0, r.output
    legacy = list((root / "warehouse").glob("legacy-*.duckdb"))
    assert len(legacy) == 1 and f"kept as {legacy[0]}" in r.stderr
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.sql("SELECT as_of_date, COUNT(*) FROM customer_segments_history GROUP BY 1 "
                   "ORDER BY 1").fetchall() == [(EARLIER, 25), (AS_OF, 25)]
    con.close()
    assert os.readlink(link) == f".runs/{EARLIER}~legacy"


def test_a_copy_that_resolved_the_links_still_pushes_and_reads_its_run(
        published: tuple[Path, str, str], tmp_path: Path) -> None:
    root, _later, earlier = published
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)  # symlinks=False: warehouse.duckdb and out/<date> become copies
    assert not (copy / "warehouse.duckdb").is_symlink()
    r = _dry_run(copy)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"-- run {earlier}, as of {EARLIER}"
    r = CliRunner().invoke(cli, ["--data-dir", str(copy), "sql",
                                 "SELECT COUNT(*) AS n FROM customer_segments", "--format", "csv"])
    assert r.exit_code == 0 and r.stdout.strip() == "n\n25", r.output


def test_the_run_behind_a_plain_out_folder_is_never_a_snowflake_engine_run(tmp_path: Path) -> None:
    import json
    import time

    from segengine.lake.layout import Layout
    from segengine.run.recover import _newest_run_of

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "local.json").write_text(json.dumps({"run_id": "local", "as_of": str(AS_OF)}))
    time.sleep(0.01)  # the engine run's manifest is newer
    (runs / "sf.json").write_text(json.dumps({"run_id": "sf", "as_of": str(AS_OF),
                                              "engine": "snowflake"}))
    assert _newest_run_of(Layout(tmp_path), AS_OF) == "local"
