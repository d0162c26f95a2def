"""`segengine calibrate` (§5.9): thresholds from the portfolio's own spending, shares, --write."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from tests.frames import AS_OF, portfolio, write_lake

from segengine.config import SegmentsConfig, load_settings
from segengine.errors import DataError
from segengine.models.calibrate import (
    BLOCK_END,
    BLOCK_START,
    propose_thresholds,
    round_2_significant,
    segment_shares,
    toml_block,
    with_block,
)
from segengine.run.calibration import calibrate


def frame(last90: list[str], prior90: list[str], travel: list[float | None] | None = None,
          necessities: list[float | None] | None = None,
          tenure: list[int] | None = None) -> pl.DataFrame:
    n = len(last90)
    return pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "customer_segment": ["Stable Mid-Spenders"] * n,
        "spend_last_90_days": [Decimal(v) for v in last90],
        "spend_prior_90_days": [Decimal(v) for v in prior90],
        "travel_spend_pct": travel or [None] * n,
        "necessities_spend_pct": necessities or [None] * n,
        "tenure_months": tenure or [24] * n,
        "spend_change_pct": [None] * n,
    }, schema_overrides={"travel_spend_pct": pl.Float64, "necessities_spend_pct": pl.Float64,
                         "spend_change_pct": pl.Float64})


@pytest.mark.parametrize(("value", "rounded"), [(12.6567, 13.0), (4989.96, 5000.0),
                                                (1499.17, 1500.0), (0.0123, 0.012), (0, 0.0)])
def test_round_to_two_significant_digits(value: float, rounded: float) -> None:
    assert round_2_significant(value) == rounded


def test_money_thresholds_keep_their_reference_percentile() -> None:
    # active monthly spend 1..101 (spend 3..303, step 3): the 86.33th percentile (linear) is
    # 1 + 0.8633 * 100 = 87.33 -> 87; the 52.13th is 53.13 -> 53. Prior spend 1..101: the
    # 26.66th percentile is 27.66 -> 28. Customers without spend are not in the distributions.
    last = [str(3 * i) for i in range(1, 102)] + ["0"] * 50
    prior = [str(i) for i in range(1, 102)] + ["0"] * 50
    got = propose_thresholds(frame(last, prior), current=SegmentsConfig())
    assert got.thresholds == replace(SegmentsConfig(), hvt_min_avg_monthly_spend=87.0,
                                     budget_max_avg_monthly_spend=53.0,
                                     declining_min_prior_spend=28.0)


def test_nobody_with_spend_keeps_the_current_thresholds() -> None:
    got = propose_thresholds(frame(["0", "0"], ["0", "0"]), current=SegmentsConfig())
    assert got.thresholds == SegmentsConfig()


def test_segments_no_money_threshold_can_open_are_named_with_the_reason() -> None:
    got = propose_thresholds(frame(["30"], ["30"]), current=SegmentsConfig())
    assert set(got.notes) == {"High-Value Travelers", "Budget-Conscious", "New & Growing",
                              "Declining"}
    assert "travel_spend_pct >= 25" in got.notes["High-Value Travelers"]
    able = frame(["30"], ["30"], travel=[30.0], necessities=[70.0], tenure=[2])
    assert set(propose_thresholds(able, current=SegmentsConfig()).notes) == {"Declining"}


def test_missing_columns_name_them() -> None:
    with pytest.raises(DataError, match="spend_prior_90_days"):
        propose_thresholds(pl.DataFrame({"customer_id": ["a"]}), current=SegmentsConfig())


def test_shares_list_all_five_segments_current_and_proposed() -> None:
    current = pl.DataFrame({"customer_segment": ["Stable Mid-Spenders"] * 4})
    proposed = pl.DataFrame({"customer_segment": ["Declining", "Stable Mid-Spenders",
                                                  "Stable Mid-Spenders", "Stable Mid-Spenders"]})
    got = segment_shares(current, proposed)
    assert got["customer_segment"].to_list()[1] == "Declining"
    assert got.row(1) == ("Declining", 0, 0.0, 1, 25.0)
    assert got.row(4) == ("Stable Mid-Spenders", 4, 100.0, 3, 75.0)


def test_block_is_commented_and_replaced_not_duplicated() -> None:
    proposal = propose_thresholds(frame(["30"], ["30"]), current=SegmentsConfig())
    block = toml_block(proposal, as_of=date(1998, 6, 30), source="cdnow")
    lines = block.splitlines()
    assert lines[0] == BLOCK_START and lines[-1] == BLOCK_END
    assert all(line.startswith("#") for line in lines)
    assert "# hvt_min_avg_monthly_spend = 10" in lines
    text = with_block('[rfm]\ntie_policy = "shared"\n', block)
    assert text.startswith('[rfm]\ntie_policy = "shared"\n\n' + BLOCK_START)
    again = with_block(text + "[clusters]\nk = 3\n", block.replace("cdnow", "other"))
    assert again.count(BLOCK_START) == 1 and "other" in again and "cdnow" not in again
    assert again.endswith("[clusters]\nk = 3\n")


def test_calibrate_on_a_small_lake_runs_the_sql_model_twice(tmp_path: Path) -> None:
    root = write_lake(tmp_path / "data", *portfolio())
    result = calibrate(load_settings({"paths.data_dir": str(root)}, environ={}), as_of=AS_OF)
    assert result.as_of == AS_OF
    shares = dict(zip(result.shares["customer_segment"], result.shares["customers_current"],
                      strict=True))
    assert shares == {"High-Value Travelers": 5, "Declining": 5, "New & Growing": 5,
                      "Budget-Conscious": 5, "Stable Mid-Spenders": 5}
    assert result.shares["customers_proposed"].sum() == 25
