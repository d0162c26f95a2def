"""Behavioural segments (§5.1): windows, approved-only money, thresholds at equality, priority."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.frames import AS_OF, compute, customer, row, tx

from segengine.config import SegmentsConfig, Settings

D = timedelta


def seg(tables, cid):  # noqa: ANN001, ANN202
    return row(tables, "customer_segments", cid)


def test_window_edges_are_inclusive_and_disjoint() -> None:
    rows = [
        tx("C", AS_OF, "1.00"),
        tx("C", AS_OF - D(90), "10.00"),    # last window, first day
        tx("C", AS_OF - D(91), "100.00"),   # prior window, last day
        tx("C", AS_OF - D(180), "1000.00"),  # prior window, first day
        tx("C", AS_OF - D(181), "10000.00"),  # neither window
        tx("C", AS_OF + D(1), "99999.00"),  # after as_of: ignored everywhere
    ]
    r = seg(compute(rows), "C")
    assert r["spend_last_90_days"] == Decimal("11.00")
    assert r["spend_prior_90_days"] == Decimal("1100.00")
    assert r["lifetime_value"] == Decimal("11111.00")
    assert r["total_transactions"] == 5
    assert r["last_transaction_date"] == AS_OF


def test_money_metrics_use_approved_rows_only() -> None:
    rows = [tx("C", AS_OF, "50.00"), tx("C", AS_OF, "70.00", status="declined"),
            tx("C", AS_OF - D(100), "30.00"), tx("C", AS_OF - D(100), "5.00", status="declined")]
    t = compute(rows)
    r = seg(t, "C")
    assert (r["lifetime_value"], r["total_transactions"]) == (Decimal("80.00"), 2)
    assert (r["spend_last_90_days"], r["spend_prior_90_days"]) == (Decimal("50.00"),
                                                                   Decimal("30.00"))
    p = row(t, "customer_360_profile", "C")
    assert p["declined_transactions"] == 2
    assert p["decline_rate_pct"] == Decimal("50.00")


def test_customer_with_only_declined_transactions_is_not_segmented() -> None:
    t = compute([tx("A", AS_OF, "5.00"), tx("B", AS_OF, "9.00", status="declined")])
    assert t["customer_segments"].get_column("customer_id").to_list() == ["A"]


def test_spend_change_pct_is_null_without_prior_spend_and_matches_no_rule() -> None:
    # new customer (tenure 1), huge growth from nothing: NULL change -> not New & Growing
    rows = [tx("N", AS_OF - D(10), "9000.00")]
    r = seg(compute(rows, customers=[customer("N", open_date=AS_OF - D(40))]), "N")
    assert r["spend_change_pct"] is None
    assert r["customer_segment"] == "Stable Mid-Spenders"
    assert "spend_change_pct NULL" in r["segment_reason"]


def test_high_value_travelers_at_exact_thresholds() -> None:
    on = [tx("H", AS_OF, "3750.00", "Airlines"), tx("H", AS_OF, "11250.00", "Retail")]
    below = [tx("L", AS_OF, "3749.99", "Airlines"), tx("L", AS_OF, "11250.00", "Retail")]
    t = compute(on + below)
    assert seg(t, "H")["customer_segment"] == "High-Value Travelers"
    assert seg(t, "H")["segment_reason"] == (
        "avg_monthly_spend 5000.00 ≥ 5000 and travel_spend_pct 25.00 ≥ 25")
    assert seg(t, "L")["customer_segment"] != "High-Value Travelers"


def test_high_value_travelers_needs_5000_a_month_not_4999_99() -> None:
    rows = [tx("L", AS_OF, "14999.97", "Hotels")]  # avg 4999.99
    assert seg(compute(rows), "L")["customer_segment"] != "High-Value Travelers"


def test_declining_at_exactly_minus_30_pct_and_2000_prior() -> None:
    rows = [tx("D", AS_OF - D(120), "2000.00"), tx("D", AS_OF - D(5), "1400.00")]
    r = seg(compute(rows), "D")
    assert r["spend_change_pct"] == Decimal("-30.00")
    assert r["customer_segment"] == "Declining"


def test_declining_requires_prior_spend_of_2000() -> None:
    rows = [tx("D", AS_OF - D(120), "1999.99"), tx("D", AS_OF - D(5), "100.00")]
    assert seg(compute(rows), "D")["customer_segment"] != "Declining"


def test_declining_needs_a_drop_of_at_least_30_pct() -> None:
    # -29.995% rounds to -30.00 for display but is not <= -30 on cents
    rows = [tx("D", AS_OF - D(120), "2000.00"), tx("D", AS_OF - D(5), "1400.10")]
    r = seg(compute(rows), "D")
    assert r["customer_segment"] != "Declining"


def test_new_and_growing_at_six_months_and_plus_50_pct() -> None:
    opened = date(2025, 4, 30)  # exactly 6 complete months before 2025-10-31
    rows = [tx("G", AS_OF - D(100), "1000.00"), tx("G", AS_OF - D(3), "1500.00")]
    r = seg(compute(rows, customers=[customer("G", open_date=opened)]), "G")
    assert (r["tenure_months"], r["spend_change_pct"]) == (6, Decimal("50.00"))
    assert r["customer_segment"] == "New & Growing"


def test_new_and_growing_excludes_seven_months_tenure() -> None:
    rows = [tx("G", AS_OF - D(100), "1000.00"), tx("G", AS_OF - D(3), "1500.00")]
    r = seg(compute(rows, customers=[customer("G", open_date=date(2025, 3, 31))]), "G")
    assert r["tenure_months"] == 7
    assert r["customer_segment"] != "New & Growing"


def test_budget_conscious_below_1500_a_month_with_60_pct_necessities() -> None:
    on = [tx("B", AS_OF, "2700.00", "Grocery"), tx("B", AS_OF, "1799.99", "Retail")]
    at = [tx("X", AS_OF, "2700.00", "Gas"), tx("X", AS_OF, "1800.00", "Retail")]
    t = compute(on + at)
    r = seg(t, "B")
    assert r["customer_segment"] == "Budget-Conscious"  # 4499.99 < 4500, 60.0001%
    assert seg(t, "X")["customer_segment"] == "Stable Mid-Spenders"  # avg exactly 1500


def test_budget_needs_60_pct_necessities() -> None:
    rows = [tx("B", AS_OF, "59.99", "Utilities"), tx("B", AS_OF, "40.01", "Retail")]
    assert seg(compute(rows), "B")["customer_segment"] == "Stable Mid-Spenders"


def test_rule_priority_first_match_wins() -> None:
    # matches HVT and Declining -> HVT; matches Declining and New & Growing impossible; matches
    # Declining and Budget -> Declining
    hvt_and_declining = [tx("A", AS_OF - D(100), "60000.00"), tx("A", AS_OF, "15000.00", "Travel")]
    declining_and_budget = [tx("B", AS_OF - D(100), "3000.00"), tx("B", AS_OF, "100.00", "Gas")]
    growing_and_budget = [tx("C", AS_OF - D(100), "100.00"), tx("C", AS_OF, "300.00", "Gas")]
    t = compute(hvt_and_declining + declining_and_budget + growing_and_budget,
                customers=[customer("C", open_date=date(2025, 7, 1))])
    assert seg(t, "A")["customer_segment"] == "High-Value Travelers"
    assert seg(t, "B")["customer_segment"] == "Declining"
    assert seg(t, "C")["customer_segment"] == "New & Growing"


def test_thresholds_come_from_config() -> None:
    rows = [tx("H", AS_OF, "3000.00", "Airlines")]  # avg 1000/month, 100% travel
    settings = Settings(segments=SegmentsConfig(hvt_min_avg_monthly_spend=1000))
    r = seg(compute(rows, settings=settings), "H")
    assert r["customer_segment"] == "High-Value Travelers"
    assert r["segment_reason"].endswith("≥ 1000 and travel_spend_pct 100.00 ≥ 25")


def test_tenure_from_account_open_date() -> None:
    rows = [tx("A", date(2024, 1, 5), "10.00")]
    r = seg(compute(rows, customers=[customer("A", open_date=date(2023, 11, 15))]), "A")
    assert r["tenure_months"] == 23  # 2023-11-15 -> 2025-10-31


def test_tenure_from_first_transaction_without_customers_table() -> None:
    r = seg(compute([tx("A", date(2025, 8, 1), "10.00"), tx("A", AS_OF, "1.00")]), "A")
    assert r["tenure_months"] == 2


def test_travel_and_necessities_pct_are_null_without_recent_spend() -> None:
    r = seg(compute([tx("A", AS_OF - D(200), "10.00", "Travel")]), "A")
    assert (r["travel_spend_pct"], r["necessities_spend_pct"]) == (None, None)
    assert r["avg_monthly_spend"] == Decimal("0.00")


def _duck_months(start: date, end: date) -> int:
    sql = "SELECT date_sub('month', ?::DATE, ?::DATE)"
    return duckdb.sql(sql, params=[start, end]).fetchall()[0][0]  # type: ignore[no-any-return]


@settings(max_examples=25, deadline=None)
@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2025, 10, 31)),
       st.sampled_from([date(2025, 10, 31), date(2024, 2, 29), date(2025, 2, 28),
                        date(2025, 6, 15), date(2025, 3, 30)]))
def test_tenure_formula_matches_duckdb_date_sub(opened: date, as_of: date) -> None:
    """The portable tenure expression equals DuckDB's date_sub('month', …) semantics."""
    if opened > as_of:
        return
    r = seg(compute([tx("A", as_of, "1.00")], as_of=as_of,
                    customers=[customer("A", open_date=opened)]), "A")
    assert r["tenure_months"] == _duck_months(opened, as_of)


