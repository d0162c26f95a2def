"""Chart builders (present/charts.py): pure frames in, figures out; exact data in the traces."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from segengine.present import charts


def test_bins_have_round_edges_count_every_value_and_put_the_tail_in_one_open_bin() -> None:
    values = pl.Series([3.0, 7.0, 12.0, 19.99, 20.0, 5000.0])
    bins = charts.histogram_bins(values, count=4, cap_quantile=0.8)  # cap = 20.0
    assert bins.rows() == [(0.0, 5.0, 1, False), (5.0, 10.0, 1, False), (10.0, 15.0, 1, False),
                           (15.0, 20.0, 2, False), (20.0, 5000.0, 1, True)]
    assert bins["customers"].sum() == values.len()


def test_bins_of_decimals_and_of_one_repeated_value() -> None:
    money = pl.Series([Decimal("10.00"), Decimal("10.00"), None], dtype=pl.Decimal(18, 2))
    assert charts.histogram_bins(money).rows() == [(10.0, 11.0, 2, False)]
    assert charts.histogram_bins(pl.Series([], dtype=pl.Float64)).is_empty()


@pytest.mark.parametrize(("span", "count", "width"), [
    (100, 20, 5), (284922, 30, 10000), (1, 30, 0.05), (7, 30, 0.25), (0, 30, 1.0)])
def test_bin_width_is_one_two_two_and_a_half_or_five_times_a_power_of_ten(
        span: float, count: int, width: float) -> None:
    assert charts.nice_width(span, count) == pytest.approx(width)


def test_migration_heatmap_shows_counts_and_row_percentages_on_labelled_axes() -> None:
    moves = pl.DataFrame({"from_segment": ["Declining", "Declining", "Budget-Conscious"],
                          "to_segment": ["Declining", "Stable Mid-Spenders", "Declining"],
                          "customers": [3, 1, 2]})
    fig = charts.migration_heatmap(moves, from_date="2025-09-30", to_date="2025-10-31")
    heat = fig.data[0]
    assert list(heat.y) == ["Declining", "Budget-Conscious"]  # rule order
    assert list(heat.x) == ["Declining", "Stable Mid-Spenders"]
    assert [list(r) for r in heat.z] == [[75.0, 25.0], [100.0, 0.0]]
    assert heat.text[0][0] == "3<br>75.0%" and heat.text[1][1] == "0<br>0.0%"
    assert fig.layout.yaxis.title.text == "segment on 2025-09-30 (from)"
    assert fig.layout.xaxis.title.text == "segment on 2025-10-31 (to)"
    sankey = charts.migration_sankey(moves, from_date="a", to_date="b").data[0]
    assert list(sankey.link.value) == [3, 1, 2]


def test_rf_heatmap_puts_the_best_recency_on_top_and_fills_empty_cells_with_zero() -> None:
    counts = pl.DataFrame({"r_score": [5, 1], "f_score": [5, 2], "customers": [7, 4]})
    heat = charts.rf_heatmap(counts).data[0]
    assert list(heat.y) == ["R5", "R4", "R3", "R2", "R1"] and list(heat.x)[0] == "F1"
    assert heat.z[0][4] == 7 and heat.z[4][1] == 4 and sum(map(sum, heat.z)) == 11


def test_segment_chart_shows_counts_with_shares_and_total_value() -> None:
    summary = pl.DataFrame({
        "customer_segment": ["Declining", "Budget-Conscious"], "customers": [5, 15],
        "pct_customers": [25.0, 75.0],
        "total_lifetime_value": [Decimal("22500.00"), Decimal("4050.00")],
        "avg_lifetime_value": [Decimal("4500.00"), Decimal("270.00")]})
    fig = charts.segment_sizes(summary)
    assert list(fig.data[0].text) == ["5 (25.0%)", "15 (75.0%)"]
    assert list(fig.data[1].x) == [22500.0, 4050.0]
    assert list(fig.data[1].customdata) == ["$4,500.00", "$270.00"]


def test_mom_trend_bars_are_shares_of_each_month() -> None:
    from datetime import date

    counts = pl.DataFrame({"month": [date(2025, 9, 1)] * 2 + [date(2025, 10, 1)],
                           "mom_trend_category": ["Growth", "Flat", "Growth"],
                           "customers": [1, 3, 2]})
    bars = {b.name: list(b.y) for b in charts.mom_trend(counts).data}
    assert bars["Growth"] == [25.0, 100.0] and bars["Flat"] == [75.0, 0.0]


def test_report_draws_roc_and_calibration_when_the_run_publishes_the_curves() -> None:
    from datetime import date

    from segengine.present import webreport

    empty = pl.DataFrame({"r_score": [5], "f_score": [5], "customers": [1]})
    data = webreport.ReportData(
        as_of=date(2025, 10, 31), manifest={}, headline={
            "customers": 1, "total_lifetime_value": Decimal("1.00"),
            "avg_lifetime_value": Decimal("1.00"), "total_spend_last_90_days": Decimal("1.00"),
            "active_30_days": 1, "high_churn_risk": 0},
        segments=pl.DataFrame({"customer_segment": ["Declining"], "customers": [1],
                               "pct_customers": [100.0],
                               "total_lifetime_value": [Decimal("1.00")],
                               "avg_lifetime_value": [Decimal("1.00")],
                               "total_spend_last_90_days": [Decimal("1.00")]}),
        reasons=pl.DataFrame({"customer_segment": ["Declining"], "customer_id": ["a"],
                              "segment_reason": ["x"]}),
        migration=None, rf_counts=empty,
        rfm_summary=pl.DataFrame({"segment": ["Lost"], "pct_customers": [100.0],
                                  "pct_revenue": [100.0]}),
        clusters=pl.DataFrame({"cluster_name": ["c"], "customers": [1], "avg_recency": [1.0],
                               "avg_monetary": [1.0], "pct_revenue": [100.0]}),
        mom=pl.DataFrame({"month": [date(2025, 10, 1)], "mom_trend_category": ["Flat"],
                          "customers": [1]}),
        ltv_bins=charts.histogram_bins(pl.Series([1.0])),
        atv_bins=charts.histogram_bins(pl.Series([1.0])),
        churn_report=pl.DataFrame({"metric": ["trained", "auc"], "value": [1.0, 0.8125],
                                   "detail": [None, "held-out ROC AUC"]}),
        churn_bands=pl.DataFrame({"churn_risk_category": ["Low Risk"], "customers": [1],
                                  "avg_lifetime_value": [Decimal("1.00")]}),
        churn_score_bins=charts.histogram_bins(pl.Series([10.0])),
        churn_curves={"roc": pl.DataFrame({"false_positive_rate": [0.0, 0.5, 1.0],
                                           "true_positive_rate": [0.0, 0.9, 1.0]}),
                      "calibration": pl.DataFrame({"mean_predicted": [0.1, 0.8],
                                                   "observed_rate": [0.2, 0.7],
                                                   "customers": [10, 5]})})
    text = webreport.render(data)
    assert 'id="chart-roc"' in text and 'id="chart-calibration"' in text
    assert "model (AUC 0.813)" in text and ">0.813</div><div class=label>AUC" in text


def test_migration_labels_round_half_up_like_the_console() -> None:
    moves = pl.DataFrame({"from_segment": ["Declining", "Declining"],
                          "to_segment": ["Declining", "Stable Mid-Spenders"],
                          "customers": [1, 399]})
    heat = charts.migration_heatmap(moves, from_date="a", to_date="b").data[0]
    assert heat.text[0][0] == "1<br>0.3%"  # 0.25% exactly; a float format gives 0.2%
