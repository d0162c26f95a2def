"""Hero metrics (§5.2-5.4): LTV, dense month-over-month change, average transaction value."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from tests.frames import AS_OF, compute, row, tx

D = timedelta


def test_ltv_age_and_spend_per_day() -> None:
    t = compute([tx("A", date(2025, 10, 1), "100.00"), tx("A", date(2025, 10, 31), "200.00"),
                 tx("B", AS_OF, "50.00")])
    a, b = row(t, "metric_customer_ltv", "A"), row(t, "metric_customer_ltv", "B")
    assert (a["lifetime_value"], a["customer_age_days"]) == (Decimal("300.00"), 30)
    assert a["avg_spend_per_day"] == Decimal("10.00")
    assert (b["customer_age_days"], b["avg_spend_per_day"]) == (0, None)
    assert a["metric_calculated_date"] == AS_OF


def _mom(t: dict[str, pl.DataFrame], cid: str) -> pl.DataFrame:
    return t["metric_mom_spend_change"].filter(pl.col("customer_id") == cid).sort("month")


def test_mom_months_are_dense_from_first_month_to_as_of_month() -> None:
    rows = [tx("A", date(2025, 6, 10), "100.00"), tx("A", date(2025, 6, 20), "50.00"),
            tx("A", date(2025, 9, 1), "300.00"),
            tx("A", date(2025, 9, 2), "9.00", status="declined")]
    m = _mom(compute(rows), "A")
    assert m.get_column("month").to_list() == [date(2025, mo, 1) for mo in range(6, 11)]
    assert m.get_column("month_number").to_list() == [1, 2, 3, 4, 5]
    assert m.get_column("monthly_spend").cast(pl.Float64).to_list() == [150, 0, 0, 300, 0]
    assert m.get_column("transaction_count").to_list() == [2, 0, 0, 1, 0]
    assert m.get_column("prior_month_spend").cast(pl.Float64).to_list() == [None, 150, 0, 0, 300]
    # NULL pct when prior is NULL (first month) or 0
    assert m.get_column("mom_change_pct").cast(pl.Float64).to_list() == [None, -100, None, None,
                                                                         -100]


def test_mom_trend_categories_at_their_edges() -> None:
    # prior month 100.00 each time: +25 High Growth, +5 Growth, -4.99 Flat, -5 Decline,
    # -24.99 Decline, -25 High Decline, +24.99 Growth, +4.99 Flat
    cases = {"HG": ("125.00", "High Growth"), "G": ("105.00", "Growth"),
             "F": ("95.01", "Flat"), "D5": ("95.00", "Decline"), "D": ("75.01", "Decline"),
             "HD": ("75.00", "High Decline"), "G2": ("124.99", "Growth"),
             "F2": ("104.99", "Flat")}
    rows = []
    for cid, (amount, _) in cases.items():
        rows += [tx(cid, date(2025, 8, 15), "100.00"), tx(cid, date(2025, 9, 15), amount)]
    t = compute(rows, as_of=date(2025, 9, 30))
    for cid, (_, expected) in cases.items():
        assert _mom(t, cid).get_column("mom_trend_category").to_list() == [None, expected], cid


def test_current_month_is_incomplete_unless_as_of_is_its_last_day() -> None:
    rows = [tx("A", date(2025, 9, 15), "10.00"), tx("A", date(2025, 10, 2), "10.00")]
    mid = _mom(compute(rows, as_of=date(2025, 10, 15)), "A")
    assert mid.get_column("is_complete_month").to_list() == [True, False]
    end = _mom(compute(rows, as_of=date(2025, 10, 31)), "A")
    assert end.get_column("is_complete_month").to_list() == [True, True]


def test_atv_stddev_is_null_for_one_transaction() -> None:
    t = compute([tx("A", AS_OF, "42.50")])
    r = row(t, "metric_avg_transaction_value", "A")
    assert r["transaction_value_stddev"] is None
    assert r["spending_consistency"] == "Consistent"
    assert (r["avg_transaction_value"], r["median_transaction_value"]) == (Decimal("42.50"),
                                                                           Decimal("42.50"))


def test_atv_statistics_and_interpolated_median() -> None:
    amounts = ["10.00", "20.00", "30.00", "100.00"]
    declined = tx("A", AS_OF, "999.00", status="declined")
    t = compute([tx("A", AS_OF, a) for a in amounts] + [declined])
    r = row(t, "metric_avg_transaction_value", "A")
    assert r["avg_transaction_value"] == Decimal("40.00")
    assert r["median_transaction_value"] == Decimal("25.00")
    assert (r["min_transaction_value"], r["max_transaction_value"]) == (Decimal("10.00"),
                                                                        Decimal("100.00"))
    assert r["transaction_value_stddev"] == Decimal("40.82")  # sample stddev
    assert r["transaction_count"] == 4
    assert r["spending_consistency"] == "Consistent"


def test_spending_consistency_bands() -> None:
    # sample stddev of two amounts a, b: |a - b| / sqrt(2)
    t = compute([tx("M", AS_OF, "100.00"), tx("M", AS_OF, "200.00"),    # 70.71 Moderate
                 tx("V", AS_OF, "100.00"), tx("V", AS_OF, "500.00")])   # 282.84 Variable
    assert row(t, "metric_avg_transaction_value", "M")["spending_consistency"] == "Moderate"
    assert row(t, "metric_avg_transaction_value", "V")["spending_consistency"] == "Variable"


def test_spending_consistency_band_edges() -> None:
    # sample stddev of (50, 100, 150) is exactly 50 -> Moderate; of (0.01, 200.01, 400.01) = 200
    t = compute([tx("E", AS_OF, a) for a in ("50.00", "100.00", "150.00")]
                + [tx("F", AS_OF, a) for a in ("0.01", "200.01", "400.01")])
    assert row(t, "metric_avg_transaction_value", "E")["transaction_value_stddev"] == Decimal(
        "50.00")
    assert row(t, "metric_avg_transaction_value", "E")["spending_consistency"] == "Moderate"
    assert row(t, "metric_avg_transaction_value", "F")["spending_consistency"] == "Variable"
