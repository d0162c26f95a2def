"""Month summaries (design §12.1): the summary path equals the raw path bit for bit, summaries
are rebuilt when stale and reused when untouched (the daily cycle)."""

from __future__ import annotations

import json
import os
import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from tests.frames import tx

from segengine.config import Settings
from segengine.lake import summaries
from segengine.lake.generate import generate_customers, generate_transactions
from segengine.lake.layout import Layout, write_parquet_atomic
from segengine.lake.schemas import TRANSACTIONS
from segengine.run.pipeline import StageTimer, build_tables, date_params
from segengine.run.publish import content_hash
from segengine.run.queries import attach_lake, run_model
from segengine.run.summary_path import cut_months

LAKE_END = date(2024, 12, 31)  # 14 months, 2023-11 .. 2024-12: holds the leap day 2024-02-29
MONTHS = 14


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated lake plus hand rows the generator never makes: a $9M amount (its square
    is near the raw model's DECIMAL(18) limit), a customer with declined rows only, a NULL
    category, rows on the leap day and on the first and last day of the lake."""
    root = tmp_path_factory.mktemp("summaries") / "data"
    layout = Layout(root)
    customers = generate_customers(customers=60, months=MONTHS, end=LAKE_END, seed=5)
    extra = pl.DataFrame([
        tx("CUST00000001", date(2024, 2, 29), "9000000.00", "Travel"),
        tx("CUST00000001", date(2024, 2, 29), "0.01", "Gas"),
        tx("CUST00000002", date(2023, 11, 1), "12.34", "Hotels"),
        tx("CUST00000002", date(2024, 12, 31), "12.35", "Grocery"),
        tx("DECLINED_ONLY", date(2024, 6, 15), "50.00", status="declined"),
        tx("CUST00000003", date(2024, 8, 2), "7.00", None),  # type: ignore[arg-type]
    ], schema=TRANSACTIONS, orient="row")
    for month, part in generate_transactions(customers, months=MONTHS, end=LAKE_END, seed=5):
        rows = pl.concat([part, extra.filter(
            pl.col("transaction_date").dt.strftime("%Y-%m") == month)])
        write_parquet_atomic(rows, layout.partition_file(month))
    return root


def _tables(root: Path, as_of: date, *, summaries_on: bool) -> dict[str, str]:
    con = duckdb.connect()
    try:
        attach_lake(con, Layout(root), date_params(as_of, Settings()) if summaries_on else None)
        tables = build_tables(con, as_of=as_of, settings=Settings(),
                              segmented_at=datetime(2025, 1, 1, 6, 0),
                              timer=StageTimer(lambda _m: None))
    finally:
        con.close()
    return {name: content_hash(name, frame) for name, frame in tables.items()}


def _models(root: Path, as_of: date, *, summaries_on: bool) -> dict[str, pl.DataFrame]:
    params = date_params(as_of, Settings())
    con = duckdb.connect()
    try:
        attach_lake(con, Layout(root), params if summaries_on else None)
        activity = run_model(con, "customer_activity", params)
        con.execute("CREATE TABLE calendar_months AS SELECT CAST(range AS DATE) AS month "
                    "FROM range(DATE '2023-11-01', DATE '2025-01-01', INTERVAL 1 MONTH)")
        return {"customer_activity": activity,
                "metric_mom_spend_change": run_model(con, "metric_mom_spend_change", params)}
    finally:
        con.close()


EDGE_DATES = [date(2024, 2, 29), date(2023, 11, 1), date(2023, 11, 30), date(2024, 12, 1),
              date(2024, 12, 31), date(2024, 3, 1), date(2024, 5, 31), date(2024, 8, 1)]
"""Leap day, the first and last month of the lake (their first and last days), month ends and
month starts (where a window boundary falls on a month edge)."""


def _seeded_dates(n: int) -> list[date]:
    rng = random.Random(20261202)
    first = date(2023, 11, 1)
    return [first + timedelta(days=rng.randrange((LAKE_END - first).days + 1)) for _ in range(n)]


@pytest.mark.parametrize("as_of", [date(2024, 2, 29), date(2024, 12, 31), date(2023, 11, 30),
                                   *_seeded_dates(2)], ids=str)
def test_every_published_table_has_the_raw_paths_content_hash(lake: Path, as_of: date) -> None:
    summary = _tables(lake, as_of, summaries_on=True)
    raw = _tables(lake, as_of, summaries_on=False)
    assert summary.keys() == raw.keys() and len(raw) >= 12
    assert {k: v for k, v in summary.items() if raw[k] != v} == {}


def test_lake_reading_models_are_identical_on_many_dates(lake: Path) -> None:
    """customer_activity and MoM are the only models whose input differs between the paths;
    compare them (values and types) on edge dates and seeded random dates."""
    for as_of in EDGE_DATES + _seeded_dates(14):
        summary = _models(lake, as_of, summaries_on=True)
        raw = _models(lake, as_of, summaries_on=False)
        for name, frame in raw.items():
            assert frame.height > 0, (as_of, name)
            assert frame.schema == summary[name].schema, (as_of, name)
            assert content_hash(name, summary[name]) == content_hash(name, frame), (as_of, name)


def test_summary_rows_hold_exact_cents_and_lists(lake: Path) -> None:
    layout = Layout(lake)
    summaries.refresh(layout)
    feb = pl.read_parquet(summaries.summary_file(layout, "2024-02")).filter(
        pl.col("customer_id") == "CUST00000001").row(0, named=True)
    assert {900_000_000, 1} <= set(feb["amounts"]) and feb["last_date"] == date(2024, 2, 29)
    assert feb["sum_c"] == sum(feb["amounts"]) and feb["n_approved"] == len(feb["amounts"])
    assert feb["sum_sq_c"] == sum(a * a for a in feb["amounts"])
    assert (feb["min_c"], feb["max_c"]) == (1, 900_000_000)
    jun = pl.read_parquet(summaries.summary_file(layout, "2024-06"))
    assert jun["amounts"].dtype == pl.List(pl.Int32)
    declined = jun.filter(pl.col("customer_id") == "DECLINED_ONLY").row(0, named=True)
    assert (declined["n_all"], declined["n_approved"], declined["sum_c"]) == (1, 0, 0)
    assert declined["amounts"] is None and declined["first_date"] is None


def test_amounts_beyond_integer_cents_are_kept_as_bigint_lists(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_parquet_atomic(pl.DataFrame([tx("A", date(2024, 1, 2), "30000000.00"),
                                       tx("A", date(2024, 1, 3), "-0.01")],
                                      schema=TRANSACTIONS, orient="row"),
                         layout.partition_file("2024-01"))
    assert summaries.refresh(layout) == ["2024-01"]
    row = pl.read_parquet(summaries.summary_file(layout, "2024-01"))
    assert row["amounts"].dtype == pl.List(pl.Int64)
    assert sorted(row["amounts"][0].to_list()) == [-1, 3_000_000_000]


def test_window_boundaries_cut_exactly_the_months_they_fall_inside() -> None:
    # as_of 2025-10-31 (default 365-day analysis period): last90_start 08-02, prior90 05-04 ..
    # 08-01, period_start 2024-11-01 (a month start: cuts nothing), S = 08-02 (outcome window
    # from 08-03), s_last90_start 05-04, s_prior90 02-03 .. 05-03, recent_start 09-02,
    # baseline_start 05-05; as_of is a month end, so October is read from its summary.
    assert cut_months(date_params(date(2025, 10, 31), Settings())) == {
        "2025-02", "2025-05", "2025-08", "2025-09"}
    assert "2024-02" in cut_months(date_params(date(2024, 2, 28), Settings()))
    assert "2025-10" in cut_months(date_params(date(2025, 10, 30), Settings()))


def _state(layout: Layout) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in summaries.summaries_dir(layout).glob("month=*.parquet")}


def test_a_stale_summary_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    root = tmp_path / "data"
    layout = Layout(root)
    rows = [tx("A", date(2024, 1, 10), "10.00"), tx("A", date(2024, 2, 10), "20.00"),
            tx("B", date(2024, 2, 11), "5.00")]
    frame = pl.DataFrame(rows, schema=TRANSACTIONS, orient="row")
    for month in ("2024-01", "2024-02"):
        write_parquet_atomic(frame.filter(pl.col("transaction_date").dt.month() == int(month[-1])),
                             layout.partition_file(month))
    assert summaries.refresh(layout) == ["2024-01", "2024-02"]
    assert summaries.refresh(layout) == []
    copied = Layout(shutil.copytree(root, tmp_path / "copied"))  # like `cp -a` of the data dir
    assert summaries.refresh(copied) == []
    # January is rewritten behind the summaries' back (same size: only the amount changes)
    write_parquet_atomic(frame.head(1).with_columns(
        pl.lit(99).cast(TRANSACTIONS["transaction_amount"]).alias("transaction_amount")),
        layout.partition_file("2024-01"))
    assert not summaries.is_fresh(layout, "2024-01") and summaries.is_fresh(layout, "2024-02")
    summaries.summary_file(layout, "2024-02").write_bytes(b"not parquet")  # corrupt
    as_of = date(2024, 2, 29)
    summary = _models(root, as_of, summaries_on=True)["customer_activity"]
    raw = _models(root, as_of, summaries_on=False)["customer_activity"]
    assert summary.equals(raw)
    assert summary.filter(pl.col("customer_id") == "A")["lifetime_value"].cast(
        pl.Float64).item() == 119.0
    assert summaries.is_fresh(layout, "2024-01") and summaries.is_fresh(layout, "2024-02")
    layout.partition_file("2024-01").unlink()
    summaries.refresh(layout)  # a summary without its partition is removed
    assert not summaries.summary_file(layout, "2024-01").exists()


def test_daily_cycle_rebuilds_only_the_month_that_changed(invoke, data_dir: Path,
                                                          tmp_path: Path) -> None:
    assert invoke("generate", "--customers", "40", "--months", "6",
                  "--end", "2025-10-30").exit_code == 0
    layout = Layout(data_dir)
    before = _state(layout)
    assert len(before) == 6 and all(summaries.is_fresh(layout, m)
                                    for m in summaries.partition_months(layout))
    day = tmp_path / "day.csv"
    day.write_text("transaction_id,customer_id,transaction_date,transaction_amount,"
                   "merchant_name,merchant_category,channel,status\n"
                   "NEW1,CUST00000001,2025-10-31,42.00,Acme,Grocery,Online,approved\n"
                   "NEW2,CUST00000002,2025-10-31,7.50,Jet,Airlines,Mobile,approved\n")
    result = invoke("ingest", day)
    assert result.exit_code == 0, result.stderr
    after = _state(layout)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"month=2025-10.parquet"}
    assert summaries.is_fresh(layout, "2025-10")
    run = invoke("-v", "run", "--as-of", "2025-10-31")
    assert run.exit_code == 0, run.stderr
    assert _state(layout) == after  # the run reused every summary
    manifest = json.loads(next(layout.runs_dir.glob("2025-10-31_*.json")).read_text())
    stage = {s["stage"]: s for s in manifest["stages"]}["month_summaries"]
    # whole months from summaries: 06, 07 and 10 (10-31 is a month end); 05, 08, 09 are cut
    assert stage["rows"] == 3
    raw = invoke("run", "--as-of", "2025-10-31", "--no-summaries")
    assert raw.exit_code == 0, raw.stderr
    manifests = sorted(layout.runs_dir.glob("2025-10-31_*.json"))
    hashes = [{t: o["content_hash"] for t, o in json.loads(p.read_text())["outputs"].items()}
              for p in manifests]
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert "month_summaries" not in {s["stage"] for s in json.loads(
        manifests[1].read_text())["stages"]}
    assert set(os.listdir(summaries.summaries_dir(layout))) == {
        f"month={m}.parquet" for m in summaries.partition_months(layout)}
