"""lifecycle_stage (§5.9): one reconciled answer per customer, at every boundary of the rule."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from segengine.errors import DataError
from segengine.models.lifecycle import CUSTOMER_LIFECYCLE, STAGES, customer_lifecycle

AS_OF = date(2025, 10, 31)


def segments(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
    """customer_segments rows from (customer_id, days since last purchase, tenure_months)."""
    return pl.DataFrame({
        "customer_id": [r[0] for r in rows],
        "tenure_months": [r[2] for r in rows],
        "last_transaction_date": [AS_OF - timedelta(days=r[1]) for r in rows],
    }, schema={"customer_id": pl.String, "tenure_months": pl.Int32,
               "last_transaction_date": pl.Date})


def scores(rows: dict[str, float | None]) -> pl.DataFrame:
    """churn_scores from customer_id -> churn_probability."""
    return pl.DataFrame({"customer_id": list(rows), "churn_probability": list(rows.values())},
                        schema={"customer_id": pl.String, "churn_probability": pl.Float64})


def stages(rows: list[tuple[str, int, int]], risk: dict[str, float | None] | None = None,
           gap: float | None = 10.0) -> dict[str, str]:
    got = customer_lifecycle(segments(rows), scores(risk or {}), as_of=AS_OF,
                             typical_gap_days=gap)
    return dict(got.iter_rows())


def test_lateness_in_typical_gaps_sets_active_cooling_lapsing_lost() -> None:
    # typical gap 10 days: Active <= 10, Cooling <= 20, Lapsing <= 80, Lost beyond 80 days
    got = stages([("a", 0, 24), ("b", 10, 24), ("c", 11, 24), ("d", 20, 24), ("e", 21, 24),
                  ("f", 80, 24), ("g", 81, 24)])
    assert got == {"a": "Active", "b": "Active", "c": "Cooling", "d": "Cooling",
                   "e": "Lapsing", "f": "Lapsing", "g": "Lost"}


def test_high_churn_risk_cools_an_active_customer_and_loses_one_four_gaps_late() -> None:
    rows = [("a", 5, 24), ("b", 5, 24), ("c", 40, 24), ("d", 41, 24), ("e", 41, 24),
            ("f", 5, 24)]
    risk = {"a": 0.69999, "b": 0.70, "c": 0.99, "d": 0.70, "e": 0.69999, "f": None}
    assert stages(rows, risk) == {"a": "Active", "b": "Cooling", "c": "Lapsing", "d": "Lost",
                                  "e": "Lapsing", "f": "Active"}


def test_new_customers_under_three_months_unless_lapsing() -> None:
    rows = [("a", 0, 2), ("b", 15, 2), ("c", 0, 3), ("d", 21, 0)]
    assert stages(rows, {"a": 0.95}) == {"a": "New", "b": "New", "c": "Active", "d": "Lapsing"}


def test_gap_under_a_day_or_unknown_counts_one_day() -> None:
    rows = [("a", 1, 24), ("b", 2, 24), ("c", 9, 24)]
    for gap in (0.4, None):
        assert stages(rows, gap=gap) == {"a": "Active", "b": "Cooling", "c": "Lost"}


def test_one_stage_per_customer_sorted_with_its_schema() -> None:
    got = customer_lifecycle(segments([("b", 3, 9), ("a", 300, 9)]), scores({}), as_of=AS_OF,
                             typical_gap_days=2.0)
    expected = pl.DataFrame({"customer_id": ["a", "b"], "lifecycle_stage": ["Lost", "Cooling"]},
                            schema=CUSTOMER_LIFECYCLE)
    assert_frame_equal(got, expected)
    assert set(got["lifecycle_stage"]) <= set(STAGES)


def test_missing_columns_name_them() -> None:
    with pytest.raises(DataError, match="tenure_months"):
        customer_lifecycle(pl.DataFrame({"customer_id": ["a"]}), scores({}), as_of=AS_OF,
                           typical_gap_days=1.0)
