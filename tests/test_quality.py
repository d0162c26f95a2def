"""The §11 quality gate: each check fails on a crafted frame, and a warning never blocks.

Every test starts from the engine's own tables for the hand-made portfolio (tests/frames.py:
five customers in each behavioural segment), on which the gate passes, breaks ONE thing and
runs the whole gate (`run_checks`, the entry point the pipeline and `segengine check` use), so a
check dropped from the gate fails here, not only a check function that nobody calls.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from tests.frames import AS_OF, compute, portfolio, write_lake

from segengine.config import QualityConfig, SegmentsConfig, load_settings
from segengine.lake.schemas import TRANSACTIONS
from segengine.run.pipeline import run_pipeline
from segengine.run.quality import (
    CheckResult,
    duplicated_rows,
    errors,
    independent_recomputation,
    run_checks,
)

Tables = dict[str, pl.DataFrame]


@pytest.fixture(scope="module")
def base() -> tuple[Tables, pl.Series, pl.DataFrame]:
    rows, customers = portfolio()
    tables = compute(rows, customers=customers)
    lake = pl.DataFrame(rows, schema=TRANSACTIONS, orient="row").lazy()
    population, recomputed = independent_recomputation(lake, 1000, as_of=AS_OF)
    return tables, population, recomputed


def gate(base: tuple[Tables, pl.Series, pl.DataFrame], changed: Tables | None = None, *,
         population: pl.Series | None = None) -> list[CheckResult]:
    tables, pop, recomputed = base
    return run_checks({**tables, **(changed or {})},
                      population=pop if population is None else population,
                      recomputed=recomputed, segments=SegmentsConfig(), config=QualityConfig())


def failed(results: list[CheckResult]) -> dict[str, CheckResult]:
    """Failed error-level checks by name."""
    return {r.name: r for r in errors(results)}


def one(results: list[CheckResult], fragment: str) -> CheckResult:
    """The single failed error-level check whose name contains the fragment (and no other)."""
    bad = failed(results)
    assert len(bad) == 1, f"expected exactly one failed check, got {list(bad)}"
    (name, result), = bad.items()
    assert fragment in name, name
    return result


def set_value(frame: pl.DataFrame, customer_id: str, column: str, value: object) -> pl.DataFrame:
    """The frame with one customer's column replaced (keeping the column's type)."""
    return frame.with_columns(
        pl.when(pl.col("customer_id") == customer_id).then(pl.lit(value))
        .otherwise(pl.col(column)).cast(frame.schema[column]).alias(column))


def test_the_engine_output_passes_every_check(base: tuple[Tables, pl.Series, pl.DataFrame]
                                              ) -> None:
    results = gate(base)
    assert failed(results) == {}
    names = " | ".join(r.name for r in results)
    for expected in ("unique", "not null", "accepted values", "has a segment",
                     "segment rules hold", "reconcile", "references customer_360_profile",
                     "within 0..100"):
        assert expected in names, f"the gate has no {expected!r} check"


@pytest.mark.parametrize("table", ["customer_segments", "metric_customer_ltv", "customer_rfm",
                                   "customer_clusters", "customer_360_profile"])
def test_a_duplicate_customer_fails_the_unique_key_check(
        base: tuple[Tables, pl.Series, pl.DataFrame], table: str) -> None:
    frame = base[0][table]
    doubled = pl.concat([frame, frame.filter(pl.col("customer_id") == "S3")])
    results = gate(base, {table: doubled})
    result = failed(results)[f"{table}: customer_id unique"]
    assert (result.failing, result.examples) == (2, ["S3", "S3"])


def test_a_duplicate_customer_month_fails_the_mom_key_check(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    mom = base[0]["metric_mom_spend_change"]
    doubled = pl.concat([mom, mom.filter((pl.col("customer_id") == "B1")
                                         & (pl.col("month") == date(2025, 10, 1)))])
    result = one(gate(base, {"metric_mom_spend_change": doubled}), "customer_id+month unique")
    assert result.failing == 2


def test_duplicated_rows_are_every_row_of_a_repeated_key_in_frame_order() -> None:
    frame = pl.DataFrame({"c": ["a", "b", "a", None, "b", None, "a"],
                          "m": [1, 1, 2, 5, 1, 5, 1], "row": range(7)})
    # (a, 1) twice, (b, 1) twice, (None, 5) twice; (a, 2) once: "a" alone repeats, not its key
    assert duplicated_rows(frame, ["c", "m"]).get_column("row").to_list() == [0, 1, 3, 4, 5, 6]
    assert duplicated_rows(frame, ["row"]).height == 0


def test_a_null_key_fails_the_not_null_check(base: tuple[Tables, pl.Series, pl.DataFrame]
                                             ) -> None:
    ltv = set_value(base[0]["metric_avg_transaction_value"], "G2", "customer_id", None)
    results = failed(gate(base, {"metric_avg_transaction_value": ltv}))
    assert results["metric_avg_transaction_value: customer_id not null"].failing == 1


def test_a_null_dim_customer_key_fails(base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    dim = base[0]["dim_customer"]
    dim = dim.with_columns(pl.when(pl.col("customer_id") == "H0").then(None)
                           .otherwise(pl.col("customer_key")).alias("customer_key"))
    result = one(gate(base, {"dim_customer": dim}), "dim_customer: customer_key not null")
    assert result.failing == 1


@pytest.mark.parametrize(("table", "column", "value"), [
    ("customer_segments", "customer_segment", "Whales"),
    ("metric_avg_transaction_value", "spending_consistency", "Erratic"),
    ("customer_360_profile", "recency_status", None),  # NULL is not an accepted value here
    ("customer_360_profile", "churn_risk_category", "Very High Risk"),
    ("customer_rfm", "segment", "Sleeping Beauties"),
    ("customer_rfm", "r_score", 6),
])
def test_a_value_outside_the_accepted_list_fails(base: tuple[Tables, pl.Series, pl.DataFrame],
                                                 table: str, column: str, value: object) -> None:
    changed = set_value(base[0][table], "B4", column, value)
    extra = {}
    if table == "customer_segments":  # keep 360 consistent so only the checked column differs
        extra["customer_360_profile"] = set_value(base[0]["customer_360_profile"], "B4", column,
                                                  value)
    results = failed(gate(base, {table: changed, **extra}))
    result = results[f"{table}.{column} accepted values"]
    assert result.failing == 1 and result.examples == [value]


def test_a_null_mom_trend_is_accepted(base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    mom = base[0]["metric_mom_spend_change"]
    assert mom["mom_trend_category"].null_count() > 0  # first months have no prior spend
    assert not [r for r in failed(gate(base)) if "mom_trend_category" in r]


def test_a_customer_without_a_segment_fails_the_population_check(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    tables = {t: base[0][t].filter(pl.col("customer_id") != "D2")
              for t in ("customer_segments", "customer_360_profile")}
    results = failed(gate(base, tables))
    missing = results["every customer with an approved transaction has a segment"]
    assert (missing.failing, missing.examples) == (1, ["D2"])


def test_a_segmented_customer_outside_the_population_fails(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    population = base[1].filter(base[1] != "S4")
    result = one(gate(base, population=population), "all have an approved transaction")
    assert result.examples == ["S4"]


@pytest.mark.parametrize(("customer_id", "wrong"), [
    ("S0", "Declining"),             # the rule does not hold: S0 grew by 100%
    ("D0", "Stable Mid-Spenders"),   # an earlier rule (Declining) matches
    ("H1", "Budget-Conscious"),      # spends 8,000 a month
])
def test_a_row_whose_segment_rule_does_not_hold_fails(
        base: tuple[Tables, pl.Series, pl.DataFrame], customer_id: str, wrong: str) -> None:
    segments = set_value(base[0]["customer_segments"], customer_id, "customer_segment", wrong)
    result = one(gate(base, {"customer_segments": segments}), "segment rules hold")
    assert (result.failing, result.examples) == (1, [customer_id])


@pytest.mark.parametrize(("column", "value"), [
    ("spend_last_90_days", Decimal("24000.01")),  # one cent off
    ("spend_prior_90_days", Decimal("0.01")),
    ("lifetime_value", Decimal("24499.99")),
    ("total_transactions", 4),
])
def test_a_window_sum_off_by_a_cent_fails_reconciliation(
        base: tuple[Tables, pl.Series, pl.DataFrame], column: str, value: object) -> None:
    segments = set_value(base[0]["customer_segments"], "H2", column, value)
    results = failed(gate(base, {"customer_segments": segments}))
    result = next(r for name, r in results.items() if "reconcile" in name)
    assert (result.failing, result.examples) == (1, ["H2"])


def test_reconciliation_compares_with_the_independent_recomputation(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    tables, population, recomputed = base
    assert recomputed.height == 25  # the sample covers the whole tiny portfolio
    wrong = recomputed.with_columns(pl.col("lifetime_value") + 1)
    results = run_checks(tables, population=population, recomputed=wrong,
                         segments=SegmentsConfig(), config=QualityConfig())
    assert one(results, "reconcile").failing == 25


@pytest.mark.parametrize("table", ["metric_customer_ltv", "customer_rfm", "customer_clusters",
                                   "metric_mom_spend_change"])
def test_an_orphan_row_fails_referential_integrity(
        base: tuple[Tables, pl.Series, pl.DataFrame], table: str) -> None:
    frame = base[0][table]
    orphan = frame.head(1).with_columns(pl.lit("GHOST").alias("customer_id"))
    results = failed(gate(base, {table: pl.concat([frame, orphan])}))
    result = results[f"{table}.customer_id references customer_360_profile"]
    assert (result.failing, result.examples) == (1, ["GHOST"])


def test_a_profile_missing_a_segmented_customer_fails_integrity(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    profile = base[0]["customer_360_profile"].filter(pl.col("customer_id") != "G4")
    results = failed(gate(base, {"customer_360_profile": profile}))
    assert results["customer_360_profile row count equals customer_segments"].failing == 1
    assert any("references customer_360_profile" in name for name in results)


def test_a_profile_customer_without_a_segment_fails_integrity(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    profile = base[0]["customer_360_profile"]
    ghost = profile.head(1).with_columns(pl.lit("GHOST").alias("customer_id"))
    results = failed(gate(base, {"customer_360_profile": pl.concat([profile, ghost])}))
    assert results["customer_360_profile matches customer_segments"].examples == ["GHOST"]


@pytest.mark.parametrize(("table", "column", "value"), [
    ("customer_segments", "travel_spend_pct", Decimal("100.01")),
    ("customer_segments", "necessities_spend_pct", Decimal("-0.01")),
    ("customer_360_profile", "decline_rate_pct", Decimal("100.01")),
    ("customer_360_profile", "churn_risk_score", 100.5),
    ("customer_360_profile", "churn_risk_score", -1.0),
])
def test_a_percentage_outside_0_to_100_fails(base: tuple[Tables, pl.Series, pl.DataFrame],
                                             table: str, column: str, value: object) -> None:
    frame = set_value(base[0][table], "S1", column, value)
    results = failed(gate(base, {table: frame}))
    result = results[f"{table}.{column} within 0..100"]
    assert (result.failing, result.examples) == (1, ["S1"])


def test_percentages_on_the_bounds_and_null_pass(base: tuple[Tables, pl.Series, pl.DataFrame]
                                                 ) -> None:
    seg = set_value(base[0]["customer_segments"], "H0", "travel_spend_pct", Decimal("100.00"))
    seg = set_value(seg, "H1", "necessities_spend_pct", None)
    prof = set_value(base[0]["customer_360_profile"], "H0", "churn_risk_score", 0.0)
    results = gate(base, {"customer_segments": seg, "customer_360_profile": prof})
    assert not [n for n in failed(results) if "0..100" in n]


def test_a_small_segment_warns_without_failing_the_gate(
        base: tuple[Tables, pl.Series, pl.DataFrame]) -> None:
    tables, population, _ = base
    keep = ~pl.col("customer_id").is_in(["G1", "G2", "G3", "G4"])  # New & Growing: 1 of 21
    small = {t: tables[t].filter(keep) for t in ("customer_segments", "customer_360_profile",
                                                   "metric_customer_ltv",
                                                   "metric_avg_transaction_value", "customer_rfm",
                                                   "customer_clusters", "metric_mom_spend_change")}
    results = run_checks({**tables, **small}, population=population.filter(
        ~population.is_in(["G1", "G2", "G3", "G4"])), recomputed=None,
        segments=SegmentsConfig(), config=QualityConfig())
    warned = [r for r in results if not r.passed]
    assert [(r.level, r.name) for r in warned] == [
        ("warning", "segment New & Growing holds 4.8% of customers (warn under 5%)")]
    assert errors(results) == []


def test_a_run_with_a_small_segment_publishes_and_reports_the_warning(tmp_path: Path) -> None:
    rows, customers = portfolio()
    rows = [r for r in rows if r[1] not in {"G1", "G2", "G3", "G4"}]
    root = write_lake(tmp_path / "data", rows, customers)
    said: list[str] = []
    result = run_pipeline(load_settings({"paths.data_dir": str(root)}, environ={}),
                          log=said.append)
    assert result.manifest_path.is_file() and (root / "warehouse.duckdb").is_file()
    assert any("warning" in line and "New & Growing holds 4.8%" in line for line in said)
    assert result.row_counts["customer_segments"] == 21


def test_an_as_of_window_boundary_is_recomputed_independently() -> None:
    """The recomputation's windows are the §4 ones: day -90 is last-90, day -91 is prior."""
    d = AS_OF - timedelta(days=90)
    rows = pl.DataFrame([("T1", "A", d, Decimal("1.00"), None, None, None, "approved"),
                         ("T2", "A", d - timedelta(days=1), Decimal("2.00"), None, None, None,
                          "approved"),
                         ("T3", "A", AS_OF - timedelta(days=180), Decimal("4.00"), None, None,
                          None, "approved"),
                         ("T4", "A", AS_OF - timedelta(days=181), Decimal("8.00"), None, None,
                          None, "approved"),
                         ("T5", "A", AS_OF, Decimal("16.00"), None, None, None, "declined")],
                        schema=TRANSACTIONS, orient="row")
    population, recomputed = independent_recomputation(rows.lazy(), 10, as_of=AS_OF)
    assert population.to_list() == ["A"]
    assert recomputed.row(0, named=True) == {
        "customer_id": "A", "spend_last_90_days": 1.0, "spend_prior_90_days": 6.0,
        "lifetime_value": 15.0, "total_transactions": 4}
