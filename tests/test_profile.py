"""customer_360_profile (§5.7): recency bands, profiles, utilisation, flags, demographics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
from tests.frames import AS_OF, compute, customer, row, tx

from segengine.config import Settings
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.run.pipeline import StageTimer, build_tables, date_params
from segengine.run.queries import register_frames, run_model

D = timedelta


def test_recency_status_bands() -> None:
    days = {"a": 30, "b": 31, "c": 60, "d": 61, "e": 90, "f": 91}
    t = compute([tx(cid, AS_OF - D(n), "10.00") for cid, n in days.items()])
    got = {cid: row(t, "customer_360_profile", cid)["recency_status"] for cid in days}
    assert got == {"a": "Active (30 days)", "b": "Recent (60 days)", "c": "Recent (60 days)",
                   "d": "At Risk (90 days)", "e": "At Risk (90 days)",
                   "f": "Inactive (90+ days)"}
    assert row(t, "customer_360_profile", "f")["days_since_last_transaction"] == 91


def test_spending_profile() -> None:
    t = compute([tx("T", AS_OF, "25.00", "Hotels"), tx("T", AS_OF, "75.00", "Grocery"),
                 tx("N", AS_OF, "60.00", "Gas"), tx("N", AS_OF, "40.00", "Retail"),
                 tx("B", AS_OF, "59.99", "Gas"), tx("B", AS_OF, "40.01", "Retail")])
    assert row(t, "customer_360_profile", "T")["spending_profile"] == "Travel-Focused"
    assert row(t, "customer_360_profile", "N")["spending_profile"] == "Necessity-Focused"
    assert row(t, "customer_360_profile", "B")["spending_profile"] == "Balanced"


def test_credit_utilization_is_monthly_recent_spend_over_limit() -> None:
    t = compute([tx("A", AS_OF, "3000.00"), tx("B", AS_OF, "3000.00")],
                customers=[customer("A", credit_limit="5000.00"), customer("B")])
    assert row(t, "customer_360_profile", "A")["credit_utilization_pct"] == Decimal("20.00")
    assert row(t, "customer_360_profile", "B")["credit_utilization_pct"] is None


def test_campaign_flags_follow_segments() -> None:
    rows = [tx("H", AS_OF, "15000.00", "Travel"),
            tx("D", AS_OF - D(120), "3000.00"), tx("D", AS_OF, "100.00"),
            tx("G", AS_OF - D(120), "100.00"), tx("G", AS_OF, "200.00"),
            tx("S", AS_OF, "100.00")]
    t = compute(rows, customers=[customer("G", open_date=date(2025, 6, 1))])
    flags = {cid: (r["eligible_for_retention_campaign"], r["eligible_for_onboarding_campaign"],
                   r["eligible_for_premium_campaign"])
             for cid in "HDGS" for r in [row(t, "customer_360_profile", cid)]}
    assert flags == {"H": (False, False, True), "D": (True, False, False),
                     "G": (False, True, False), "S": (False, False, False)}


def test_demographics_and_account_age() -> None:
    t = compute([tx("A", AS_OF, "10.00")],
                customers=[customer("A", open_date=date(2025, 10, 1), credit_limit="9000.00")])
    r = row(t, "customer_360_profile", "A")
    assert (r["full_name"], r["email"], r["account_age_days"]) == ("Ada Lovelace",
                                                                   "A@example.com", 30)
    assert r["tenure_months"] == 0


def test_without_customers_table_demographics_are_null() -> None:
    r = row(compute([tx("A", AS_OF, "10.00")]), "customer_360_profile", "A")
    assert (r["full_name"], r["credit_limit"], r["account_age_days"]) == (None, None, None)


def test_unscored_customers_are_not_scored_and_rfm_columns_present() -> None:
    r = row(compute([tx("A", AS_OF, "10.00")]), "customer_360_profile", "A")
    assert r["churn_risk_category"] == "Not Scored"
    for col in ("r_score", "rfm_segment", "cluster_id", "cluster_name", "ml_segment_id",
                "churn_risk_score"):
        assert col in r


# --- Every category boundary, hand-computed (issue 17 item 5) --------------------------------

def profile_with_churn(rows: list[tuple[Any, ...]],
                       probability: dict[str, float | None]) -> dict[str, dict[str, Any]]:
    """customer_360_profile rows by id, with the churn model's output replaced by `probability`
    (the score shown is probability x 100 rounded to 2 places, as the churn stage writes it)."""
    con = duckdb.connect()
    register_frames(con, {"transactions": pl.DataFrame(rows, schema=TRANSACTIONS, orient="row"),
                          "customers": pl.DataFrame([], schema=CUSTOMERS, orient="row")})
    settings = Settings()
    build_tables(con, as_of=AS_OF, settings=settings, segmented_at=datetime(2025, 11, 1),
                 timer=StageTimer(lambda _m: None))
    ids = list(probability)
    p = [probability[i] for i in ids]
    register_frames(con, {"churn_scores": pl.DataFrame({
        "customer_id": ids, "churn_probability": p,
        "churn_risk_score": [None if v is None else round(v * 100, 2) for v in p],
    }, schema={"customer_id": pl.String, "churn_probability": pl.Float64,
               "churn_risk_score": pl.Float64})})
    profile = run_model(con, "customer_360_profile", date_params(AS_OF, settings))
    con.close()
    return {r["customer_id"]: r for r in profile.iter_rows(named=True)}


CHURN_CASES = {  # customer: (probability, category, retention flag) - all Stable Mid-Spenders
    "p100": (1.0, "High Risk", True),
    "p70": (0.70, "High Risk", True),          # exactly 70: High (>= 70), and retention
    "p6999": (0.6999, "Medium Risk", False),   # shows 69.99
    "p69995": (0.699951, "Medium Risk", False),  # shows 70.00 but is below 70: Medium
    "p40": (0.40, "Medium Risk", False),       # exactly 40: Medium (>= 40)
    "p3999": (0.3999, "Low Risk", False),
    "p0": (0.0, "Low Risk", False),
    "none": (None, "Not Scored", False),       # NULL score
    "absent": (None, "Not Scored", False),     # no churn row at all
}


def test_churn_risk_category_boundaries_70_and_40_and_null_is_not_scored() -> None:
    rows = [tx(cid, AS_OF - D(5), "100.00") for cid in CHURN_CASES]
    got = profile_with_churn(rows, {c: p for c, (p, _, _) in CHURN_CASES.items()
                                    if c != "absent"})
    assert {c: got[c]["churn_risk_category"] for c in CHURN_CASES} == {
        c: cat for c, (_, cat, _) in CHURN_CASES.items()}
    assert got["p69995"]["churn_risk_score"] == 70.0  # the display score is not the decision
    assert got["absent"]["churn_risk_score"] is None


def test_retention_flag_is_declining_or_churn_score_of_at_least_70() -> None:
    rows = [tx(cid, AS_OF - D(5), "100.00") for cid in CHURN_CASES]
    rows += [tx("DEC", AS_OF - D(120), "3000.00"), tx("DEC", AS_OF - D(5), "100.00")]
    got = profile_with_churn(rows, {c: p for c, (p, _, _) in CHURN_CASES.items()
                                    if c != "absent"} | {"DEC": 0.05})
    flags = {c: got[c]["eligible_for_retention_campaign"] for c in CHURN_CASES}
    assert flags == {c: flag for c, (_, _, flag) in CHURN_CASES.items()}
    assert got["DEC"]["customer_segment"] == "Declining"
    assert (got["DEC"]["churn_risk_category"], got["DEC"]["eligible_for_retention_campaign"]) == (
        "Low Risk", True)


def test_recency_status_from_today_to_past_90_days() -> None:
    days = {"d0": 0, "d29": 29, "d30": 30, "d31": 31, "d60": 60, "d61": 61, "d90": 90,
            "d91": 91, "d400": 400}
    t = compute([tx(cid, AS_OF - D(n), "10.00") for cid, n in days.items()])
    got = {cid: row(t, "customer_360_profile", cid) for cid in days}
    assert {c: r["days_since_last_transaction"] for c, r in got.items()} == days
    assert {c: r["recency_status"] for c, r in got.items()} == {
        "d0": "Active (30 days)", "d29": "Active (30 days)", "d30": "Active (30 days)",
        "d31": "Recent (60 days)", "d60": "Recent (60 days)", "d61": "At Risk (90 days)",
        "d90": "At Risk (90 days)", "d91": "Inactive (90+ days)", "d400": "Inactive (90+ days)"}


def test_recency_status_counts_approved_transactions_only() -> None:
    t = compute([tx("A", AS_OF - D(45), "10.00"), tx("A", AS_OF, "10.00", status="declined")])
    r = row(t, "customer_360_profile", "A")
    assert (r["days_since_last_transaction"], r["recency_status"]) == (45, "Recent (60 days)")


def test_spending_profile_boundaries_25_and_60_on_cents() -> None:
    t = compute([
        tx("T25", AS_OF, "25.00", "Airlines"), tx("T25", AS_OF, "75.00", "Retail"),
        tx("T2499", AS_OF, "24.99", "Travel"), tx("T2499", AS_OF, "75.01", "Retail"),
        tx("N60", AS_OF, "60.00", "Utilities"), tx("N60", AS_OF, "40.00", "Retail"),
        tx("N5999", AS_OF, "59.99", "Grocery"), tx("N5999", AS_OF, "40.01", "Retail"),
        # both bands: travel is tested first
        tx("BOTH", AS_OF, "30.00", "Hotels"), tx("BOTH", AS_OF, "70.00", "Gas"),
        # a third of a cent under 25%: 33.33 of 133.33 = 24.998%, shown as 25.00
        tx("T3", AS_OF, "33.33", "Hotels"), tx("T3", AS_OF, "100.00", "Retail"),
        # spend only before the 90-day window: no shares, Balanced
        tx("OLD", AS_OF - D(100), "50.00", "Airlines"),
    ])
    got = {c: row(t, "customer_360_profile", c) for c in
           ("T25", "T2499", "N60", "N5999", "BOTH", "T3", "OLD")}
    assert {c: r["spending_profile"] for c, r in got.items()} == {
        "T25": "Travel-Focused", "T2499": "Balanced", "N60": "Necessity-Focused",
        "N5999": "Balanced", "BOTH": "Travel-Focused", "T3": "Balanced", "OLD": "Balanced"}
    assert got["T3"]["travel_spend_pct"] == Decimal("25.00")
    assert got["OLD"]["travel_spend_pct"] is None


def test_premium_and_onboarding_flags_are_exactly_their_segments() -> None:
    rows = [tx("H", AS_OF, "15000.00", "Travel"),                       # High-Value Travelers
            tx("G", AS_OF - D(120), "100.00"), tx("G", AS_OF, "150.00"),  # +50% exactly: New
            tx("G2", AS_OF - D(120), "100.00"), tx("G2", AS_OF, "149.99"),  # +49.99%: not New
            tx("OLDG", AS_OF - D(120), "100.00"), tx("OLDG", AS_OF, "300.00")]  # tenure 7
    customers = [customer("G", open_date=date(2025, 4, 30)),    # 6 complete months: <= 6
                 customer("G2", open_date=date(2025, 6, 1)),
                 customer("OLDG", open_date=date(2025, 3, 31))]  # 7 months
    t = compute(rows, customers=customers)
    got = {c: row(t, "customer_360_profile", c) for c in ("H", "G", "G2", "OLDG")}
    assert {c: (r["customer_segment"], r["eligible_for_onboarding_campaign"],
                r["eligible_for_premium_campaign"]) for c, r in got.items()} == {
        "H": ("High-Value Travelers", False, True), "G": ("New & Growing", True, False),
        "G2": ("Stable Mid-Spenders", False, False),
        "OLDG": ("Stable Mid-Spenders", False, False)}
