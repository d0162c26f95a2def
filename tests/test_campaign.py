"""Audience filter grammar and the campaign ROI formula (present/campaign.py), hand-computed."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from segengine.errors import ConfigError
from segengine.present.campaign import Audience, audience_where, campaign_roi, parse_audience

COLUMNS = {"customer_segment", "rfm_segment", "cluster_name", "churn_risk_category",
           "eligible_for_retention_campaign", "eligible_for_premium_campaign",
           "eligible_for_onboarding_campaign"}


def test_filter_grammar_ands_keys_ors_values_and_fixes_case() -> None:
    audience = parse_audience(" segment=declining|BUDGET-CONSCIOUS , churn_band=High Risk,"
                              "cluster=Big Spenders,eligible=retention")
    assert audience.clauses == (
        ("segment", ("Declining", "Budget-Conscious")), ("churn_band", ("High Risk",)),
        ("cluster", ("Big Spenders",)), ("eligible", ("retention",)))
    assert parse_audience(audience.describe()) == audience
    assert parse_audience("") == Audience() and Audience().describe() == "(everyone)"


@pytest.mark.parametrize(("text", "message"), [
    ("segment", "has no '='"),
    ("segmnt=Declining", "unknown key 'segmnt'"),
    ("segment=Decling", "segment 'Decling' is not one of: High-Value Travelers"),
    ("segment=Declining,segment=Lost", "appears twice"),
    ("churn_band=", "has an empty value"),
    ("eligible=vip", "eligible 'vip' is not one of: retention, onboarding, premium"),
])
def test_a_bad_filter_names_the_part_and_the_accepted_keys(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="audience filter") as info:
        parse_audience(text)
    assert message in str(info.value) and "keys segment, rfm_segment, cluster" in str(info.value)


def test_values_are_bound_never_formatted_into_the_sql() -> None:
    where, params = audience_where(parse_audience("cluster=x' OR 1=1 --,segment=Declining"),
                                   COLUMNS)
    assert "OR 1=1" not in where and params == ["x' OR 1=1 --", "Declining"]
    con = duckdb.connect()
    con.execute("CREATE TABLE customer_360_profile (customer_id VARCHAR, cluster_name VARCHAR, "
                "customer_segment VARCHAR)")
    con.execute("INSERT INTO customer_360_profile VALUES ('a', 'x', 'Declining'), "
                "('b', 'x'' OR 1=1 --', 'Declining'), ('c', 'x'' OR 1=1 --', 'Lost')")
    rows = con.execute(f"SELECT customer_id FROM customer_360_profile WHERE {where}",
                       params).fetchall()
    assert rows == [("b",)]


def test_eligibility_flags_are_ored_and_a_missing_column_is_a_clear_error() -> None:
    where, params = audience_where(parse_audience("eligible=retention|premium"), COLUMNS)
    assert where == ("TRUE AND (eligible_for_retention_campaign = TRUE OR "
                     "eligible_for_premium_campaign = TRUE)") and params == []
    with pytest.raises(ConfigError, match="no lifecycle_stage column"):
        audience_where(parse_audience("lifecycle=Lapsing"), COLUMNS)


def test_roi_of_ten_percent_response_and_twenty_percent_uplift() -> None:
    # 5 customers, 2,500.00 spent in the last 90 days, $5 per customer:
    # revenue = 0.10 x 0.20 x 2500 = 50.00; cost = 5 x 5 = 25.00; ROI = 25 / 25 = 100%;
    # break-even response = 25 / (0.20 x 2500) = 5%
    out = campaign_roi(customers=5, baseline_spend=Decimal("2500.00"),
                       cost_per_customer=Decimal("5"), response_rate_pct=Decimal("10"),
                       uplift_pct=Decimal("20"))
    assert (out.responders, out.revenue, out.cost, out.net) == (
        Decimal("0.50"), Decimal("50.00"), Decimal("25.00"), Decimal("25.00"))
    assert out.roi_pct == Decimal("100.00") and out.break_even_response_pct == Decimal("5.00")


def test_roi_rounds_half_up_and_a_loss_is_negative() -> None:
    # revenue = 0.03 x 0.15 x 1234.56 = 5.55552 -> 5.56; cost = 3 x 2.50 = 7.50;
    # ROI = (5.55552 - 7.5) / 7.5 = -25.9264% -> -25.93%; break-even = 7.5 / 185.184 = 4.0500%
    out = campaign_roi(customers=3, baseline_spend=Decimal("1234.56"),
                       cost_per_customer=Decimal("2.50"), response_rate_pct=Decimal("3"),
                       uplift_pct=Decimal("15"))
    assert (out.revenue, out.net, out.roi_pct) == (Decimal("5.56"), Decimal("-1.94"),
                                                   Decimal("-25.93"))
    assert out.break_even_response_pct == Decimal("4.05")


def test_roi_is_undefined_without_cost_and_break_even_without_uplift() -> None:
    free = campaign_roi(customers=2, baseline_spend=Decimal("100"), cost_per_customer=Decimal(0),
                        response_rate_pct=Decimal(50), uplift_pct=Decimal(10))
    assert free.roi_pct is None and free.revenue == Decimal("5.00")
    flat = campaign_roi(customers=2, baseline_spend=Decimal("100"), cost_per_customer=Decimal(1),
                        response_rate_pct=Decimal(50), uplift_pct=Decimal(0))
    assert flat.break_even_response_pct is None and flat.roi_pct == Decimal("-100.00")
    with pytest.raises(ConfigError, match="response rate"):
        campaign_roi(customers=1, baseline_spend=Decimal(1), cost_per_customer=Decimal(1),
                     response_rate_pct=Decimal(101), uplift_pct=Decimal(1))
