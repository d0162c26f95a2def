"""`segengine run` end to end on a small lake: publish, determinism, crash safety, lock, gate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from tests.frames import AS_OF, portfolio, write_lake

from segengine.cli import cli
from segengine.config import load_settings
from segengine.errors import LockError, QualityError
from segengine.lake.layout import Layout, data_dir_lock
from segengine.run import pipeline, publish
from segengine.run.pipeline import run_pipeline


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return write_lake(tmp_path / "data", *portfolio())


def _settings(root: Path):  # noqa: ANN202
    return load_settings({"paths.data_dir": str(root)}, environ={})


def _tables(root: Path) -> dict[str, int]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.sql(  # tables and views
            "SELECT table_name FROM information_schema.tables").fetchall()]
        return {n: con.sql(f"SELECT COUNT(*) FROM {n}").fetchall()[0][0] for n in names}
    finally:
        con.close()


def test_run_publishes_warehouse_out_files_and_manifest(lake: Path) -> None:
    result = run_pipeline(_settings(lake))
    assert result.as_of == AS_OF  # default: the latest transaction date
    counts = _tables(lake)
    assert counts["customer_segments"] == 25 and counts["customer_360_profile"] == 25
    assert counts["customer_segments_history"] == 25
    out = Layout(lake).out_dir(AS_OF)
    assert {p.stem for p in out.glob("*.parquet")} >= {
        "customer_segments", "metric_customer_ltv", "metric_mom_spend_change",
        "metric_avg_transaction_value", "customer_360_profile", "customer_segments_history",
        "customer_rfm", "rfm_segment_summary", "customer_clusters", "cluster_profiles",
        "churn_model_report", "dim_customer"}
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["as_of"] == "2025-10-31"
    assert manifest["outputs"]["customer_segments"]["rows"] == 25
    assert {s["stage"] for s in manifest["stages"]} >= {"customer_activity", "customer_segments"}
    assert manifest["input"]["files"] and manifest["versions"]["duckdb"]
    seg = dict(result.segment_summary.select("customer_segment", "customers").iter_rows())
    assert seg == {"High-Value Travelers": 5, "Declining": 5, "New & Growing": 5,
                   "Budget-Conscious": 5, "Stable Mid-Spenders": 5}


def test_two_runs_give_identical_content_hashes(lake: Path) -> None:
    first = json.loads(run_pipeline(_settings(lake)).manifest_path.read_text())
    second = json.loads(run_pipeline(_settings(lake)).manifest_path.read_text())
    assert first["run_id"] != second["run_id"]
    assert {k: v["content_hash"] for k, v in first["outputs"].items()} == {
        k: v["content_hash"] for k, v in second["outputs"].items()}


def test_rerun_of_same_date_replaces_history_and_other_dates_accumulate(lake: Path) -> None:
    run_pipeline(_settings(lake))
    run_pipeline(_settings(lake))
    run_pipeline(_settings(lake), as_of=date(2025, 8, 31))
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    rows = dict(con.sql("SELECT as_of_date, COUNT(*) FROM customer_segments_history "
                        "GROUP BY 1").fetchall())
    con.close()
    assert rows[AS_OF] == 25 and date(2025, 8, 31) in rows and len(rows) == 2


def test_as_of_in_the_past_ignores_later_transactions(lake: Path) -> None:
    run_pipeline(_settings(lake), as_of=date(2025, 6, 30))
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    last = con.sql("SELECT MAX(last_transaction_date), MAX(as_of_date) "
                   "FROM customer_segments").fetchall()[0]
    con.close()
    assert last[0] <= date(2025, 6, 30) and last[1] == date(2025, 6, 30)


def test_second_concurrent_run_fails_with_a_clear_message(lake: Path) -> None:
    with data_dir_lock(Layout(lake), "run"), pytest.raises(LockError, match="another segengine"):
        run_pipeline(_settings(lake))


def test_failed_quality_gate_publishes_nothing(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_pipeline(_settings(lake))
    before = _tables(lake)
    manifests = sorted((lake / "runs").glob("*.json"))
    real = pipeline.build_tables

    def corrupt(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        tables = real(*args, **kwargs)
        seg = tables["customer_segments"]
        tables["customer_segments"] = seg.with_columns(
            pl.when(pl.col("customer_id") == "B0").then(pl.lit("High-Value Travelers"))
            .otherwise(pl.col("customer_segment")).alias("customer_segment"))
        return tables

    monkeypatch.setattr(pipeline, "build_tables", corrupt)
    with pytest.raises(QualityError, match="segment rules hold for every row: 1 failing.*B0"):
        run_pipeline(_settings(lake))
    assert _tables(lake) == before
    assert sorted((lake / "runs").glob("*.json")) == manifests


def test_cli_run_check_sql_and_migration(lake: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(lake)]
    r = runner.invoke(cli, [*base, "run", "--as-of", "2025-09-30"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, [*base, "run"])
    assert r.exit_code == 0, r.output
    assert "High-Value Travelers" in r.stdout and "customer_segments" in r.stderr
    r = runner.invoke(cli, [*base, "check"])
    assert r.exit_code == 0, r.output
    assert "PASS   segment rules hold for every row\n" in r.stdout
    assert re.search(r"^\d+ checks: \d+ PASS, 0 WARN, 0 ERROR$", r.stdout, re.M)
    r = runner.invoke(cli, [*base, "sql", "SELECT COUNT(*) AS n FROM customer_360_profile",
                            "--format", "csv"])
    assert r.exit_code == 0 and r.stdout.strip() == "n\n25"
    r = runner.invoke(cli, [*base, "sql", "DROP TABLE customer_segments"])
    assert r.exit_code == 1 and "Error:" in r.stderr
    r = runner.invoke(cli, [*base, "migration", "--from", "2025-09-30", "--to", "2025-10-31"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1].startswith("from \\ to ")
    r = runner.invoke(cli, [*base, "migration", "--from", "2020-01-31", "--to", "2025-10-31"])
    assert r.exit_code == 1 and "no segment history for 2020-01-31" in r.stderr


def test_run_on_empty_data_dir_says_what_to_do(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "none"), "run"])
    assert r.exit_code == 1
    assert "has no transactions" in r.stderr and "segengine generate" in r.stderr


def test_external_segments_file_is_joined_and_unknown_ids_reported(lake: Path,
                                                                   tmp_path: Path) -> None:
    seg_file = tmp_path / "ml.csv"
    seg_file.write_text("customer_id,segment_id,segment_name\nH0,7,Jetsetters\nB1,2,Savers\n"
                        "ZZ9,3,Ghost\n")
    r = CliRunner().invoke(cli, ["--data-dir", str(lake), "run", "--segments-file",
                                 str(seg_file)])
    assert r.exit_code == 0, r.output
    assert "1 customer id(s) in the segments file are not in the lake (e.g. ZZ9)" in r.stderr
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    rows = dict(con.sql("SELECT customer_id, ml_segment_name FROM customer_360_profile "
                        "WHERE ml_segment_id IS NOT NULL").fetchall())
    rfm = con.sql("SELECT COUNT(*) FROM customer_360_profile WHERE rfm_segment IS NULL "
                  "OR cluster_name IS NULL OR r_score NOT BETWEEN 1 AND 5").fetchall()[0][0]
    con.close()
    assert rows == {"H0": "Jetsetters", "B1": "Savers"}
    assert rfm == 0


def test_duplicate_ids_in_segments_file_fail_before_anything_is_computed(
        lake: Path, tmp_path: Path) -> None:
    seg_file = tmp_path / "ml.csv"
    seg_file.write_text("customer_id,segment_id,segment_name\nH0,1,a\nH0,2,b\n")
    r = CliRunner().invoke(cli, ["--data-dir", str(lake), "run", "--segments-file",
                                 str(seg_file)])
    assert r.exit_code == 1 and "H0" in r.stderr
    assert not (lake / "warehouse.duckdb").exists()


def test_as_of_before_any_data_is_refused_and_publishes_nothing(lake: Path) -> None:
    run_pipeline(_settings(lake))
    before = _tables(lake)
    r = CliRunner().invoke(cli, ["--data-dir", str(lake), "run", "--as-of", "2020-01-01"])
    assert r.exit_code == 1 and "no approved transactions on or before 2020-01-01" in r.stderr
    assert _tables(lake) == before


def test_warehouse_open_in_another_process_does_not_stop_a_run(lake: Path) -> None:
    # §10 (2026-12): readers never block a run; this pinned the old refusal before
    run_pipeline(_settings(lake))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; "
         f"c = duckdb.connect({str(lake / 'warehouse.duckdb')!r}, read_only=True); "
         "print('open', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        r = CliRunner().invoke(cli, ["--data-dir", str(lake), "run"])
        assert holder.poll() is None  # still holding its snapshot
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 0, r.output
    assert "is open in another process" not in r.stderr and "published run" in r.stderr


def test_turning_churn_off_drops_the_stale_report_and_keeps_user_tables(lake: Path) -> None:
    run_pipeline(_settings(lake))
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    con.execute("CREATE TABLE my_snapshot AS SELECT * FROM customer_segments")
    con.close()
    settings = load_settings({"paths.data_dir": str(lake), "churn.enabled": False}, environ={})
    run_pipeline(settings)
    tables = _tables(lake)
    assert "churn_model_report" not in tables and tables["my_snapshot"] == 25


@pytest.mark.parametrize("gather_above", [0, 1 << 30])  # column by column / frame.sort
def test_put_in_key_order_sorts_in_place_once_per_shared_frame(gather_above: int) -> None:
    segments = pl.DataFrame({"customer_id": ["c2", "c1"], "customer_segment": ["x", "y"]})
    mom = pl.DataFrame({"customer_id": ["c2", "c1", "c1"],
                        "month": [date(2025, 1, 1), date(2025, 2, 1), date(2025, 1, 1)]})
    tables = {"customer_segments": segments, "customer_segments_history": segments,
              "metric_mom_spend_change": mom}
    publish.put_in_key_order(tables, gather_above)
    assert tables["customer_segments"].get_column("customer_id").to_list() == ["c1", "c2"]
    assert tables["customer_segments_history"] is tables["customer_segments"]
    assert tables["metric_mom_spend_change"].rows() == [
        ("c1", date(2025, 1, 1)), ("c1", date(2025, 2, 1)), ("c2", date(2025, 1, 1))]
    assert segments.get_column("customer_id").to_list() == ["c2", "c1"]  # input frame untouched


def test_run_memory_limit_scales_with_the_lake_within_a_floor_and_half_the_ram() -> None:
    from segengine.run.queries import run_memory_limit
    gib = 1 << 30
    assert run_memory_limit(66 << 20, 24 * gib) == gib  # a 1x lake: the 1 GiB floor
    assert run_memory_limit(664 << 20, 24 * gib) == 4 * (664 << 20)  # 10x: 4x its partitions
    assert run_memory_limit(20 * gib, 24 * gib) == 12 * gib  # at most half the RAM
    assert run_memory_limit(0, gib) == gib  # a tiny machine still gets the floor


def test_the_run_connection_has_the_lake_sized_limit_and_spills_where_told(tmp_path: Path
                                                                           ) -> None:
    from segengine.run.queries import connect_run
    rows, customers = portfolio()
    layout = Layout(write_lake(tmp_path / "data", rows, customers=customers))
    con = connect_run(layout, tmp_path / "spill")
    try:
        limit, spill = con.sql("SELECT current_setting('memory_limit'), "
                               "current_setting('temp_directory')").fetchall()[0]
    finally:
        con.close()
    assert (limit, spill) == ("1.0 GiB", str(tmp_path / "spill"))  # default: 80% of the RAM


def test_the_raw_path_connection_keeps_duckdbs_default_limit(tmp_path: Path) -> None:
    from segengine.run.queries import connect_run
    rows, customers = portfolio()
    layout = Layout(write_lake(tmp_path / "data", rows, customers=customers))
    con = connect_run(layout, tmp_path / "spill", limited=False)
    try:
        limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()
    assert limit != "1.0 GiB"  # 80% of this machine's RAM: more than the 1 GiB floor here


def test_a_build_out_of_memory_under_the_limit_is_computed_again_without_it(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads(run_pipeline(_settings(lake)).manifest_path.read_text())
    real = pipeline.build_tables
    limits: list[str] = []

    def tight_then_real(con: duckdb.DuckDBPyConnection, **kwargs: object) -> object:
        limits.append(con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0])
        if len(limits) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return real(con, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "build_tables", tight_then_real)
    said: list[str] = []
    result = run_pipeline(_settings(lake), log=said.append)
    got = json.loads(result.manifest_path.read_text())
    assert limits[0] == "1.0 GiB" and limits[1] != "1.0 GiB" and len(limits) == 2
    assert any("ran out of memory" in m and "without the limit" in m for m in said)
    assert {k: v["content_hash"] for k, v in got["outputs"].items()} == {
        k: v["content_hash"] for k, v in expected["outputs"].items()}
    assert [s["stage"] for s in got["stages"]].count("customer_activity") == 1
