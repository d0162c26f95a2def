"""Our own queries in the reference guides' style run against warehouse.duckdb with exact results.

tests/test_reference_queries.py runs the guides' own queries when ../shared is beside the
repository; this file covers the same contract from inside the repository: the tables and
columns the guides query exist in the published warehouse, with the guides' meanings. The queries
are tests/data/reference_style_queries.sql; each expected result below is derived by hand from
tests.frames.portfolio() (five customers per behavioural segment; as of 2025-10-31):
  H: Airlines 12,000 (day -3-i), Retail 12,000 (-40), Hotels 500 (-300) -> High-Value Travelers
  D: 4,000 (-100-i), 500 (-10), a declined 20 (-11)                      -> Declining (-87.5%)
  G: Dining 300 (-95), 900 (-5-i), account opened 2025-06-01             -> New & Growing
  B: Grocery 80 (0, -20, -50), Retail 30 (-2)                            -> Budget-Conscious
  S: Retail 700 (-7, -70, -140, -400)                                    -> Stable Mid-Spenders
The portfolio is too small to train the churn model, so nobody has a churn score.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

QUERIES = Path(__file__).parent / "data" / "reference_style_queries.sql"
D = Decimal
HVT, DEC, NEW, BUD, STA = ("High-Value Travelers", "Declining", "New & Growing",
                           "Budget-Conscious", "Stable Mid-Spenders")

EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    # value shares: 122,500 / 22,500 / 14,000 / 6,000 / 1,350 of 166,350
    "segment_distribution": [(HVT, 5, 20.0, D("122500.00"), 73.64),
                             (DEC, 5, 20.0, D("22500.00"), 13.53),
                             (STA, 5, 20.0, D("14000.00"), 8.42),
                             (NEW, 5, 20.0, D("6000.00"), 3.61),
                             (BUD, 5, 20.0, D("1350.00"), 0.81)],
    # (500 - 4,000) / 4,000 = -87.5%; equal LTVs share rank 1
    "declining_prioritised": [(f"D{i}", D("4500.00"), D("500.00"), D("4000.00"), D("-87.50"), 1)
                              for i in range(3)],
    # tenure 2025-06-01 -> 2025-10-31 = 4 months; (900 - 300) / 300 = +200%; 900 / 3 = 300
    "new_and_growing_projection": [(f"G{i}", 4, D("200.00"), D("300.00"), D("3600.00"))
                                   for i in range(2)],
    # last 90 days 270, necessities 240: 88.89%; no travel spend: 0, not NULL
    "budget_conscious_shares": [("B0", D("90.00"), D("88.89"), D("0.00"))],
    "premium_campaign_with_dim_customer": [
        (f"H{i}", f"H{i}@example.com", "Ada", D("24500.00"), D("8000.00"), D("50.00"))
        for i in range(2)],
    # one as-of date in the history: everyone "moved" to the segment they are in
    "segment_history_by_date": [(s, s, 5) for s in (BUD, DEC, HVT, NEW, STA)],
    # B 270 (4 tx); D 4,500 (2), G 1,200 (2), S 2,800 (4); H 24,500 (3)
    "ltv_tiers": [("$10K+", 5, 15), ("$1K-$10K", 15, 40), ("<$1K", 5, 20)],
    # B0: 270 over 50 days; S0: 2,800 over 393 days = 7.1247
    "ltv_per_day": [("B0", BUD, D("270.00"), 4, 5.40), ("S0", STA, D("2800.00"), 4, 7.12)],
    # October vs September: B 190 vs 80 = +137.5%; H 12,000 vs 12,000 = 0%; others had 0
    "latest_month_mom_by_segment": [(BUD, 137.5, 5), (HVT, 0.0, 5)],
    # S0, Sep 2024..Oct 2025 (14 months), 700 in Sep 2024, Jun, Aug, Oct 2025: the month after
    # each is -100% (High Decline) except Nov 2024; every other month has no prior spend
    "mom_trend_for_one_customer": [("High Decline", 3, D("0.00")), (None, 11, D("2800.00"))],
    # sample stddevs: B 25.00, S 0; G 424.26, D 2,474.87, H 6,639.53
    "atv_consistency": [("Consistent", 10, 0.0, 25.0), ("Variable", 15, 424.26, 6639.53)],
    "executive_dashboard": [(25, D("166350.00"), 6654.0)],
    "churn_watchlist": [(f"D{i}", "Ada Lovelace", f"D{i}@example.com", DEC, D("-87.50"), 10,
                         "Active (30 days)") for i in range(2)],
    "campaign_eligibility": [(BUD, 0, 0, 0), (DEC, 5, 0, 0), (HVT, 0, 0, 5), (NEW, 0, 5, 0),
                             (STA, 0, 0, 0)],
    # D0: opened 2023-01-15 -> 33 months; last approved -10; 500 Retail -> Balanced;
    # (500 / 3) / 20,000 = 0.83%; 1 of 3 transactions declined = 33.33%
    "customer_lookup": [("D0", "Ada Lovelace", DEC, 33, 10, "Active (30 days)", "Balanced",
                         D("0.83"), 1, D("33.33"))],
}
PARAMS = {"customer_lookup": {"customer_id": "D0"}}
KNOWN_BUGS: dict[str, str] = {
    # query name -> why it is expected to fail (strict: a fix XPASSes and fails; remove it then)
}


def _queries() -> dict[str, str]:
    text = QUERIES.read_text()
    parts = re.split(r"^-- name: (\w+)\n", text, flags=re.M)
    return {name: sql.strip().rstrip(";") for name, sql in zip(parts[1::2], parts[2::2],
                                                               strict=True)}


QUERY_TEXT = _queries()


@pytest.fixture(scope="module")
def warehouse(published_portfolio: Path) -> Path:
    return published_portfolio / "warehouse.duckdb"


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return actual is not None and float(actual) == pytest.approx(expected, abs=0.005)
    return bool(actual == expected and type(actual) is type(expected))


def test_every_query_has_an_expected_result() -> None:
    assert list(QUERY_TEXT) == list(EXPECTED)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_BUGS[n], strict=True))
    if n in KNOWN_BUGS else n for n in EXPECTED])
def test_reference_style_query_returns_the_hand_derived_rows(warehouse: Path, name: str) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.sql(QUERY_TEXT[name], params=PARAMS.get(name, {})).fetchall()
    finally:
        con.close()
    expected = EXPECTED[name]
    assert len(rows) == len(expected), rows
    for got, want in zip(rows, expected, strict=True):
        assert len(got) == len(want) and all(map(_same, got, want)), (got, want)
