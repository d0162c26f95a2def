"""Display values are exact decimal half-up and categories are decided on exact values (§5.4).

The expectations are computed here with Python's Fraction/Decimal straight from the definitions,
sharing nothing with the SQL: a DuckDB or Polars release that rounds a DOUBLE differently (duckdb
2.0.1 turned 49.995 into 49.99) cannot change a published value without failing these tests.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from tests.frames import AS_OF, compute, customer, row, tx

from segengine.present.display import _cell
from segengine.rounding import cents, half_up_money, half_up_ratio

D = timedelta


def half_up(value: Fraction) -> Decimal:
    """Exact half-up (away from zero) to 2 decimals, from a Fraction."""
    hundredths = abs(value) * 100
    units = math.floor(hundredths + Fraction(1, 2))
    return Decimal(units if value >= 0 else -units) / 100


def stddev_half_up(amounts: list[Decimal]) -> Decimal | None:
    """Sample stddev rounded half-up to cents: the q with (q - ½)² ≤ 10⁴·V < (q + ½)²."""
    n = len(amounts)
    if n < 2:
        return None
    xs = [Fraction(a) for a in amounts]
    variance = (n * sum(x * x for x in xs) - sum(xs) ** 2) / (n * (n - 1))
    scaled = variance * 40000  # (2·sqrt(10⁴·V))² = 4·10⁴·V
    two_root = math.isqrt(scaled.numerator // scaled.denominator)  # floor(2·sqrt(10⁴·V))
    return Decimal((two_root + 1) // 2) / 100


def money(text: str) -> Decimal:
    return Decimal(text)


# -- the boundary cases named in the issues (#11, #16) --------------------------------------

def test_median_of_two_amounts_is_their_exact_midpoint_rounded_half_up() -> None:
    t = compute([tx("A", AS_OF, "10.00"), tx("A", AS_OF, "10.03")])
    assert row(t, "metric_avg_transaction_value", "A")["median_transaction_value"] == money(
        "10.02")  # 10.015 -> 10.02 (duckdb's DECIMAL(12,2) median truncated it to 10.01)


def test_average_of_1_00_and_1_01_is_1_01() -> None:
    t = compute([tx("A", AS_OF, "1.00"), tx("A", AS_OF, "1.01")])
    assert row(t, "metric_avg_transaction_value", "A")["avg_transaction_value"] == money("1.01")
    assert row(t, "customer_segments", "A")["avg_transaction_value"] == money("1.01")


def test_travel_share_of_2_01_in_200_is_1_01_pct() -> None:
    t = compute([tx("A", AS_OF, "2.01", "Airlines"), tx("A", AS_OF, "197.99", "Retail")])
    assert row(t, "customer_segments", "A")["travel_spend_pct"] == money("1.01")  # 1.005


def test_spend_change_of_plus_and_minus_49_995_pct_shows_as_50_00() -> None:
    rows = [tx("U", AS_OF - D(100), "2000.00"), tx("U", AS_OF - D(3), "2999.90"),
            tx("W", AS_OF - D(100), "2000.00"), tx("W", AS_OF - D(3), "1000.10")]
    t = compute(rows)
    assert row(t, "customer_segments", "U")["spend_change_pct"] == money("50.00")
    assert row(t, "customer_segments", "W")["spend_change_pct"] == money("-50.00")


def test_mom_change_of_49_995_pct_shows_as_50_00_but_is_growth_not_high_growth() -> None:
    # 24.995% shows as 25.00 but is below the High Growth edge of 25
    rows = [tx("A", date(2025, 9, 10), "2000.00"), tx("A", date(2025, 10, 10), "2999.90"),
            tx("B", date(2025, 9, 10), "2000.00"), tx("B", date(2025, 10, 10), "2499.90")]
    mom = compute(rows)["metric_mom_spend_change"].filter(pl.col("month") == date(2025, 10, 1))
    got = {r["customer_id"]: r for r in mom.iter_rows(named=True)}
    assert got["A"]["mom_change_pct"] == money("50.00")
    assert (got["B"]["mom_change_pct"], got["B"]["mom_trend_category"]) == (money("25.00"),
                                                                           "Growth")


def test_spend_per_day_utilisation_and_decline_rate_round_half_up() -> None:
    rows = [tx("A", AS_OF - D(2), "0.51"), tx("A", AS_OF, "0.50"),  # 1.01 over 2 days: 0.505
            tx("B", AS_OF, "3.03")]  # utilisation (3.03/3)/200 = 0.505 %
    rows += [tx("C", AS_OF, "1.00", status="declined")]
    rows += [tx("C", AS_OF, "1.00") for _ in range(199)]  # 1 of 200 declined: 0.5 %
    t = compute(rows, customers=[customer("B", credit_limit="200.00")])
    assert row(t, "metric_customer_ltv", "A")["avg_spend_per_day"] == money("0.51")
    assert row(t, "customer_360_profile", "B")["credit_utilization_pct"] == money("0.51")
    assert row(t, "customer_360_profile", "C")["decline_rate_pct"] == money("0.50")


# -- categories decided on exact values, where the display value sits on the other side ----

def test_stddev_of_49_9995_displays_50_00_and_is_consistent() -> None:
    t = compute([tx("A", AS_OF, "100.00"), tx("A", AS_OF, "170.71")])  # 70.71/sqrt(2)
    r = row(t, "metric_avg_transaction_value", "A")
    assert (r["transaction_value_stddev"], r["spending_consistency"]) == (money("50.00"),
                                                                           "Consistent")


def test_equal_amounts_have_stddev_0_00_never_below_zero() -> None:
    import duckdb

    from segengine.config import Settings
    from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
    from segengine.run.pipeline import date_params
    from segengine.run.queries import register_frames, run_model

    rows = [tx("A", AS_OF - D(days), "7.00") for days in (0, 0, 0, 100, 100)]
    t = compute(rows)
    assert row(t, "metric_avg_transaction_value", "A")["transaction_value_stddev"] == money("0.00")
    con = duckdb.connect()  # the churn features as of S = as_of - 90 use the same correction
    register_frames(con, {"transactions": pl.DataFrame(rows, schema=TRANSACTIONS, orient="row"),
                          "customers": pl.DataFrame(schema=CUSTOMERS)})
    activity = run_model(con, "customer_activity", date_params(AS_OF, Settings()))
    assert activity.row(0, named=True)["s_transaction_value_stddev"] == money("0.00")


def test_stddev_exactly_50_is_moderate_and_199_999_is_moderate() -> None:
    rows = [tx("E", AS_OF, a) for a in ("50.00", "100.00", "150.00")]  # exactly 50
    rows += [tx("F", AS_OF, "1.00"), tx("F", AS_OF, "283.84")]  # 282.84 / sqrt(2) = 199.999
    t = compute(rows)
    e, f = row(t, "metric_avg_transaction_value", "E"), row(t, "metric_avg_transaction_value", "F")
    assert (e["transaction_value_stddev"], e["spending_consistency"]) == (money("50.00"),
                                                                           "Moderate")
    assert (f["transaction_value_stddev"], f["spending_consistency"]) == (money("200.00"),
                                                                           "Moderate")


@pytest.mark.parametrize(("label", "last", "segment"), [
    # travel 24.995 % of 15,000 shows 25.00 but is below the HVT edge of 25
    ("travel", [("3749.25", "Airlines"), ("11250.75", "Retail")], "Stable Mid-Spenders"),
    # necessities 59.995 % of 3,000 shows 60.00 but is below the Budget edge of 60
    ("necessities", [("1799.85", "Grocery"), ("1200.15", "Retail")], "Stable Mid-Spenders"),
    # avg_monthly_spend 14,999.99 / 3 = 4,999.9967 shows 5,000.00 but is below 5,000
    ("monthly", [("14999.99", "Airlines")], "Stable Mid-Spenders"),
    # avg_monthly_spend 4,499.99 / 3 = 1,499.9967 shows 1,500.00 and IS below 1,500
    ("budget", [("4499.99", "Grocery")], "Budget-Conscious"),
])
def test_segment_rules_use_exact_values_not_the_displayed_ones(
        label: str, last: list[tuple[str, str]], segment: str) -> None:
    rows = [tx("X", AS_OF - D(1), a, c) for a, c in last]
    assert row(compute(rows), "customer_segments", "X")["customer_segment"] == segment, label


def test_declining_at_minus_29_995_pct_is_not_declining() -> None:
    rows = [tx("X", AS_OF - D(100), "2000.00"), tx("X", AS_OF - D(1), "1400.10")]
    r = row(compute(rows), "customer_segments", "X")
    assert (r["spend_change_pct"], r["customer_segment"]) == (money("-30.00"),
                                                             "Stable Mid-Spenders")


def test_spending_profile_uses_exact_travel_share() -> None:
    rows = [tx("X", AS_OF, "3749.25", "Airlines"), tx("X", AS_OF, "11250.75", "Retail")]
    r = row(compute(rows), "customer_360_profile", "X")
    assert (r["travel_spend_pct"], r["spending_profile"]) == (money("25.00"), "Balanced")


def test_churn_band_is_decided_on_the_unrounded_probability() -> None:
    import numpy as np

    from segengine.models.churn import _scores

    scores = _scores(pl.Series("customer_id", ["H", "M"]), np.array([0.699996, 0.7]))
    assert scores["churn_risk_score"].to_list() == [70.0, 70.0]  # both display 70.00
    assert scores["churn_probability"].to_list() == [0.699996, 0.7]  # the band reads this


# -- every value of a random portfolio equals the Fraction computation ----------------------

def _random_rows(seed: int) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    rows = []
    for i in range(120):
        cid = f"R{i:03d}"
        for _ in range(rng.randint(1, 6)):
            cents_ = rng.choice([rng.randint(1, 999), rng.randint(1, 99) * 5,
                                 rng.randint(1, 10**6)])
            day = AS_OF - D(rng.randint(0, 200))
            cat = rng.choice(["Airlines", "Grocery", "Retail"])
            rows.append(tx(cid, day, f"{Decimal(cents_) / 100:.2f}", cat))
    return rows


def test_every_display_value_of_a_random_portfolio_is_exact_half_up() -> None:
    rows = _random_rows(7)
    t = compute(rows)
    by_customer: dict[str, list[tuple[date, Decimal, str]]] = {}
    for r in rows:
        by_customer.setdefault(str(r[1]), []).append((r[2], r[3], str(r[5])))  # type: ignore[arg-type]
    atv = {r["customer_id"]: r for r in t["metric_avg_transaction_value"].iter_rows(named=True)}
    seg = {r["customer_id"]: r for r in t["customer_segments"].iter_rows(named=True)}
    for cid, txs in by_customer.items():
        amounts = [a for _, a, _ in txs]
        ordered = sorted(Fraction(a) for a in amounts)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        assert atv[cid]["avg_transaction_value"] == half_up(sum(map(Fraction, amounts))
                                                            / len(amounts)), cid
        assert atv[cid]["median_transaction_value"] == half_up(median), cid
        assert atv[cid]["transaction_value_stddev"] == stddev_half_up(amounts), cid
        last = sum(Fraction(a) for d, a, _ in txs if d >= AS_OF - D(90))
        prior = sum(Fraction(a) for d, a, _ in txs if AS_OF - D(180) <= d <= AS_OF - D(91))
        travel = sum(Fraction(a) for d, a, c in txs if d >= AS_OF - D(90) and c == "Airlines")
        assert seg[cid]["avg_monthly_spend"] == half_up(Fraction(last) / 3), cid
        assert seg[cid]["spend_change_pct"] == (
            half_up((last - prior) * 100 / prior) if prior else None), cid
        assert seg[cid]["travel_spend_pct"] == (half_up(travel * 100 / last) if last else None)


# -- the Polars-side summaries and the console -----------------------------------------------

def test_polars_half_up_helpers_round_the_exact_value() -> None:
    frame = pl.DataFrame({"total": [Decimal("2.01"), Decimal("-0.05"), Decimal("0.00")],
                          "n": [2, 2, 0]}, schema={"total": pl.Decimal(18, 2), "n": pl.Int64})
    out = frame.select(half_up_money(cents(pl.col("total")), pl.col("n")).alias("avg"),
                       half_up_ratio(100 * pl.col("n"), pl.lit(3)).alias("pct"))
    assert out["avg"].to_list() == [Decimal("1.01"), Decimal("-0.03"), None]  # 1.005, -0.025
    assert out["pct"].to_list() == [66.67, 66.67, 0.0]


def test_rfm_summary_averages_are_exact_half_up() -> None:
    from segengine.models.rfm import rfm_segment_summary

    frame = pl.DataFrame({
        "customer_id": ["a", "b"], "recency": [1, 2], "frequency": [1, 1],
        "monetary": [Decimal("1.00"), Decimal("1.01")], "segment": ["Lost", "Lost"],
        "as_of_date": [AS_OF, AS_OF]}, schema_overrides={"monetary": pl.Decimal(18, 2)})
    lost = rfm_segment_summary(frame).filter(pl.col("segment") == "Lost").row(0, named=True)
    assert (lost["avg_recency"], lost["avg_monetary"]) == (1.5, Decimal("1.01"))


@pytest.mark.parametrize(("value", "shown"), [
    (999.99, "999.99"), (123.456, "123.456"), (0.0000123, "0.0000123"), (648.88, "648.88"),
    (1234567.5, "1,234,567.5"), (Decimal("29393274.19"), "29,393,274.19"), (12345, "12,345"),
])
def test_console_cells_never_misstate_a_number(value: object, shown: str) -> None:
    assert _cell(value) == shown


def test_half_up_ratio_gives_the_nearest_float_on_a_column_of_many_rows() -> None:
    """A multi-row column used to be divided by 100 as x * 0.01: 46.050000000000004."""
    frame = pl.DataFrame({"n": [92100, 2512, 1, 12345], "d": [2000, 10, 3, 100]})
    out = frame.select(half_up_ratio(pl.col("n"), pl.col("d"))).to_series().to_list()
    assert [repr(v) for v in out] == ["46.05", "251.2", "0.33", "123.45"]
