"""Warehouse publish (design §10): readers never block a run, all-or-nothing on CONTENT at every
crash point, history across versions and upgrades, a movable data directory, content hashes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from tests.frames import AS_OF, portfolio, write_lake

from segengine.cli import cli
from segengine.config import load_settings
from segengine.lake.layout import Layout
from segengine.run import recover
from segengine.run.faults import PUBLISH_POINTS
from segengine.run.pipeline import run_pipeline
from segengine.run.publish import content_hash

EARLIER = date(2025, 9, 30)


def _settings(root: Path):  # noqa: ANN202
    return load_settings({"paths.data_dir": str(root)}, environ={})


def _contents(root: Path) -> dict[str, str]:
    """Content hash of every table a new reader of warehouse.duckdb sees (the runs row aside)."""
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.sql("SELECT table_name FROM information_schema.tables "
                                       "WHERE table_name <> 'runs'").fetchall()]
        return {n: content_hash(n, con.sql(f"SELECT * FROM {n}").pl()) for n in names}
    finally:
        con.close()


def _cli(root: Path, *args: str):  # noqa: ANN202
    return CliRunner().invoke(cli, ["--data-dir", str(root), *args])


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return write_lake(tmp_path / "data", *portfolio())


@dataclass(frozen=True)
class States:
    old: dict[str, str]
    new: dict[str, str]


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> States:
    """What readers must see before (a run as of EARLIER) and after a run as of AS_OF."""
    root = write_lake(tmp_path_factory.mktemp("states") / "data", *portfolio())
    run_pipeline(_settings(root), as_of=EARLIER)
    old = _contents(root)
    run_pipeline(_settings(root), as_of=AS_OF)
    new = _contents(root)
    assert set(old) == set(new) and all(old[t] != new[t] for t in ("customer_segments",
                                                                   "customer_360_profile",
                                                                   "customer_segments_history"))
    return States(old, new)


# A command that finishes (or cleans up after) the killed publish, one per point, so every
# command that must roll forward (run, push, check) is exercised at a post-commit point.
NEXT_COMMAND = {"after-out-files": "check", "mid-warehouse": "run", "before-commit": "push",
                "after-warehouse": "push", "after-out-swap": "check", "after-manifest": "run"}


# every point in the default suite but the first (a kill before the version build, like a
# failure in any stage before it), which runs in the slow tier to keep the suite fast
@pytest.mark.parametrize("point", [pytest.param(p, marks=pytest.mark.slow)
                                   if p == "after-out-files" else p for p in PUBLISH_POINTS])
def test_kill_at_any_publish_point_shows_every_table_all_old_or_all_new(
        lake: Path, states: States, point: str) -> None:
    first = run_pipeline(_settings(lake), as_of=EARLIER)
    proc = subprocess.run(
        [sys.executable, "-m", "segengine", "--data-dir", str(lake), "run", "--as-of",
         AS_OF.isoformat()], env={**os.environ, "SEGENGINE_FAULT_INJECT": point},
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == -9, proc.stderr  # SIGKILL
    committed = PUBLISH_POINTS.index(point) > PUBLISH_POINTS.index("before-commit")
    assert _contents(lake) == (states.new if committed else states.old)
    killed = [p.stem for p in (lake / "warehouse").glob("*.json")
              if p.stem != first.run_id] or [p.name for p in (lake / "out" / ".runs").iterdir()
                                             if p.name != first.run_id]
    killed_id = killed[0]

    command = NEXT_COMMAND[point]
    args = {"run": ["run", "--as-of", EARLIER.isoformat()], "check": ["check"],
            "push": ["push", "--dry-run"]}[command]
    r = _cli(lake, *args)
    assert r.exit_code == 0, r.output
    manifest = lake / "runs" / f"{killed_id}.json"
    if committed:
        data = json.loads(manifest.read_text())
        assert data["run_id"] == killed_id and data["outputs"]["customer_segments"]["sha256"]
        # written by the next command, except when the killed run had written it itself
        assert data.get("recovered_after_crash", False) is (point != "after-manifest")
        assert os.readlink(Layout(lake).out_dir(AS_OF)) == f".runs/{killed_id}"
        if command == "push":  # the rolled-forward run is what push uploads
            assert r.stdout.splitlines()[0] == f"-- run {killed_id}, as of {AS_OF}"
    else:
        assert not manifest.exists() and not Layout(lake).out_dir(AS_OF).exists()
        assert not (lake / "out" / ".runs" / killed_id).exists()  # leftovers cleaned
        if command == "push":
            assert r.stdout.splitlines()[0] == f"-- run {first.run_id}, as of {EARLIER}"
    assert not list((lake / "warehouse").glob(".tmp-*"))


def test_full_disk_after_the_commit_says_published_and_check_writes_the_manifest(
        lake: Path, states: States, monkeypatch: pytest.MonkeyPatch) -> None:
    run_pipeline(_settings(lake), as_of=EARLIER)
    monkeypatch.setenv("SEGENGINE_FAULT_INJECT", "enospc:after-out-swap")
    r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
    assert r.exit_code == 1, r.output
    assert "Internal error" not in r.stderr
    assert "(as of 2025-10-31) was published: warehouse.duckdb shows it" in r.stderr
    assert "No space left on device" in r.stderr and "segengine check" in r.stderr
    assert _contents(lake) == states.new
    run_id = os.readlink(Layout(lake).out_dir(AS_OF)).removeprefix(".runs/")
    assert not (lake / "runs" / f"{run_id}.json").exists()
    monkeypatch.delenv("SEGENGINE_FAULT_INJECT")
    r = _cli(lake, "check")
    assert r.exit_code == 0, r.output
    assert f"completed the publish of run {run_id}" in r.stderr
    assert json.loads((lake / "runs" / f"{run_id}.json").read_text())["run_id"] == run_id


def test_full_disk_before_the_commit_publishes_nothing(
        lake: Path, states: States, monkeypatch: pytest.MonkeyPatch) -> None:
    run_pipeline(_settings(lake), as_of=EARLIER)
    manifests = sorted((lake / "runs").iterdir())
    monkeypatch.setenv("SEGENGINE_FAULT_INJECT", "enospc:before-commit")
    r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
    assert r.exit_code == 1 and "Internal error" not in r.stderr
    assert "Nothing was published: the warehouse and out/ still show the previous run" \
        in r.stderr
    assert _contents(lake) == states.old and sorted((lake / "runs").iterdir()) == manifests


HOLDER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
for line in sys.stdin:
    if line.strip() == "write":
        con.execute("CREATE TABLE IF NOT EXISTS my_notes AS SELECT 1 AS x")
        con.execute("INSERT INTO my_notes VALUES (2)")
    rows = con.sql("SELECT DISTINCT as_of_date FROM customer_segments").fetchall()
    stamp = con.sql("SELECT MAX(segmented_at) FROM customer_rfm").fetchall()[0][0]
    shown = con.sql("SELECT run_id FROM runs WHERE version IS NOT NULL").fetchall()[0][0]
    print(rows[0][0], shown, stamp, flush=True)
"""


