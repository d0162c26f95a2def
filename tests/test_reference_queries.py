"""Every example query of the reference guides that reads our tables runs against the warehouse.

The guides live outside the repository (../shared/reference, or $SEGENGINE_REFERENCE_DIR): without
them these tests SKIP with the reason, and tests/test_reference_style_queries.py covers the same
contract with our own queries in the guides' style. CI sets REQUIRE_SHARED_REFERENCE=1, which
turns a missing folder into a failure, so CI always runs these.

Adaptations (only where the guide needs something segengine does not name the same way):
- the migration example reads `customer_segments_snapshot_2024_10` (a manual monthly snapshot);
  it runs against `customer_segments_history`, segengine's snapshot table (table name only);
- the customer-service lookup binds `:customer_id`, a client placeholder DuckDB spells
  `$customer_id`;
- `CREATE TABLE customer_segments_snapshot_2024_11 AS ...` runs on a copy of the warehouse.
Fragments that are not statements (formula snippets, CASE excerpts) and Snowflake TASK DDL are
skipped. Each statement's row count on the hand-made portfolio (tests/frames.py: five customers
in each behavioural segment) is pinned below, so a query that silently returns nothing fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

REFERENCE = Path(os.environ.get("SEGENGINE_REFERENCE_DIR")
                 or Path(__file__).resolve().parents[2] / "shared" / "reference")
GUIDES = ("segmentation_guide.md", "aggregate_marts_guide.md")
TABLE_RENAMES = {"customer_segments_snapshot_2024_10": "customer_segments_history"}
FOUND = all((REFERENCE / g).is_file() for g in GUIDES)
if not FOUND and os.environ.get("REQUIRE_SHARED_REFERENCE"):
    raise RuntimeError(f"REQUIRE_SHARED_REFERENCE is set but the reference guides are not in "
                       f"{REFERENCE}; put shared/ beside the repository")
pytestmark = pytest.mark.skipif(
    not FOUND, reason=f"reference guides not found in {REFERENCE} (they live outside the "
    "repository); tests/test_reference_style_queries.py covers the same contract")

# Rows each statement returns on tests.frames.portfolio(), in guide order; hand-derived: five
# customers per segment, LTVs H 24,500 / D 4,500 / G 1,200 / B 270 / S 2,800, nobody inactive,
# no churn score (too few customers), one as-of date in the history.
EXPECTED_ROWS = [
    5, 5, 5, 5, 5,  # one segment each: its five customers
    5,              # segment summary: five segments
    5, 5,           # Declining prioritised, New & Growing projected value
    0,              # migration: one as-of date only, so nobody moved
    None,           # CREATE TABLE snapshot (checked separately: 25 rows)
    5,              # High-Value Travelers with avg_monthly_spend >= 7,500 (8,000)
    0, 0,           # Declining with LTV >= 50,000; New & Growing with avg >= 3,000
    25, 5, 2,       # top LTV; LTV by segment; tiers <$10K (20) and $10K-$50K (5)
    2,              # latest-month MoM by segment: only H and B spent in September too
    0, 0,           # last calendar month of the real clock; customer CUST00000001
    25, 5, 2,       # top ATV; segment x consistency; Consistent (B, S) vs Variable
    0,              # 360 lookup of CUST00000001
    5, 5,           # executive dashboard; premium travelers
    5,              # Declining or inactive: the five D customers (nobody is inactive)
    0, 5, 5,        # retention with LTV >= 50,000; onboarding (G); premium (H)
    1, 5, 5,        # totals; customers per segment; retention-eligible (D)
    1,              # :customer_id lookup of H0
]


def _statements() -> list[tuple[str, str]]:
    out = []
    for guide in GUIDES if FOUND else ():
        text = (REFERENCE / guide).read_text()
        for block in re.findall(r"```sql\n(.*?)```", text, re.S):
            for stmt in (s.strip() for s in block.split(";")):
                code = re.sub(r"--[^\n]*", "", stmt).strip()
                if re.match(r"(SELECT|WITH|CREATE TABLE)\b", code, re.I):
                    out.append((guide, stmt))
    return out


STATEMENTS = _statements()


@pytest.fixture(scope="module")
def warehouse(published_portfolio: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("ref") / "copy.duckdb"
    shutil.copy(published_portfolio / "warehouse.duckdb", copy)
    return copy


def test_the_guides_are_found_and_every_query_has_a_pinned_row_count() -> None:
    assert len(STATEMENTS) == len(EXPECTED_ROWS), (
        "the guides' statements changed: derive the new row counts in EXPECTED_ROWS by hand")


@pytest.mark.parametrize(("index", "guide", "statement"),
                         [(i, g, s) for i, (g, s) in enumerate(STATEMENTS)],
                         ids=[f"{g.split('_')[0]}-{i}" for i, (g, _) in enumerate(STATEMENTS)])
def test_reference_query_runs(warehouse: Path, index: int, guide: str, statement: str) -> None:
    sql = statement
    for old, new in TABLE_RENAMES.items():
        sql = sql.replace(old, new)
    params = {}
    if ":customer_id" in sql:
        sql, params = sql.replace(":customer_id", "$customer_id"), {"customer_id": "H0"}
    con = duckdb.connect(str(warehouse))
    try:
        if re.sub(r"--[^\n]*", "", sql).lstrip().upper().startswith("CREATE"):
            con.execute(sql)
            table = re.search(r"CREATE TABLE (\w+)", sql, re.I).group(1)  # type: ignore[union-attr]
            assert con.sql(f"SELECT COUNT(*) FROM {table}").fetchall() == [(25,)]
        else:
            rows = con.sql(sql, params=params).fetchall()
            assert len(rows) == EXPECTED_ROWS[index], f"{guide} statement {index}:\n{statement}"
    finally:
        con.close()


def test_campaign_query_with_dim_customer_returns_the_travelers(warehouse: Path) -> None:
    sql = next(s for _, s in STATEMENTS if "dim_customer" in s and "High-Value" in s)
    con = duckdb.connect(str(warehouse), read_only=True)
    ids = sorted(r[0] for r in con.sql(sql).fetchall())
    con.close()
    assert ids == ["H0", "H1", "H2", "H3", "H4"]
