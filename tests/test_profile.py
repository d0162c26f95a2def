"""customer_360_profile (§5.7): recency bands, profiles, utilisation, flags, demographics."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tests.frames import AS_OF, compute, customer, row, tx

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