def _ask(holder: subprocess.Popen[str], what: str = "read") -> str:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(what + "\n")
    holder.stdin.flush()
    return holder.stdout.readline().strip()


def _holder(root: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(root / "warehouse.duckdb"), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _run_id(result) -> str:  # noqa: ANN001
    found = re.search(r"published run (\S+)", result.stderr)
    assert found, result.stderr
    return found.group(1)


def _new_reader_sees(root: Path) -> tuple[date, str]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("SELECT DISTINCT as_of_date, (SELECT run_id FROM runs WHERE version IS "
                       "NOT NULL) FROM customer_segments").fetchall()[0]
    finally:
        con.close()


def test_readers_holding_the_warehouse_never_block_a_run_and_keep_their_snapshot(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover, "KEEP_OLD_VERSIONS", 0)  # only "held" keeps a version
    first = run_pipeline(_settings(lake), as_of=EARLIER).run_id
    holders = []
    try:
        # a notebook holding it read-only, through a run of another date
        holders.append(_holder(lake, "ro"))
        seen_ro = _ask(holders[0])
        assert seen_ro.startswith(f"{EARLIER} {first} ")
        r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
        assert r.exit_code == 0, r.output
        second = _run_id(r)
        assert _ask(holders[0]) == seen_ro  # its snapshot
        assert _new_reader_sees(lake) == (AS_OF, second)
        # a notebook holding it read-write (and writing), through a rerun of the same date:
        # the rerun's rows differ only in the run timestamp segmented_at, which it must not see
        holders.append(_holder(lake, "rw"))
        seen_rw = _ask(holders[1])
        assert seen_rw.startswith(f"{AS_OF} {second} ")
        r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
        assert r.exit_code == 0, r.output
        third = _run_id(r)
        assert _ask(holders[1], "write") == seen_rw  # writes go to its own WAL
        assert (lake / "warehouse" / f"{second}.duckdb.wal").exists()
        assert _new_reader_sees(lake) == (AS_OF, third)
        assert _ask(holders[0]) == seen_ro
        for held in (first, second):  # held: kept, with the files their views read
            assert (lake / "warehouse" / f"{held}.duckdb").exists()
            assert (lake / "out" / ".runs" / held).exists()
    finally:
        for h in holders:
            h.kill()
            h.wait()
    con = duckdb.connect(str(lake / "warehouse.duckdb"))  # read-write: no WAL mismatch
    assert con.sql("SELECT DISTINCT as_of_date FROM customer_segments").fetchall() == [(AS_OF,)]
    con.close()
    r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
    assert r.exit_code == 0, r.output
    last = _run_id(r)
    # released: removed (WAL included), except the version holding the table the notebook
    # created, which the run could not read while it was held read-write
    assert sorted(p.name for p in (lake / "warehouse").iterdir()) == sorted([
        f"{last}.duckdb", f"{last}.json", f"{second}.duckdb", f"{second}.duckdb.wal",
        f"{second}.json"])
    assert f"{second}.duckdb is kept: it holds my_notes that you created" in r.stderr
    assert sorted(p.name for p in (lake / "out" / ".runs").iterdir()) == sorted(
        [first, second, last])  # out/<EARLIER> -> first; second's version still reads second
    r = _cli(lake, "sql", "SELECT COUNT(*) AS n FROM customer_segments", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.strip() == "n\n25"


def test_old_versions_are_removed_once_nobody_holds_them_keeping_the_last_few(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover, "KEEP_OLD_VERSIONS", 1)  # 2 by default
    ids = [run_pipeline(_settings(lake)).run_id for _ in range(3)]
    versions = sorted(p.stem for p in (lake / "warehouse").glob("*.duckdb"))
    assert versions == ids[1:]  # current + 1 previous
    assert sorted(p.name for p in (lake / "out" / ".runs").iterdir()) == ids[1:]


def test_tables_users_create_in_the_warehouse_are_carried_to_the_next_version(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover, "KEEP_OLD_VERSIONS", 0)  # the old versions are removed
    first = run_pipeline(_settings(lake)).run_id
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    con.execute("CREATE TABLE my_snapshot AS SELECT * FROM customer_segments")
    con.execute("CREATE VIEW my_view AS SELECT COUNT(*) AS n FROM my_snapshot")
    con.close()
    for _ in range(2):  # carried from version to version
        run_pipeline(_settings(lake))
    assert not (lake / "warehouse" / f"{first}.duckdb").exists()
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    assert con.sql("SELECT n FROM my_view").fetchall() == [(25,)]
    con.close()


def test_moving_the_data_directory_keeps_every_reader_working(lake: Path,
                                                             tmp_path: Path) -> None:
    run_pipeline(_settings(lake), as_of=EARLIER)
    run_pipeline(_settings(lake), as_of=AS_OF)
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(lake, moved)
    for args in (["rfm"], ["clusters"], ["migration", "--from", str(EARLIER), "--to",
                                          str(AS_OF)],
                 ["sql", "SELECT COUNT(*) FROM customer_segments_history"]):
        r = _cli(moved, *args)
        assert r.exit_code == 0, (args, r.output)
    r = _cli(moved, "check")  # rolls forward: the views now read the new place
    assert r.exit_code == 0, r.output
    assert "the data directory moved" in r.stderr
    con = duckdb.connect(str(moved / "warehouse.duckdb"), read_only=True)  # a notebook
    assert con.sql("SELECT COUNT(DISTINCT as_of_date) FROM customer_segments_history"
                   ).fetchall() == [(2,)]
    con.close()


def test_history_from_an_older_version_with_other_columns_reads_them_as_null(
        lake: Path) -> None:
    run_pipeline(_settings(lake), as_of=EARLIER)
    old = Layout(lake).out_dir(EARLIER) / "customer_segments_history.parquet"
    pl.read_parquet(old).drop("segment_reason").with_columns(
        retired_column=pl.lit("x")).write_parquet(old)
    r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
    assert r.exit_code == 0, r.output
    assert "history of 2025-09-30 has no segment_reason (read as NULL)" in r.stderr
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    rows = con.sql("SELECT as_of_date, COUNT(segment_reason), COUNT(*) FROM "
                   "customer_segments_history GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert rows == [(EARLIER, 0, 25), (AS_OF, 25, 25)]
    r = _cli(lake, "migration", "--from", str(EARLIER), "--to", str(AS_OF))
    assert r.exit_code == 0, r.output


def test_history_with_a_changed_column_type_is_refused_with_the_fix(lake: Path) -> None:
    run_pipeline(_settings(lake), as_of=EARLIER)
    old = Layout(lake).out_dir(EARLIER) / "customer_segments_history.parquet"
    pl.read_parquet(old).with_columns(pl.col("tenure_months").cast(pl.String)).write_parquet(old)
    before = os.readlink(lake / "warehouse.duckdb")
    r = _cli(lake, "run", "--as-of", AS_OF.isoformat())
    assert r.exit_code == 1 and "Internal error" not in r.stderr
    assert ("tenure_months is large_string in the history of 2025-09-30 (out/.runs/" in r.stderr
            and "but int32 now" in r.stderr)
    assert ("Rewrite those dates with this version (`segengine run --as-of 2025-09-30`), then "
            "rerun `segengine run --as-of 2025-10-31`; or move out/2025-09-30 out of out/") \
        in r.stderr.replace("\n", " ")
    assert sorted(p.name for p in (lake / "out" / ".runs").iterdir()) == [
        os.path.basename(os.readlink(Layout(lake).out_dir(EARLIER)))]
    assert os.readlink(lake / "warehouse.duckdb") == before
    assert not Layout(lake).out_dir(AS_OF).exists()


def _frame(**changes: object) -> pl.DataFrame:
    base = {"customer_id": ["a", "b", "c"], "spend": [Decimal("10.00"), Decimal("2.50"),
                                                      Decimal("7.25")],
            "segmented_at": [datetime(2025, 11, 1, 8)] * 3}
    return pl.DataFrame(base | changes, schema_overrides={"spend": pl.Decimal(18, 2)})


def test_content_hash_sees_one_cent_and_one_row_but_not_order_or_run_time() -> None:
    base = content_hash("t", _frame())
    one_cent = _frame(spend=[Decimal("10.01"), Decimal("2.50"), Decimal("7.25")])
    assert content_hash("t", one_cent) != base
    assert content_hash("t", _frame().head(2)) != base
    assert content_hash("t", pl.concat([_frame(), _frame().tail(1)])) != base
    assert content_hash("t", _frame().reverse()) == base
    assert content_hash("t", _frame().sample(fraction=1.0, shuffle=True, seed=3)) == base
    later = _frame(segmented_at=[datetime(2026, 1, 1)] * 3)
    assert content_hash("t", later) == base
    assert content_hash("t", _frame().rename({"spend": "amount"})) != base
    # rows sharing a key (customer_id) in another order: still the same content
    ties = pl.concat([_frame(), _frame(spend=[Decimal("1.00")] * 3)])
    assert content_hash("t", ties.reverse()) == content_hash("t", ties)
