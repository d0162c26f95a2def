"""Backfill: `segengine run --as-of A..B --every month-end` on a small generated lake equals
separate runs, fills the history, leaves the newest date current, and refuses bad ranges
before computing anything."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner, Result

from segengine.cli import cli
from segengine.config import load_settings
from segengine.errors import ConfigError, QualityError
from segengine.lake.layout import Layout
from segengine.run import pipeline, recover
from segengine.run.backfill import month_ends, parse_as_of

DATES = [date(2025, 8, 31), date(2025, 9, 30), date(2025, 10, 31)]


def segengine(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(root), *args])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backfill") / "lake"
    result = segengine(root, "generate", "--customers", "300", "--months", "7", "--end",
                       "2025-10-31", "--seed", "7")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def lake(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "data", symlinks=True))


def manifests(root: Path) -> dict[str, dict[str, Any]]:
    """as_of -> manifest of every run of the data directory."""
    found = [json.loads(p.read_text()) for p in (root / "runs").glob("*.json")]
    return {m["as_of"]: m for m in found}


def hashes(manifest: dict[str, Any]) -> dict[str, str]:
    return {name: out["content_hash"] for name, out in manifest["outputs"].items()}


def test_backfill_equals_separate_runs_and_fills_the_history(lake: Path, tmp_path: Path) -> None:
    separate = Path(shutil.copytree(lake, tmp_path / "separate", symlinks=True))
    for d in DATES:
        assert segengine(separate, "run", "--as-of", d.isoformat()).exit_code == 0
    result = segengine(lake, "run", "--as-of", "2025-08-15..2025-10-31", "--every", "month-end")
    assert result.exit_code == 0, result.output
    assert "[3/3] published 2025-10-31" in result.stderr
    one, many = manifests(separate), manifests(lake)
    assert sorted(many) == [d.isoformat() for d in DATES]
    for day in many:
        assert hashes(many[day]) == hashes(one[day]), day
        assert len(hashes(many[day])) >= 12
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        history = con.sql("SELECT as_of_date, count(*) FROM customer_segments_history "
                          "GROUP BY 1 ORDER BY 1").fetchall()
        current = con.sql("SELECT DISTINCT as_of_date FROM customer_segments").fetchall()
        both = con.sql("SELECT count(*) FROM customer_segments_history a JOIN "
                       "customer_segments_history b USING (customer_id) WHERE a.as_of_date = "
                       "DATE '2025-09-30' AND b.as_of_date = DATE '2025-10-31'").fetchall()[0][0]
    finally:
        con.close()
    assert [h[0] for h in history] == DATES
    assert [h[1] for h in history] == [many[d.isoformat()]["outputs"]["customer_segments"]["rows"]
                                       for d in DATES]
    assert current == [(DATES[-1],)]  # the newest date is the current run
    assert recover.published_run(Layout(lake)).as_of == DATES[-1]
    moved = segengine(lake, "migration", "--format", "csv")  # default: the last two dates
    assert moved.exit_code == 0, moved.output
    rows = [line.split(",") for line in moved.stdout.splitlines()[1:]]
    assert sum(int(r[2]) for r in rows) == both > 0
    matrix = segengine(lake, "migration")
    assert "segment on 2025-09-30 (from)" in matrix.stdout
    assert "segment on 2025-10-31 (to)" in matrix.stdout
    earliest = segengine(lake, "migration", "--from", "2025-08-31", "--to", "2025-09-30")
    assert earliest.exit_code == 0, earliest.output


def test_repeated_as_of_runs_oldest_first(lake: Path) -> None:
    result = segengine(lake, "run", "--as-of", "2025-10-31", "--as-of", "2025-09-15",
                       "--as-of", "2025-10-31")
    assert result.exit_code == 0, result.output
    runs = sorted(manifests(lake).values(), key=lambda m: m["finished_at"])
    assert [m["as_of"] for m in runs] == ["2025-09-15", "2025-10-31"]
    assert recover.published_run(Layout(lake)).as_of == date(2025, 10, 31)


def test_each_warning_of_a_backfill_names_its_date(lake: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # every segment holds less than 99% of customers, so every date warns for each segment
    monkeypatch.setenv("SEGENGINE_QUALITY__MIN_SEGMENT_PCT", "99")
    result = segengine(lake, "run", "--as-of", "2025-09-30..2025-10-31", "--every", "month-end")
    assert result.exit_code == 0, result.output
    warnings = [line.strip() for line in result.output.splitlines() if "warning:" in line]
    for day in ("2025-09-30", "2025-10-31"):
        assert sum(w.startswith(f"{day} warning: segment ") for w in warnings) == 5, warnings
    assert len(warnings) == 10, warnings


def test_a_failure_part_way_keeps_the_earlier_dates_and_names_the_failed_one(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline.build_tables

    def corrupt_september(*args: Any, **kwargs: Any) -> dict[str, Any]:
        tables = real(*args, **kwargs)
        if kwargs["as_of"] == DATES[1]:  # a segment label its rule does not hold for
            seg = tables["customer_segments"]
            first = seg.row(0, named=True)
            label = "Declining" if first["customer_segment"] != "Declining" else "Dormant"
            tables["customer_segments"] = seg.with_columns(
                pl.when(pl.col("customer_id") == first["customer_id"]).then(pl.lit(label))
                .otherwise(pl.col("customer_segment")).alias("customer_segment"))
        return tables

    monkeypatch.setattr(pipeline, "build_tables", corrupt_september)
    with pytest.raises(QualityError, match=r"backfill stopped at 2025-09-30 \(date 2 of 3\).*"
                       r"quality gate failed.*2025-08-31\.\.2025-08-31 are published"):
        pipeline.run_dates(load_settings({"paths.data_dir": str(lake)}, environ={}), DATES)
    assert sorted(manifests(lake)) == ["2025-08-31"]
    assert sorted(p.name for p in (lake / "out").iterdir() if not p.name.startswith(".")) == [
        "2025-08-31"]
    assert recover.published_run(Layout(lake)).as_of == DATES[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--as-of", "2025-10-31..2025-08-31", "--every", "month-end"], "starts after it ends"),
    (["--as-of", "2025-08-31...2025-10-31", "--every", "month-end"], "is not a range"),
    (["--as-of", "2025-08-31..2025-13-31", "--every", "month-end"], "is not a date"),
    (["--as-of", "2025-08-31..2025-10-31"], "say which dates in it with --every month-end"),
    (["--as-of", "2025-09-01..2025-09-29", "--every", "month-end"], "holds no month-end"),
    (["--as-of", "2025-08-31..2025-12-31", "--every", "month-end"],
     "2 of the 5 as-of dates are after the last transaction.*2025-11-30, 2025-12-31"),
    (["--as-of", "2025-08-31", "--every", "month-end"], "needs exactly one --as-of range"),
    (["--as-of", "2025-08-31", "--as-of", "2025-09-30", "--engine", "snowflake"],
     "one --as-of date at a time"),
])
def test_bad_ranges_are_user_errors_before_any_compute(lake: Path, args: list[str],
                                                       message: str) -> None:
    result = segengine(lake, "run", *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert re.search(message, result.output.replace("\n", " ")), result.output
    assert not (lake / "runs").exists() or not list((lake / "runs").glob("*.json"))
    assert not (lake / "warehouse.duckdb").exists()


def test_month_ends_and_parsing() -> None:
    assert month_ends(date(2024, 1, 31), date(2024, 4, 29)) == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    assert month_ends(date(2023, 12, 1), date(2024, 1, 30)) == [date(2023, 12, 31)]
    assert month_ends(date(2024, 2, 29), date(2024, 2, 29)) == [date(2024, 2, 29)]
    assert len(month_ends(date(2024, 11, 30), date(2025, 10, 31))) == 12
    assert parse_as_of([], None) == []
    assert parse_as_of(["2025-03-05", "2025-01-02", "2025-03-05"], None) == [
        date(2025, 1, 2), date(2025, 3, 5)]
    assert parse_as_of([" 2025-01-15 .. 2025-03-31 "], "month-end") == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)]
    with pytest.raises(ConfigError, match="not supported"):
        parse_as_of(["2025-01-01..2025-02-01"], "week-end")
