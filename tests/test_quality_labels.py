"""§5.9 label checks in the quality gate: each one fails on a crafted frame and only warns."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from segengine.run.quality import (
    check_churn_recency,
    check_labels,
    check_no_inactive_label_within_gap,
    check_recency_order,
    errors,
)

AS_OF = date(2025, 10, 31)


def profile(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """customer_360_profile rows; defaults describe an active, well-labelled customer who
    bought every 4 days (typical gap 4)."""
    base = {"rfm_segment": "Loyal Customers", "cluster_name": "Core Regulars",
            "recency_status": "Active (30 days)", "lifecycle_stage": "Active",
            "churn_risk_category": "Low Risk", "total_transactions": 11, "recency": 1}
    full = [{**base, **r} for r in rows]
    return pl.DataFrame([{
        "customer_id": f"c{i}", **{k: v for k, v in r.items() if k != "recency"},
        "days_since_last_transaction": r["recency"],
        "last_transaction_date": AS_OF - timedelta(days=r["recency"]),
        "first_transaction_date": AS_OF - timedelta(days=r["recency"] + 40),
    } for i, r in enumerate(full)])


def failing(results: list[Any]) -> dict[str, int]:
    return {r.name: r.failing for r in results if not r.passed}


def test_inactivity_labels_within_the_typical_gap_are_counted_per_label() -> None:
    frame = profile([{"recency": 4, "rfm_segment": "At Risk"},       # within the gap of 4 days
                     {"recency": 4, "cluster_name": "Dormant"},
                     {"recency": 3, "recency_status": "Recent (60 days)"},
                     {"recency": 0, "lifecycle_stage": "Lapsing"},
                     {"recency": 5, "rfm_segment": "Lost", "lifecycle_stage": "Lost"},  # beyond
                     {"recency": 1}])
    got = check_no_inactive_label_within_gap(frame, 4.0)
    assert [r.failing for r in got] == [1, 1, 1, 1]
    assert all(r.level == "warning" for r in got)
    assert got[0].examples == ["c0"]
    assert "within the typical gap (4.00 days)" in got[0].name
    assert check_no_inactive_label_within_gap(profile([{"recency": 1}]), 4.0)[0].passed


def test_champions_and_loyal_must_be_recent_and_lost_must_be_old() -> None:
    # population recency 1, 1, 2, 9, 20, 30: median 5.5, 75th percentile 17.25 (linear)
    frame = profile([{"recency": 1, "rfm_segment": "Champions"},
                     {"recency": 1, "rfm_segment": "Champions", "cluster_name": "Champions"},
                     {"recency": 2, "rfm_segment": "Promising"},
                     {"recency": 9, "cluster_name": "Loyal Customers"},     # median 9 > 5.5
                     {"recency": 20, "rfm_segment": "Lost"},
                     {"recency": 30, "rfm_segment": "Lost"}])
    got = {r.name: r.failing for r in check_recency_order(frame)}
    assert got == {
        "labels: rfm_segment Champions median recency 1 days <= population median 5.5": 0,
        "labels: rfm_segment Loyal Customers median recency 9 days <= population median 5.5": 1,
        "labels: cluster_name Champions median recency 1 days <= population median 5.5": 0,
        "labels: cluster_name Loyal Customers median recency 9 days <= population median 5.5":
            1,
        "labels: rfm_segment Lost median recency 25 days >= population 75th percentile 17.25":
            0,
    }
    young_lost = frame.with_columns(rfm_segment=pl.lit("Lost"), cluster_name=pl.lit("Other"))
    assert failing(check_recency_order(young_lost)) == {
        "labels: rfm_segment Lost median recency 5.5 days >= population 75th percentile 17.25":
            1}


def test_high_risk_must_be_less_recent_than_low_risk() -> None:
    frame = profile([{"recency": 3, "churn_risk_category": "High Risk"},
                     {"recency": 5, "churn_risk_category": "Low Risk"}])
    assert [r.failing for r in check_churn_recency(frame)] == [1]
    swapped = frame.with_columns(churn_risk_category=pl.Series(["Low Risk", "High Risk"]))
    assert [r.failing for r in check_churn_recency(swapped)] == [0]
    assert check_churn_recency(frame.head(1)) == []  # one side empty: nothing to compare


def test_label_checks_warn_and_never_block_a_publish() -> None:
    frame = profile([{"recency": 0, "rfm_segment": "Lost", "lifecycle_stage": "Lost",
                      "churn_risk_category": "High Risk"},
                     {"recency": 90, "rfm_segment": "Champions"}])
    results = check_labels({"customer_360_profile": frame})
    assert failing(results) and errors(results) == []
    assert check_labels({"customer_360_profile": frame.head(0)}) == []
