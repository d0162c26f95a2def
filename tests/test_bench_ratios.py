"""The §12 ratio table of benchmarks/run_bench.py on hand-made timings (no benchmark is run)."""

from __future__ import annotations

import pytest
from benchmarks.bench_ratios import (
    NOT_MEASURED,
    NOT_SUPPORTED,
    format_table,
    median,
    medians_of,
    table_rows,
    target_values,
)


def by_key(rows: list[dict], scale: str = "1") -> dict[str, dict]:
    return {r["key"]: r for r in rows if r["scale"] == scale}


def test_medians_are_per_quantity_and_a_failed_repetition_is_not_hidden() -> None:
    got = medians_of({"run_s": [9.0, 12.0, 10.0], "dbt_s": [5.0, 4.0], "pandas_s": [],
                      "backfill_s": [30.0, None, 31.0]})
    assert got == {"run_s": 10.0, "dbt_s": 4.5, "pandas_s": None, "backfill_s": None}
    assert median([3.0, 1.0, 2.0, 100.0]) == 2.5


def test_ratios_are_peer_over_segengine_and_the_goal_direction_decides() -> None:
    m = {"run_s": 10.0, "dbt_s": 12.0, "pandas_s": 40.0, "cycle_s": 4.0,
         "no_summaries_s": 10.0, "backfill_s": 45.0, "run_rss_bytes": 0.9e9, "generate_s": 7.0}
    rows = by_key(table_rows({"1": target_values("1", m)}))
    assert rows["full_vs_dbt"]["value"] == pytest.approx(1.2)
    assert rows["full_vs_dbt"]["verdict"] == "PASS"  # >= 1.0
    assert rows["full_vs_pandas"]["value"] == pytest.approx(4.0)
    assert rows["full_vs_pandas"]["verdict"] == "MISS"  # >= 5: 4x is short
    assert rows["daily_cycle"]["value"] == pytest.approx(0.4)
    assert rows["daily_cycle"]["verdict"] == "PASS"  # <= 0.5
    assert rows["backfill"]["value"] == pytest.approx(4.5)
    assert rows["backfill"]["verdict"] == "MISS"  # <= 4
    assert rows["peak_rss"]["value"] == pytest.approx(0.9)
    assert rows["peak_rss"]["verdict"] == "PASS"
    assert rows["generate"]["verdict"] == "PASS"


def test_goals_are_inclusive_at_the_boundary() -> None:
    m = {"run_s": 10.0, "dbt_s": 10.0, "pandas_s": 50.0, "cycle_s": 5.0,
         "no_summaries_s": 10.0, "backfill_s": 40.0, "run_rss_bytes": 1.0e9,
         "generate_s": 10.0}
    rows = table_rows({"1": target_values("1", m)})
    assert {r["verdict"] for r in rows} == {"PASS"}


def test_peak_rss_is_in_decimal_gigabytes() -> None:
    # 1,000 MiB is 1.048 GB: over the 1.0 GB goal
    m = {"run_rss_bytes": 1000 * 2**20}
    rows = by_key(table_rows({"1": target_values("1", m)}))
    assert rows["peak_rss"]["value"] == pytest.approx(1.048576)
    assert rows["peak_rss"]["verdict"] == "MISS"


def test_unsupported_option_shows_not_supported_and_no_verdict() -> None:
    m = {"run_s": 10.0, "cycle_s": 11.0}  # no run --no-summaries in this build
    rows = by_key(table_rows({"1": target_values("1", m)},
                             {"1": {"daily_cycle": NOT_SUPPORTED, "backfill": NOT_SUPPORTED}}))
    assert rows["daily_cycle"]["shown"] == "n/a (not supported by this build)"
    assert rows["daily_cycle"]["verdict"] == "n/a"
    assert rows["backfill"]["shown"] == NOT_SUPPORTED
    assert rows["full_vs_dbt"]["shown"] == NOT_MEASURED  # baseline skipped
    assert rows["full_vs_dbt"]["verdict"] == "n/a"


def test_ten_x_rows_use_the_one_x_run_as_the_base_and_their_own_goals() -> None:
    one = {"run_s": 8.0}
    ten = {"run_s": 84.0, "run_rss_bytes": 4.2e9, "cycle_s": 6.0, "no_summaries_s": 30.0}
    values = {"1": target_values("1", one), "10": target_values("10", ten, one)}
    rows = table_rows(values)
    ten_rows = by_key(rows, "10")
    assert ten_rows["scale_time"]["value"] == pytest.approx(10.5)
    assert ten_rows["scale_time"]["verdict"] == "MISS"  # <= 10x
    assert ten_rows["peak_rss"]["verdict"] == "MISS"  # <= 4 GB
    assert ten_rows["daily_cycle"]["value"] == pytest.approx(0.2)
    assert ten_rows["daily_cycle"]["verdict"] == "PASS"  # <= 0.3 at 10x (0.5 only at 1x)
    # every 1x row comes before every 10x row, one row per target
    assert [r["scale"] for r in rows] == ["1"] * 6 + ["10"] * 3


def test_only_measured_scales_are_printed_and_the_table_is_markdown() -> None:
    rows = table_rows({"1": target_values("1", {"run_s": 10.0, "dbt_s": 5.0})})
    assert all(r["scale"] == "1" for r in rows)
    text = format_table(rows)
    assert text.splitlines()[0] == "| scale | target | measured | goal | verdict |"
    assert "| 1x | full run vs dbt-on-DuckDB (dbt s / segengine s) | 0.50x | >= 1x | MISS |" \
        in text.splitlines()


def _bench_module(name: str):  # the scripts import their siblings as top-level modules
    import importlib
    import sys
    from pathlib import Path

    folder = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def test_backfill_covers_twelve_month_ends_up_to_the_lake_end() -> None:
    from datetime import date

    month_ends_back = _bench_module("run_bench").month_ends_back
    assert month_ends_back(date(2025, 10, 31), 12) == (date(2024, 11, 30), date(2025, 10, 31))
    # a lake ending mid-month: the last month end before it
    assert month_ends_back(date(2025, 3, 15), 12) == (date(2024, 3, 31), date(2025, 2, 28))
    assert month_ends_back(date(2024, 12, 31), 12) == (date(2024, 1, 31), date(2024, 12, 31))


def test_cpu_of_overlapping_stages_is_shared_and_adds_up_to_the_total() -> None:
    attribute = _bench_module("cpu_budget").attribute
    # (seconds since start, cumulative CPU-s): 1 CPU-s per second, 2 while two stages overlap
    samples = [(0.0, 0.0), (1.0, 1.0), (2.0, 3.0), (3.0, 5.0), (4.0, 6.0), (5.0, 7.0)]
    spans = {"activity": (1.0, 3.0), "mom": (2.0, 3.0)}
    got = attribute(samples, spans, total_cpu=7.5)
    assert got["startup_imports_attach"] == 1.0
    assert got["activity"] == 2.0 + 1.0  # alone in [1, 2), half of [2, 3)
    assert got["mom"] == 1.0
    assert got["publish_and_exit"] == 2.0 + 0.5  # after the last stage, plus after sampling
    assert sum(got.values()) == 7.5
