"""ROC and calibration points of held-out churn predictions (run/churn_curves.py): by hand, as
the published churn_model_curves table, and in the report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from tests.frames import AS_OF, write_lake
from tests.published import published  # noqa: F401 - fixture
from tests.test_churn import synthetic_population

from segengine.config import load_settings
from segengine.lake.layout import Layout
from segengine.present import webreport
from segengine.run import insights
from segengine.run.churn_curves import SORT_KEY, churn_model_curves, held_out_curves
from segengine.run.pipeline import run_pipeline
from segengine.run.results import open_results


def test_roc_steps_through_each_distinct_probability() -> None:
    # sorted by probability: 0.9 (churned), 0.7 (kept), 0.7 (churned), 0.2 (kept)
    out = churn_model_curves(np.array([0.2, 0.7, 0.9, 0.7]), np.array([0, 0, 1, 1]))
    roc = out.filter(out["curve"] == "roc")
    # thresholds 0.9, 0.7, 0.2: (FPR, TPR) = (0, 1/2), (1/2, 1), (1, 1) after (0, 0)
    assert list(zip(roc["x"], roc["y"], strict=True)) == [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0),
                                                          (1.0, 1.0)]


def test_calibration_bins_hold_mean_prediction_observed_rate_and_size() -> None:
    out = churn_model_curves(np.array([0.05, 0.15, 0.12, 0.95, 1.0]),
                             np.array([0, 1, 0, 1, 1]), bins=10)
    cal = out.filter(out["curve"] == "calibration")
    assert cal.select("x", "y", "customers").rows() == [
        (0.05, 0.0, 1), (0.135, 0.5, 2), (0.975, 1.0, 2)]  # 1.0 falls in the last bin


def test_one_class_gives_no_curves() -> None:
    assert churn_model_curves(np.array([0.1, 0.2]), np.array([0, 0])).is_empty()


def test_the_published_table_is_ordered_by_curve_x_y_and_dated() -> None:
    held_out = pl.DataFrame({"churn_probability": [0.2, 0.7, 0.9, 0.7],
                             "churned": [False, False, True, True]})
    out = held_out_curves(held_out, as_of=date(2025, 10, 31))
    assert out.schema == pl.Schema({"curve": pl.String, "x": pl.Float64, "y": pl.Float64,
                                    "customers": pl.Int64, "as_of_date": pl.Date})
    assert out.drop("as_of_date").rows() == [
        ("calibration", 0.2, 0.0, 1), ("calibration", 0.7, 0.5, 2), ("calibration", 0.9, 1.0, 1),
        ("roc", 0.0, 0.0, None), ("roc", 0.0, 0.5, None), ("roc", 0.5, 1.0, None),
        ("roc", 1.0, 1.0, None)]
    assert out["as_of_date"].unique().to_list() == [date(2025, 10, 31)]
    assert out.select(SORT_KEY).is_unique().all()


def test_no_held_out_customers_publish_an_empty_table_with_its_columns() -> None:
    out = held_out_curves(pl.DataFrame(schema={"churn_probability": pl.Float64,
                                               "churned": pl.Boolean}), as_of=date(2025, 10, 31))
    assert out.is_empty() and out.columns == ["curve", "x", "y", "customers", "as_of_date"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run over the churn tests' synthetic population (600 labelled customers: trained)."""
    root = write_lake(tmp_path_factory.mktemp("curves") / "data", synthetic_population().rows())
    run_pipeline(load_settings({"paths.data_dir": str(root)}, environ={}), as_of=AS_OF)
    return root


def _read(root: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def test_a_run_publishes_the_held_out_curves_with_the_reported_auc(trained_run: Path) -> None:
    curves = _read(trained_run, "SELECT * FROM churn_model_curves")
    report = dict(_read(trained_run, "SELECT metric, value FROM churn_model_report").rows())
    assert report["trained"] == 1.0
    assert curves.equals(curves.sort(SORT_KEY))  # published in key order
    assert curves["as_of_date"].unique().to_list() == [AS_OF]
    roc = curves.filter(pl.col("curve") == "roc")
    assert roc.row(0)[1:3] == (0.0, 0.0) and roc.row(-1)[1:3] == (1.0, 1.0)
    area = float(np.trapezoid(roc["y"].to_numpy(), roc["x"].to_numpy()))
    assert area == pytest.approx(report["auc"], abs=1e-12)
    calibration = curves.filter(pl.col("curve") == "calibration")
    assert calibration["customers"].sum() == report["test_customers"]
    out = pl.read_parquet(Layout(trained_run).out_dir(AS_OF) / "churn_model_curves.parquet")
    assert out.equals(curves)


def test_the_report_of_a_trained_run_draws_roc_and_calibration(trained_run: Path) -> None:
    with open_results(Layout(trained_run)) as r:
        text = webreport.render(webreport.collect(r))
    assert 'id="chart-roc"' in text and 'id="chart-calibration"' in text
    assert "model (AUC " in text


def test_the_report_of_an_untrained_run_has_no_curves_and_still_renders(
        published: Path) -> None:  # noqa: F811 - fixture
    assert _read(published, "SELECT COUNT(*) AS n FROM churn_model_curves")["n"].item() == 0
    with open_results(Layout(published)) as r:
        assert insights.churn_curves(r) == {}
        text = webreport.render(webreport.collect(r))
    assert 'id="chart-churn-bands"' in text and 'id="chart-roc"' not in text
