"""§5.9 on the default synthetic portfolio: labels agree with plain language and each other.

The suite runs a 1,000-customer portfolio (`generate --customers 1000`, default seed and dates);
tests/test_e2e_default.py runs the same checks on the full 50,000 (slow). CDNOW's are in
tests/test_cdnow_end_to_end.py.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from segengine.cli import cli
from segengine.run.quality import check_labels


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    data = tmp_path_factory.mktemp("labels") / "data"
    runner = CliRunner()
    for args in (["generate", "--customers", "1000"], ["run"]):
        result = runner.invoke(cli, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, result.output
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("SELECT * FROM customer_360_profile").pl()
    finally:
        con.close()


def test_every_label_check_holds_on_the_default_portfolio(profile: pl.DataFrame) -> None:
    results = check_labels({"customer_360_profile": profile})
    assert len(results) == 8  # 4 within-gap labels, RFM Champions/Loyal/Lost, churn
    assert [r.name for r in results if not r.passed] == []


def test_customers_who_bought_today_are_never_at_risk(profile: pl.DataFrame) -> None:
    today = profile.filter(pl.col("days_since_last_transaction") == 0)
    assert today.height > 0.3 * profile.height  # card customers: a third and more buy daily
    assert set(today["r_score"]) == {5}
    assert not set(today["rfm_segment"]) & {"At Risk", "About to Sleep", "Hibernating", "Lost",
                                             "Can't Lose Them"}
    assert set(today["lifecycle_stage"]) <= {"New", "Active", "Cooling"}


def test_no_cluster_name_covers_a_majority_with_a_promise(profile: pl.DataFrame) -> None:
    shares = profile.group_by("cluster_name").len().with_columns(
        share=pl.col("len") / profile.height)
    for name, share in shares.select("cluster_name", "share").iter_rows():
        if name == "Champions":
            assert share <= 0.35
        if share > 0.5:
            assert name in ("Core Regulars", "Inactive Majority", "Mainstream Customers")