def test_shares_that_display_as_the_threshold_but_fall_short_do_not_match() -> None:
    # 599.99 / 1000.00 = 59.999% shows as 60.00; 3749.99 / 15000.00 = 24.99993% shows as 25.00
    budget = [tx("B", AS_OF, "599.99", "Grocery"), tx("B", AS_OF, "400.01", "Retail")]
    hvt = [tx("H", AS_OF, "3749.99", "Travel"), tx("H", AS_OF, "11250.01", "Retail")]
    t = compute(budget + hvt)
    b, h = seg(t, "B"), seg(t, "H")
    assert b["necessities_spend_pct"] == Decimal("60.00")
    assert b["customer_segment"] == "Stable Mid-Spenders"
    assert h["travel_spend_pct"] == Decimal("25.00")
    assert h["customer_segment"] == "Stable Mid-Spenders"


def test_growth_that_displays_as_50_pct_but_falls_short_is_not_new_and_growing() -> None:
    rows = [tx("G", AS_OF - D(100), "2000.00"), tx("G", AS_OF - D(3), "2999.90")]  # +49.995%
    r = seg(compute(rows, customers=[customer("G", open_date=date(2025, 6, 1))]), "G")
    assert r["spend_change_pct"] == Decimal("50.00")
    assert r["customer_segment"] != "New & Growing"
